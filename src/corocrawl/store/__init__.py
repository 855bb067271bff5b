"""Crawl state on disk: the SQLite frontier and item sink, and read-only queries.

    store = SqliteStore("corocrawl.db", item_key="subject_id")
    crawler = Crawler(frontier=store.frontier, sinks=[store.sink])
"""

from ._errors import BadDatabase
from ._reader import FailureGroup, StoreReader, StoreStatus
from ._store import DEFAULT_DB, SqliteFrontier, SqliteSink, SqliteStore

__all__ = [
    "DEFAULT_DB",
    "BadDatabase",
    "FailureGroup",
    "SqliteFrontier",
    "SqliteSink",
    "SqliteStore",
    "StoreReader",
    "StoreStatus",
]
