from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from rich.console import Console

from corocrawl._progress import (
    CrawlProgress,
    CrawlSummary,
    EventLog,
    ProgressSnapshot,
    eta_seconds,
    plain_line,
    summary_text,
)


class FakeCrawl:
    """Counters that move like a crawl's; the progress display only reads them."""

    def __init__(self, total: int | None) -> None:
        self.pages = 0
        self.total = total
        self.start = asyncio.get_running_loop().time()

    def snapshot(self) -> ProgressSnapshot:
        elapsed = asyncio.get_running_loop().time() - self.start
        return ProgressSnapshot(
            pages=self.pages, in_flight=3, items=self.pages * 2, errors=1, retries=2,
            elapsed=elapsed, queued=max(0, (self.total or 50) - self.pages), total=self.total,
        )

    async def run(self, pages: int, pause: float) -> None:
        for _ in range(pages):
            self.pages += 1
            await asyncio.sleep(pause)


async def test_plain_mode_writes_periodic_lines_and_a_final_one() -> None:
    crawl = FakeCrawl(total=30)
    out = io.StringIO()
    async with CrawlProgress(crawl.snapshot, mode="plain", stream=out, interval=0.05) as prog:
        await crawl.run(30, 0.01)
    lines = out.getvalue().splitlines()
    assert 3 <= len(lines) == prog.lines <= 20
    assert "done 30/30 · pages 30" in lines[-1] and "ETA 0:00:00" in lines[-1]
    assert "queued" in lines[0] and "in flight 3" in lines[0] and "retries 2" in lines[0]


async def test_auto_mode_is_plain_when_not_a_terminal() -> None:
    crawl = FakeCrawl(total=None)
    out = io.StringIO()
    async with CrawlProgress(crawl.snapshot, stream=out, interval=0.05) as prog:
        await crawl.run(3, 0.03)
    assert prog.mode == "plain"
    assert out.getvalue().count("\n") >= 2 and "ETA" not in out.getvalue()


async def test_plain_mode_is_silent_for_a_crawl_shorter_than_one_interval() -> None:
    crawl = FakeCrawl(total=None)
    out = io.StringIO()
    async with CrawlProgress(crawl.snapshot, stream=out, interval=10):
        await crawl.run(3, 0)
    assert out.getvalue() == ""


async def test_quiet_mode_writes_nothing() -> None:
    crawl = FakeCrawl(total=5)
    out = io.StringIO()
    async with CrawlProgress(crawl.snapshot, mode="quiet", stream=out, interval=0.01):
        await crawl.run(5, 0.01)
    assert out.getvalue() == ""


async def test_rich_mode_on_a_terminal() -> None:
    crawl = FakeCrawl(total=20)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    async with CrawlProgress(crawl.snapshot, console=console, interval=0.02) as prog:
        await crawl.run(20, 0.005)
    assert prog.mode == "rich"
    text = buffer.getvalue()
    assert "crawling" in text and "20/20" in text and "items 40" in text


def test_eta_and_line() -> None:
    snap = ProgressSnapshot(pages=50, in_flight=1, items=0, errors=0, retries=0, elapsed=5.0,
                            queued=None, total=150)
    assert eta_seconds(snap, 10.0) == 10.0
    assert eta_seconds(snap, 0.0) is None
    line = plain_line(snap, 10.0)
    assert line.startswith("[   5.0s] done 50/150 · pages 50 (10.0/s)") and "queued ?" in line
    assert line.endswith("ETA 0:00:10")


SUMMARY = CrawlSummary(
    pages=120,
    items=100,
    retries=7,
    wall_time=2.5,
    statuses={200: 110, 404: 4, 503: 6},
    error_counts={"http_503": 6, "timeout": 3, "callback": 1},
    errors=[
        ("http://127.0.0.1:8080/subject/7/", "http_503", "503 Service Unavailable"),
        ("http://127.0.0.1:8080/subject/9/", "http_503", "503 Service Unavailable"),
        ("http://127.0.0.1:8080/subject/3/", "timeout", "read timed out after 1.0 s"),
    ],
    hosts={"127.0.0.1:8080": (100, 5.0), "img.example:443": (20, 8.0), "fast:80": (5, 0.01)},
    stop_reason="SIGINT received",
)


def test_summary_tables() -> None:
    text = summary_text(SUMMARY, width=140)
    assert "120 pages, 100 items, 10 errors, 7 retries in 2.50 s (48.0 pages/s)" in text
    assert "stopped early: SIGINT received" in text
    assert "200 OK" in text and "404 Not Found" in text and "503 Service Unavailable" in text
    # one example URL per kind, most frequent kind first
    assert text.count("/subject/7/") == 1 and "/subject/9/" not in text
    assert text.index("http_503") < text.index("timeout") < text.index("callback")
    # slowest hosts by mean time
    assert text.index("img.example:443") < text.index("127.0.0.1:8080 ") < text.index("fast:80")
    assert "400 ms" in text and "50 ms" in text


def test_event_log_writes_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        log.start(concurrency=4, start_urls=["http://127.0.0.1/"])
        log.page("http://127.0.0.1/a", 200, 0.0123)
        log.retry("http://127.0.0.1/b", 2, 0.5, "HTTP 503")
        log.error("http://127.0.0.1/b", "http_503", "gave up after 3 attempts")
        log.finish(SUMMARY)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "page", "retry", "error", "finish"]
    assert events[1]["status"] == 200 and events[2]["attempt"] == 2
    assert events[-1]["statuses"] == {"200": 110, "404": 4, "503": 6}
    assert all(e["ts"].endswith("+00:00") for e in events)
