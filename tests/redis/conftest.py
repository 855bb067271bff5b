"""The Redis tests: without the redis package they are not collected (loudly).

The redis-server fixtures (``redis_server``, ``redis_url``, ``own_redis_server``)
are in tests/conftest.py, shared with the frontier contract suite and the docs.
"""

from __future__ import annotations

import os

try:
    import redis  # noqa: F401  (the [redis] extra)
except ImportError:  # pragma: no cover - only without the extra
    if os.environ.get("CI", "").lower() == "true":
        raise
    import sys

    # Loud, but not a warning: filterwarnings=error would turn it into a failure.
    print(
        "\n*** SKIPPING REDIS TESTS: the redis package is missing "
        "(pip install 'corocrawl[redis]') ***",
        file=sys.stderr,
    )
    collect_ignore_glob = ["test_*.py"]
