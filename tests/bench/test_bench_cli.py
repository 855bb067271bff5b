"""``corocrawl bench``: crawls the replica three ways and prints the lesson's table."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from corocrawl._exceptions import MissingExtra
from corocrawl.cli import _bench

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("corocrawl.demo") is None,
    reason="corocrawl.demo (the replica) is not here yet",
)
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="corocrawl")
    _bench.register(parser.add_subparsers())
    return parser.parse_args(["bench", *argv])


def test_bench_prints_wall_times_speedups_and_when_others_win(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse("--latency", "0.01-0.03", "--pages", "12", "--threads", "4")
    assert args.run(args) == 0
    out = capsys.readouterr().out
    for label in ("sequential", "threads (4)", "corocrawl (64 coroutines)"):
        assert label in out
    assert out.count("12/12") == 3  # every way found every poster
    assert "1.0×" in out
    assert _bench.WHEN_OTHERS_WIN in out or _bench.WHEN_NOTHING_WAITS in out


def test_no_claim_that_coroutines_won_when_they_did_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse("--latency", "0", "--pages", "3", "--threads", "2")
    assert args.run(args) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[1]
    walls = [float(line.split()[-3].rstrip("s")) for line in table.splitlines()[1:]]
    corocrawl, fastest_other = walls[-1], min(walls[:-1])
    if corocrawl < fastest_other:
        expected = [_bench.WHEN_OTHERS_WIN]
    elif corocrawl > fastest_other:
        expected = [_bench.WHEN_NOTHING_WAITS]
    else:  # a tie at the table's 0.01 s: the command compared the unrounded times
        expected = [_bench.WHEN_OTHERS_WIN, _bench.WHEN_NOTHING_WAITS]
    assert any(text in out for text in expected), out


@pytest.mark.parametrize("text", ["fast", "2-1", "-1", "0.5-1-2"])
def test_bad_latency_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse("--latency", text)
    assert exc.value.code == 2
    assert "MIN-MAX" in capsys.readouterr().err


def test_latency_range_accepts_a_single_number() -> None:
    assert _bench.latency_range("0.5") == (0.5, 0.5)
    assert _bench.latency_range("0.5-2") == (0.5, 2.0)


@pytest.mark.skipif(HAS_MATPLOTLIB, reason="matplotlib is installed")
def test_plot_without_matplotlib_says_which_extra(tmp_path: Path) -> None:
    args = parse("--pages", "1", "--plot", str(tmp_path / "bench.png"))
    with pytest.raises(MissingExtra, match=r"corocrawl\[plot\]"):
        args.run(args)


@pytest.mark.skipif(
    not HAS_MATPLOTLIB, reason="matplotlib is not installed (pip install 'corocrawl[plot]')"
)
def test_plot_draws_a_png(tmp_path: Path) -> None:
    out = tmp_path / "bench.png"
    args = parse("--latency", "0", "--pages", "3", "--plot", str(out))
    assert args.run(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
