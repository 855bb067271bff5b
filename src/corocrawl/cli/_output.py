"""What the crawling commands print: progress while running, tables at the end."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .._crawler import Crawler
from .._stats import CrawlStats

console = Console(highlight=False)


def run_crawler(crawler: Crawler, *, quiet: bool) -> CrawlStats:
    """Run ``crawler`` to the end (Ctrl-C stops gracefully) and return its stats."""
    return crawler.run()


def _wants(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


def print_movies(items: Sequence[dict[str, Any]]) -> None:
    """The douban items as a table, in release order."""
    table = Table(title=f"{len(items)} upcoming movies", title_justify="left")
    for column in ("name", "date", "genre", "region", "想看", "poster"):
        table.add_column(column, overflow="fold")
    ordered = sorted(items, key=lambda i: (i.get("release_date") or "9999", i.get("name") or ""))
    for item in ordered:
        table.add_row(
            item.get("name") or "",
            item.get("date") or "",
            item.get("genre") or "—",
            item.get("region") or "—",
            _wants(item.get("wants")),
            item.get("poster_url") or "[red]none[/red]",
        )
    console.print(table)


def print_summary(
    stats: CrawlStats,
    *,
    exports: Sequence[Path] = (),
    db: Path | None = None,
    items: int | None = None,
) -> None:
    """One line of figures, where the data went, and the first errors if any."""
    console.print(f"[bold]{stats.summary_line(items)}[/bold]")
    if stats.stop_reason:
        console.print(f"stopped early: {stats.stop_reason}")
    for error in stats.errors[:5]:
        console.print(f"  [red]error[/red] {error}")
    if stats.error_count > 5:
        console.print(f"  … and {stats.error_count - 5} more errors")
    where = [str(db)] if db else []
    where += [str(p) for p in exports]
    if where:
        console.print("saved to " + ", ".join(where))
