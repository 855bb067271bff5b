"""Frontiers: the queue of requests, in memory, in SQLite or in Redis."""

from ._base import Frontier, FrontierCounts, Outcome

__all__ = ["Frontier", "FrontierCounts", "Outcome"]
