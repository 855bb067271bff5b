"""``corocrawl serve-demo`` starts, answers, stops on a signal, and rejects bad flags."""

from __future__ import annotations

import argparse
import functools
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from corocrawl._exceptions import UsageError
from corocrawl.cli import _Parser
from corocrawl.cli._serve_demo import config_from_args, parse_latency, register
from corocrawl.demo import DemoConfig, expected_items

# While another command's module cannot be imported (work in progress on a branch),
# `python -m corocrawl` cannot build its parser; this stand-in runs serve-demo alone
# with the same error handling, so these tests check this command only.
_LAUNCHER = """
import sys
from corocrawl.cli import EXIT_USAGE, _Parser, _serve_demo
from corocrawl._exceptions import UsageError
parser = _Parser(prog="corocrawl")
_serve_demo.register(parser.add_subparsers())
args = parser.parse_args(["serve-demo", *sys.argv[1:]])
try:
    sys.exit(args.run(args))
except UsageError as exc:
    print(f"corocrawl: error: {exc}", file=sys.stderr)
    sys.exit(EXIT_USAGE)
"""


@functools.cache
def _full_cli_available() -> bool:
    from corocrawl.cli import build_parser

    try:
        build_parser()
    except ImportError:
        return False
    return True


def command(*flags: str) -> list[str]:
    if _full_cli_available():
        return [sys.executable, "-m", "corocrawl", "serve-demo", *flags]
    return [sys.executable, "-c", _LAUNCHER, *flags]


def read_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The first stdout line of ``proc``, waiting at most ``timeout`` seconds."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"serve-demo printed nothing within {timeout} s")
    return proc.stdout.readline()


def get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 (X11)"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, resp.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_demo_serves_until_signalled(signum: signal.Signals) -> None:
    flags = ["--port", "0", "--movies", "20", "--cities", "beijing,shanghai", "--seed", "3"]
    proc = subprocess.Popen(
        command(*flags), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = read_line(proc)
        assert line.startswith("serving 20 movies on http://127.0.0.1:")
        urls = line.split(" on ", 1)[1].split()
        assert [u.rsplit("/", 3)[-2] for u in urls] == ["beijing", "shanghai"]
        status, body = get(urls[1])
        assert status == 200
        assert body.decode().count('class="item mod') == 10
        config = DemoConfig(movies=20, cities=("beijing", "shanghai"), seed=3)
        first = expected_items(config)[0]
        status, _ = get(urls[0].split("/cinema/")[0] + first["url_path"])
        assert status == 200
    finally:
        proc.send_signal(signum)  # only the process this test started
        try:
            _, stderr = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped after 2 requests" in stderr


def _run_bad(*flags: str) -> tuple[int, str]:
    proc = subprocess.run(command(*flags), capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--latency", "abc"], "--latency"),
        (["--error-rate", "-0.1"], "--error-rate"),
        (["--error-rate", "x"], "--error-rate"),
    ],
)
def test_bad_flags_exit_2_with_one_line(flags: list[str], needle: str) -> None:
    code, stderr = _run_bad("--port", "0", *flags)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert needle in lines[0]
    assert "Traceback" not in stderr


def _parse(*flags: str) -> argparse.Namespace:
    parser = _Parser(prog="corocrawl")
    register(parser.add_subparsers())
    return parser.parse_args(["serve-demo", *flags])


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--latency", "0.5-0.1"], "--latency"),
        (["--latency", "nan"], "--latency"),
        (["--fail-rate", "2"], "--fail-rate"),
        (["--error-rate", "nan"], "--error-rate"),
        (["--port", "70000"], "--port"),
        (["--movies", "-1"], "--movies"),
        (["--cities", ","], "--cities"),
        (["--cities", "Bei Jing"], "Bei Jing"),
        (["--gbk-cities", "a/b"], "a/b"),
    ],
)
def test_bad_values_are_one_line_usage_errors(flags: list[str], needle: str) -> None:
    with pytest.raises(UsageError) as caught:
        config_from_args(_parse(*flags))
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_flags_build_the_config() -> None:
    args = _parse(
        "--movies", "7", "--cities", "beijing, wuhan", "--latency", "0.1-0.2",
        "--error-rate", "0.3", "--fail-rate", "0.1", "--seed", "9",
        "--gbk-cities", "wuhan", "--no-block-bots", "--gzip",
    )
    config = config_from_args(args)
    assert (config.movies, config.cities, config.latency) == (7, ("beijing", "wuhan"), (0.1, 0.2))
    assert (config.error_rate, config.fail_rate, config.seed) == (0.3, 0.1, 9)
    assert config.gbk_cities == ("wuhan",) and config.block_bots is False and config.gzip


def test_port_in_use_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        code, stderr = _run_bad("--port", str(port))
    assert code == 2, stderr
    assert stderr.strip().splitlines() == [
        f"corocrawl: error: cannot listen on 127.0.0.1:{port}: the port is in use;"
        " pick another --port (0 picks a free one)"
    ]
    assert time.monotonic() - started < 30


def test_parse_latency() -> None:
    assert parse_latency("0.05-0.2") == (0.05, 0.2)
    assert parse_latency("0.3") == (0.3, 0.3)
    assert parse_latency("0") == (0.0, 0.0)
