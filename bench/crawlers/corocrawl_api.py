"""corocrawl's douban spider through the library API, items in memory, no database.

What ``corocrawl douban`` does minus the SQLite store: the engine's own cost.
``--processes 2`` shards the list pages over two copies of this script by hand,
which is what a ``--processes`` option could reach.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import list_urls, parse_args, run_shards

try:
    from corocrawl import CrawlConfig
    from corocrawl.spiders.douban import BROWSER_USER_AGENT, build_crawler
except ImportError:  # run from a checkout: the harness also sets PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from corocrawl import CrawlConfig
    from corocrawl.spiders.douban import BROWSER_USER_AGENT, build_crawler


def main() -> None:
    args = parse_args(__doc__)
    if args.processes > 1:
        run_shards(args, __file__)
        return
    config = CrawlConfig(
        concurrency=args.concurrency, per_host=args.concurrency, user_agent=BROWSER_USER_AGENT
    )
    crawler = build_crawler(list_urls(args), config=config, polite_to_douban=False)
    stats = crawler.run(handle_signals=False)
    import orjson

    with args.out.open("wb") as f:
        for item in crawler.items:
            f.write(orjson.dumps(item) + b"\n")
    if stats.error_count:
        sys.exit(f"{stats.error_count} errors, e.g. {stats.errors[:3]}")


if __name__ == "__main__":
    main()
