"""A tiny run of the broad-crawl benchmark (``bench/broad``), so the tool does not rot: the
web serves its hosts on loopback and logs them, the runner crawls it with corocrawl and
prints its figures and targets. No timing assertions: speed is the benchmark's business."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from broad import run  # noqa: E402
from broad.web import SEED, SLOW, BroadWeb, WebSpec, ideal_seconds  # noqa: E402


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def test_ideal_follows_the_webs_own_parameters() -> None:
    spec = WebSpec(hosts=4, pages=3, latency=(0.1, 0.1), slow_pages=10, slow_latency=0.5)
    small = [h for h in spec.host_ids if h != SLOW]
    # 12 small pages of 0.1 s over min(64, 2 × 4) = 8 slots; the slow host alone: 10 × 0.5 / 2.
    assert ideal_seconds(spec, small, 64, 2) == pytest.approx(12 * 0.1 / 8)
    assert ideal_seconds(spec, spec.host_ids, 64, 2) == pytest.approx(2.5)
    assert spec.pages_total == 1 + 12 + 10


def test_web_serves_each_host_on_its_own_socket_and_logs_it(tmp_path: Path) -> None:
    spec = WebSpec(hosts=5, pages=3, latency=(0.0, 0.0), crawl_delay=1.0,
                   hosts_per_address=2, hosts_per_shard=3)
    with BroadWeb(spec, tmp_path / "web") as web:
        assert len(web.procs) == 2  # two shards
        assert web.addresses == ["127.0.0.1", "127.1.0.2", "127.1.0.3"]
        seed = _get(web.seed).decode()
        assert all(f"http://{web.netloc[h]}/" in seed for h in spec.host_ids)
        index = _get(f"http://{web.netloc['h4']}/").decode()
        assert 'href="/p/1"' in index and 'href="/p/2"' in index
        assert b"Crawl-delay: 1" in _get(f"http://{web.netloc['h4']}/robots.txt")
        stats = web.stop()
    assert stats[SEED]["paths"] == 1
    assert stats["h4"]["paths"] == 1 and stats["h4"]["robots"] == 1
    assert stats["h0"]["hits"] == 0


def test_runner_crawls_every_scenario_and_prints_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broad.json"
    argv = ["--crawlers", "corocrawl", "--hosts", "5", "--pages", "3", "--slow-pages", "3",
            "--many", "6", "--only", "small,slow,hosts-6-nofile1024", "--json", str(out)]
    assert run.main(argv) == 0
    printed = capsys.readouterr().out
    results = {r["scenario"]: r for r in json.loads(out.read_text())}
    assert set(results) == {"small", "slow", "hosts-6-nofile1024"}
    for result in results.values():
        assert result["pages"] == result["expected"], result
        assert result["peak_rss_mb"] > 0 and result["peak_sockets"] > 0
    assert results["slow"]["small_done"] is not None and results["slow"]["slow_done"] is not None
    assert "| small | corocrawl | 16/16 |" in printed
    assert "Targets (corocrawl):" in printed
    assert "small hosts ≤ 1.5× ideal:" in printed
    assert "6 hosts under ulimit -n 1024 complete: met" in printed


def test_idle_host_growth_leaves_out_what_came_before_the_first_tenth() -> None:
    watch = run.Watch(rss=[(0.0, 50.0), (101.0, 90.0), (500.0, 100.0), (1000.0, 109.0),
                           (1001.0, 108.0)])
    finished = [float(i) for i in range(1, 1001)]  # a host done each second; 10 % at 101 s
    # From 90 MB (10 % done) to the 109 MB peak, over the 900 hosts after them.
    growth = run.idle_host_growth(watch, finished)
    assert growth is not None and abs(growth - 19 * 1024 / 900) < 0.01
    assert run.idle_host_growth(watch, finished[:50]) is None  # too few hosts to say
