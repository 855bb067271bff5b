"""``corocrawl crawl`` shows live progress and writes ``--log-json``, as douban does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from recording_server import RecordingServer


def test_crawl_shows_progress_and_writes_the_event_log(
    slow_origin: RecordingServer, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    done = subprocess.run(
        [sys.executable, "-m", "corocrawl", "crawl", f"{slow_origin.url}/", "--db",
         str(tmp_path / "c.db"), "--per-host", "1", "--no-autothrottle",
         "--log-json", str(events)],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 0, done.stderr
    # Four answers 0.8 s apart (robots.txt, /, /b/1, /b/2): progress lines every 2 s.
    progress = [line for line in done.stderr.splitlines() if "pages " in line]
    assert progress, done.stderr
    assert "pages 3" in progress[-1]
    records = [json.loads(line) for line in events.read_text("utf-8").splitlines()]
    kinds = [r["event"] for r in records]
    assert kinds[0] == "start" and kinds[-1] == "finish"
    pages = {r["url"] for r in records if r["event"] == "page"}
    assert pages == {f"{slow_origin.url}/", f"{slow_origin.url}/b/1", f"{slow_origin.url}/b/2"}
    assert records[-1]["pages"] == 3


def test_log_json_in_a_missing_folder_is_refused_before_crawling(
    slow_origin: RecordingServer, tmp_path: Path, no_proxy_env: None
) -> None:
    from corocrawl.cli import main

    events = tmp_path / "sub" / "events.jsonl"
    argv = ["crawl", f"{slow_origin.url}/", "--db", str(tmp_path / "c.db"), "--quiet",
            "--max-pages", "1", "--log-json", str(events)]
    assert main(argv) == 2  # the folder is missing: a usage error before crawling
    assert slow_origin.seen == []
    events.parent.mkdir()
    assert main(argv) == 0
    assert events.read_text("utf-8").count('"event":"finish"') == 1
