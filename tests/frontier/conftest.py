"""The frontier contract suite runs on memory, SQLite and the session's redis-server.

``redis_url`` (a flushed redis-server shared with tests/redis) is in tests/conftest.py.
"""
