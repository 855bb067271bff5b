"""Two ``corocrawl run SPIDER.py --redis`` workers and ``collect``: the exact item set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import corocrawl
from corocrawl.demo import DemoConfig, DemoServerThread, expected_items
from redis_server import run_workers

SRC = Path(corocrawl.__file__).resolve().parents[1]
MOVIES = 150

SPIDER = '''
from dataclasses import dataclass
from corocrawl import Crawler

@dataclass
class Movie:
    subject_id: str
    name: str

crawler = Crawler(user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0", per_host=16)

@crawler.start("http://127.0.0.1:9/cinema/later/beijing/")
async def listing(resp):
    for a in resp.css("#showing-soon .item h3 a"):
        yield resp.follow(a.attrs["href"], detail, meta={"name": a.text(strip=True)})

@crawler.handler
async def detail(resp):
    yield Movie(resp.url.rstrip("/").rsplit("/", 1)[-1], resp.meta["name"])
'''


def corocrawl_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "corocrawl", *args]


def test_two_workers_and_collect_give_the_exact_items(redis_url: str, tmp_path: Path) -> None:
    spider = tmp_path / "spider.py"
    spider.write_text(SPIDER)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    config = DemoConfig(movies=MOVIES, cities=("beijing",), latency=(0.005, 0.02), seed=3)
    with DemoServerThread(config) as replica:
        start = replica.url("/cinema/later/beijing/")
        worker = corocrawl_command("run", str(spider), "--redis", redis_url, "--crawl-name",
                                   "films", "--start-url", start, "-q")
        run_workers([worker] * 2, cwd=tmp_path, env=env)

    out = tmp_path / "films.jsonl"
    collect = subprocess.run(
        corocrawl_command("collect", "--redis", redis_url, "--crawl-name", "films",
                          "--db", str(tmp_path / "films.db"), "-o", str(out)),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert collect.returncode == 0, collect.stderr
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    keyed = {row["subject_id"]: row["name"] for row in rows}
    assert len(keyed) == len(rows) == MOVIES
    assert all(set(row) == {"subject_id", "name"} for row in rows)
    assert keyed == {item["subject_id"]: item["name"] for item in expected_items(config)}

    status = subprocess.run(corocrawl_command("status", "--db", str(tmp_path / "films.db")),
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
