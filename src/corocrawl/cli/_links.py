"""``corocrawl links``: the broken links of a stored generic crawl.

Reads the tables ``corocrawl crawl`` writes (``crawl_pages``, ``crawl_links``,
``crawl_redirects``) and lists:

- pages that answered 4xx or 5xx,
- pages that gave no answer (DNS failure, refused or reset connection, timeout,
  redirect loop),
- redirect chains longer than ``--max-redirects`` (default 3) hops,

each with the pages that link to it. Exit code 1 when anything was found, so a
CI job can fail on broken links; 0 when the site is clean.
"""

from __future__ import annotations

import argparse
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .._exceptions import UsageError
from ..store._schema import connect

EXAMPLES = """examples:
  corocrawl crawl https://example.com/ --db site.db && corocrawl links --db site.db
  corocrawl links --db site.db --format json > broken.json
"""


@dataclass(slots=True)
class Finding:
    """One broken link target and the pages linking to it."""

    url: str
    kind: str  # "http_404", "http_500", "connect", "timeout", "redirect_chain", ...
    status: int | None
    detail: str
    linked_from: list[str] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
            "linked_from": self.linked_from,
            "redirects": self.redirects,
        }


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "links",
        help="report broken links (4xx, 5xx, unreachable, long redirect chains) of a crawl",
        description="List the broken links found by 'corocrawl crawl': 4xx and 5xx answers, "
        "DNS and connection failures, timeouts, redirect loops and redirect chains longer "
        "than --max-redirects, each with the pages linking to it. Exit code 1 if any.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default="corocrawl.db", metavar="PATH",
                        help="the SQLite file of the crawl (default corocrawl.db)")
    parser.add_argument("--max-redirects", type=int, default=3, metavar="N",
                        help="report redirect chains with more than N hops (default 3)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people (default), json for programs")
    parser.set_defaults(run=run)


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise UsageError(
            f"no crawl database at {path}: run 'corocrawl crawl URL --db {path}' first"
        )
    db = connect(path, read_only=True)  # also in a read-only directory
    try:
        db.execute("SELECT 1 FROM crawl_pages LIMIT 1")
    except sqlite3.DatabaseError:
        db.close()
        raise UsageError(
            f"{path} holds no generic crawl (no crawl_pages table): "
            f"run 'corocrawl crawl URL --db {path}' first"
        ) from None
    return db


def find_broken(path: Path, *, max_redirects: int = 3) -> list[Finding]:
    """The broken links recorded in the crawl database at ``path``, worst first."""
    with closing(_open(path)) as db:
        findings: list[Finding] = []
        rows = db.execute(
            "SELECT requested_url, url, status, error, referrer FROM crawl_pages "
            "WHERE status >= 400 OR (status IS NULL AND error IS NOT NULL) "
            "ORDER BY status IS NULL, status, requested_url"
        ).fetchall()
        for requested, final, status, error, referrer in rows:
            kind = (error or "").split(":", 1)[0] or (f"http_{status}" if status else "error")
            detail = error or f"HTTP {status}"
            if final != requested:
                detail += f" (after redirects to {final})"
            finding = Finding(requested, kind, status, detail)
            finding.linked_from = _linking(db, requested, referrer)
            findings.append(finding)
        chains = db.execute(
            "SELECT requested_url, COUNT(*) - 1 AS hops FROM crawl_redirects "
            "GROUP BY requested_url HAVING hops > ? ORDER BY hops DESC, requested_url",
            (max_redirects,),
        ).fetchall()
        for requested, hops in chains:
            hop_urls = [
                url
                for (url,) in db.execute(
                    "SELECT url FROM crawl_redirects WHERE requested_url = ? ORDER BY hop",
                    (requested,),
                )
            ]
            referrer_row = db.execute(
                "SELECT referrer FROM crawl_pages WHERE requested_url = ?", (requested,)
            ).fetchone()
            finding = Finding(
                requested, "redirect_chain", None,
                f"{hops} redirects before {hop_urls[-1]}", redirects=hop_urls,
            )
            finding.linked_from = _linking(db, requested, referrer_row[0] if referrer_row else None)
            findings.append(finding)
    return findings


def _linking(db: sqlite3.Connection, target: str, referrer: str | None) -> list[str]:
    sources = [s for (s,) in db.execute(
        "SELECT source FROM crawl_links WHERE target = ? ORDER BY source", (target,)
    )]
    if referrer and referrer not in sources:
        sources.append(referrer)  # a sitemap or a start URL's referrer: still worth showing
    return sources


def run(args: argparse.Namespace) -> int:
    if args.max_redirects < 0:
        raise UsageError("--max-redirects must be 0 or more")
    findings = find_broken(Path(args.db), max_redirects=args.max_redirects)
    if args.format == "json":
        print(orjson.dumps([f.as_dict() for f in findings], option=orjson.OPT_INDENT_2).decode())
    else:
        print_findings(findings)
    return 1 if findings else 0


def print_findings(findings: list[Finding]) -> None:
    # rich here, not at import: `links --format json` and --help do without it.
    from rich.console import Console

    console = Console(highlight=False)
    if not findings:
        console.print("no broken links found")
        return
    for finding in findings:
        label = str(finding.status) if finding.status else finding.kind
        console.print(f"[red]{label:>14}[/red]  {finding.url}", soft_wrap=True)
        console.print(f"{'':>16}{finding.detail}", soft_wrap=True)
        for source in finding.linked_from[:20]:
            console.print(f"{'':>16}linked from {source}", soft_wrap=True)
        if len(finding.linked_from) > 20:
            console.print(f"{'':>16}… and {len(finding.linked_from) - 20} more pages")
    console.print(f"{len(findings)} broken links")
