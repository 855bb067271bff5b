"""What every benchmark crawler shares: its command line and its output. Standard library only,
because the crawlers run in different virtual environments (Scrapy's, Crawlee's, the lesson's)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

SUBJECT = re.compile(r"/subject/(\d+)/")


def parse_args(doc: str | None) -> argparse.Namespace:
    """``--base URL --lists FILE --out FILE --concurrency N [--processes N]``."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--base", required=True, help="site root, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--lists", type=Path, required=True, help="file of list-page paths (or all paths for raw)"
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file of items")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--shard", default="0/1", help="i/n: crawl every n-th list page from i")
    parser.add_argument("--variant", default="default", help="crawler-specific settings preset")
    return parser.parse_args()


def list_urls(args: argparse.Namespace) -> list[str]:
    """The absolute URLs of this shard's list pages."""
    i, n = (int(x) for x in args.shard.split("/"))
    paths = [p for p in args.lists.read_text(encoding="utf-8").split() if p]
    return [args.base + p for p in paths[i::n]]


def list_item(href: str, name: str, dts: list[str]) -> dict[str, str]:
    """The fields a list page gives for one movie (before the detail page adds the poster)."""
    m = SUBJECT.search(href)
    return {
        "subject_id": m.group(1) if m else "",
        "name": name.strip(),
        "release_date": dts[0].strip() if dts else "",
        "genre": dts[1].strip() if len(dts) > 1 else "",
        "region": dts[2].strip() if len(dts) > 2 else "",
        "wish": dts[3].strip() if len(dts) > 3 else "",
    }


def write_items(path: Path, items: list[dict[str, str]]) -> None:
    """One JSON object per line."""
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False))
            f.write("\n")


def run_shards(args: argparse.Namespace, script: str) -> None:
    """Run ``script`` ``--processes`` times, each on its share of the list pages; join the items."""
    import subprocess
    import sys

    n = args.processes
    outs = [args.out.with_suffix(f".{i}.jsonl") for i in range(n)]
    cmd = [sys.executable, script, "--base", args.base, "--lists", str(args.lists)]
    cmd += ["--concurrency", str(args.concurrency), "--variant", args.variant]
    procs = [
        subprocess.Popen([*cmd, "--out", str(o), "--shard", f"{i}/{n}"]) for i, o in enumerate(outs)
    ]
    codes = [p.wait() for p in procs]
    if any(codes):
        sys.exit(f"a shard failed: exit codes {codes}")
    args.out.write_text("".join(o.read_text(encoding="utf-8") for o in outs), encoding="utf-8")
    for o in outs:
        o.unlink()
