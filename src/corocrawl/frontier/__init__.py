"""Frontiers: the host-aware queue of requests, in memory, in SQLite or in Redis."""

from ._base import UNLIMITED, FixedPacing, Frontier, FrontierCounts, HostPacing, Lease, Outcome
from ._hosts import HostQueues
from ._memory import MemoryFrontier

__all__ = ["UNLIMITED", "FixedPacing", "Frontier", "FrontierCounts", "HostPacing", "HostQueues",
           "Lease", "MemoryFrontier", "Outcome"]
