"""``corocrawl run SPIDER.py`` on a spider file written here, against the replica.

The crawl runs as a real process; SIGKILLs at random moments and a rerun of
the same command must leave exactly the items of an uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import corocrawl
from corocrawl.cli import main
from corocrawl.demo import DemoConfig, DemoServerThread
from corocrawl.sinks._files import EXPORT_FORMATS

SRC = Path(corocrawl.__file__).resolve().parents[1]
MOVIES = 400
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36"

#: A user's spider: dataclass items, a __main__ block `run` must not execute.
SPIDER = '''
from dataclasses import dataclass

from corocrawl import Crawler


@dataclass
class Movie:
    subject_id: str
    name: str
    poster: str | None


crawler = Crawler(concurrency=16, per_host=16, item_key="subject_id",
                  user_agent="{ua}")


@crawler.start("http://127.0.0.1:9/cinema/later/beijing/")
async def listing(resp):
    for a in resp.css("#showing-soon .item h3 a"):
        yield resp.follow(a.attrs["href"], detail, meta={{"name": a.text(strip=True)}})


@crawler.handler
async def detail(resp):
    img = resp.css_first("#mainpic img")
    yield Movie(resp.url.rstrip("/").rsplit("/", 1)[-1], resp.meta["name"],
                img.attrs.get("src") if img else None)


if __name__ == "__main__":
    raise SystemExit("the __main__ block ran")
'''


@pytest.fixture(scope="module")
def replica() -> Iterator[DemoServerThread]:
    config = DemoConfig(movies=MOVIES, cities=("beijing",), latency=(0.005, 0.02), seed=7)
    with DemoServerThread(config) as server:
        yield server


@pytest.fixture
def spider(tmp_path: Path) -> Path:
    path = tmp_path / "movies_spider.py"
    path.write_text(SPIDER.format(ua=BROWSER_UA), "utf-8")
    return path


def run_command(spider: Path, replica: DemoServerThread, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "corocrawl", "run", str(spider), "--db", str(db),
            "--start-url", replica.url("/cinema/later/beijing/"), "-q", *extra]


def start(command: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd, env={**os.environ, "PYTHONPATH": str(SRC)})


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:  # on every exit path: end what we started, by PID
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)


def fetched(server: DemoServerThread) -> int:
    return sum(server.stats.snapshot(include_log=False)["fetches"].values())


def read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    keyed = {row["subject_id"]: row for row in rows}
    assert len(keyed) == len(rows), "duplicate rows"
    return keyed


def test_kill9_and_rerun_gives_the_exact_items(
    replica: DemoServerThread, spider: Path, tmp_path: Path,
    processes: list[subprocess.Popen[str]],
) -> None:
    clean_out = tmp_path / "clean.jsonl"
    proc = start(run_command(spider, replica, tmp_path / "clean.db", "-o", str(clean_out)),
                 tmp_path)
    processes.append(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "__main__ block ran" not in err
    clean = read_jsonl(clean_out)
    assert len(clean) == MOVIES and all(m["poster"] for m in clean.values())

    db = tmp_path / "killed.db"
    rng = random.Random(10)
    for moment in sorted(rng.sample(range(30, MOVIES - 50), 3)):
        replica.stats.reset()
        proc = start(run_command(spider, replica, db), tmp_path)
        processes.append(proc)
        deadline = time.monotonic() + 60
        while fetched(replica) < moment // 3 and proc.poll() is None:
            assert time.monotonic() < deadline, "the crawl made no progress"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL

    outputs = [tmp_path / "out.jsonl", tmp_path / "out.csv"]
    if ".json" in EXPORT_FORMATS:  # the JSON-array export lands separately
        outputs.append(tmp_path / "out.json")
    extra = [arg for out in outputs for arg in ("-o", str(out))]
    proc = start(run_command(spider, replica, db, *extra), tmp_path)
    processes.append(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert read_jsonl(outputs[0]) == clean

    # The exports agree, with the dataclass's fields as columns.
    with open(outputs[1], encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["subject_id", "name", "poster"]
    assert {r["subject_id"]: r for r in rows} == clean
    if len(outputs) == 3:
        array = json.loads(outputs[2].read_text("utf-8"))
        assert {r["subject_id"]: r for r in array} == clean

    # The store commands work on any spider's database.
    def corocrawl(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "corocrawl", *args], capture_output=True,
                              text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(SRC)},
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    status = {line.split()[0]: line.split()[-1]
              for line in corocrawl("status", "--db", str(db)).splitlines()[1:6]}
    assert status["items"] == str(MOVIES) and status["pending"] == "0"
    corocrawl("export", "--db", str(db), "-o", str(tmp_path / "exported.jsonl"))
    assert read_jsonl(tmp_path / "exported.jsonl") == clean


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_file_without_a_crawler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.py"
    path.write_text("from corocrawl import Crawler\n\nsettings = {'concurrency': 4}\n")
    assert main(["run", str(path), "--db", str(tmp_path / "x.db")]) == 2
    assert "defines no Crawler at module level" in one_line_error(capsys)


def test_a_file_with_two_crawlers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.py"
    path.write_text("from corocrawl import Crawler\n\nbooks = Crawler()\nfilms = Crawler()\n"
                    "same = films\n")
    assert main(["run", str(path), "--db", str(tmp_path / "x.db")]) == 2
    err = one_line_error(capsys)
    assert "defines 2 Crawlers (books, films)" in err


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.py")]) == 2
    assert "no spider file" in one_line_error(capsys)


def test_an_error_in_the_users_code_shows_their_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "helpers.py").write_text("def parse_rules():\n    return 1 / 0\n")
    path = tmp_path / "broken.py"
    path.write_text(textwrap.dedent("""\
        from corocrawl import Crawler
        from helpers import parse_rules

        crawler = Crawler()
        RULES = parse_rules()
    """))
    assert main(["run", str(path), "--db", str(tmp_path / "x.db")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n"), err
    assert f'File "{path}", line 5' in err and "helpers.py" in err
    assert "ZeroDivisionError: division by zero" in err
    assert "corocrawl/cli" not in err and "importlib" not in err
    assert err.strip().splitlines()[-1].startswith("corocrawl: error: ")


def test_a_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "typo.py"
    path.write_text("from corocrawl import Crawler\ncrawler = Crawler(\n")
    assert main(["run", str(path), "--db", str(tmp_path / "x.db")]) == 1
    err = capsys.readouterr().err
    assert "SyntaxError" in err and "typo.py" in err and "Traceback" not in err


def test_start_url_with_several_start_callbacks_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two_starts.py"
    path.write_text(textwrap.dedent("""\
        from corocrawl import Crawler
        crawler = Crawler()

        @crawler.start("http://127.0.0.1:9/a")
        async def first(resp):
            yield {}

        @crawler.start("http://127.0.0.1:9/b")
        async def second(resp):
            yield {}
    """))
    code = main(["run", str(path), "--db", str(tmp_path / "x.db"),
                 "--start-url", "http://127.0.0.1:9/c"])
    assert code == 2
    assert "starts with 2 callbacks (first, second)" in one_line_error(capsys)


def test_nothing_fetched_is_exit_1_with_the_reason(
    replica: DemoServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.py"
    path.write_text(SPIDER.replace('user_agent="{ua}"', "").format())
    code = main(["run", str(path), "--db", str(tmp_path / "x.db"), "-q",
                 "--start-url", replica.url("/cinema/later/beijing/")])
    assert code == 1
    err = capsys.readouterr().err
    assert "nothing was fetched" in err and "418" in err and "--user-agent" in err


def test_config_run_shows_the_spiders_settings(
    spider: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corocrawl.toml").write_text("[run]\ndelay = 0.5\n")
    monkeypatch.setenv("COROCRAWL_PER_HOST", "3")
    assert main(["config", "run", str(spider), "--max-pages", "7"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:] if line.strip()}
    assert lines["--concurrency"][:2] == ["16", "spider"]
    assert lines["--delay"][:2] == ["0.5", "file"]
    assert lines["--per-host"][:2] == ["3", "env"]
    assert lines["--max-pages"][:2] == ["7", "flag"]


def test_the_built_in_douban_spider_is_a_spider_module_too(
    replica: DemoServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "douban.jsonl"
    code = main(["run", "corocrawl.spiders.douban", "--db", str(tmp_path / "d.db"), "-q",
                 "--start-url", replica.url("/cinema/later/beijing/"), "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows) == MOVIES and all(row["poster_url"] for row in rows)


def test_an_unknown_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no_such_pkg.spider"]) == 2
    assert "no spider file or module 'no_such_pkg.spider'" in one_line_error(capsys)


def test_a_rerun_after_a_failed_crawl_says_how_to_retry(
    replica: DemoServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = tmp_path / "bot.py"
    bot.write_text(SPIDER.replace('user_agent="{ua}"', "").format())
    args = ["run", str(bot), "--db", str(tmp_path / "x.db"), "-q",
            "--start-url", replica.url("/cinema/later/beijing/")]
    assert main(args) == 1
    capsys.readouterr()
    assert main([*args, "--user-agent", BROWSER_UA]) == 1
    err = capsys.readouterr().err
    assert "nothing left to crawl" in err and "retry-failed" in err
    assert main([*args, "--user-agent", BROWSER_UA, "--fresh"]) == 0


def test_log_json_in_a_missing_folder_is_refused_before_loading(
    spider: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(spider), "--db", str(tmp_path / "x.db"),
                 "--log-json", str(tmp_path / "nope" / "events.jsonl")])
    assert code == 2
    assert "folder" in one_line_error(capsys)


@pytest.mark.parametrize("command", ["run", "crawl"])
def test_fresh_with_redis_is_one_line_not_a_silent_no_op(
    command: str, spider: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on loopback: the error must come before any connection is tried.
    target = [str(spider)] if command == "run" else ["http://127.0.0.1:1/"]
    code = main([command, *target, "--redis", "redis://127.0.0.1:1/0", "--fresh"])
    assert code == 2
    assert "new crawl_name (--crawl-name)" in one_line_error(capsys)
