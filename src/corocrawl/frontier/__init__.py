"""Frontiers: the queue of requests, in memory, in SQLite or in Redis."""

from ._base import Frontier, FrontierCounts, Outcome
from ._memory import MemoryFrontier

__all__ = ["Frontier", "FrontierCounts", "MemoryFrontier", "Outcome"]
