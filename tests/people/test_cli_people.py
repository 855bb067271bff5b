"""The people-facing CLI as a user runs it: config sources, demo → posters → gallery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("corocrawl.store", reason="the SQLite store is not on this branch yet")
pytest.importorskip("corocrawl.demo", reason="the replica site is not on this branch yet")

from corocrawl.cli import build_parser, main
from corocrawl.cli._settings import resolve_settings


def test_config_command_shows_each_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from corocrawl.cli import _config_cmd

    monkeypatch.chdir(tmp_path)
    (tmp_path / "corocrawl.toml").write_text(
        'concurrency = 4\n[douban]\ncity = "shanghai"\n', encoding="utf-8"
    )
    monkeypatch.setenv("COROCRAWL_PER_HOST", "2")
    parser = build_parser()
    if "config" not in parser.format_help():
        import argparse

        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        _config_cmd.register(sub)
    args = resolve_settings(parser, ["config", "douban"], {}, tmp_path)
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "file corocrawl.toml [douban]" in out
    assert "env COROCRAWL_PER_HOST" in out
    assert "--delay" in out and "default" in out


def test_unknown_key_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corocrawl.toml").write_text("per_hots = 3\n", encoding="utf-8")
    assert main(["douban"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "unknown key 'per_hots'; did you mean 'per-host'?" in err


def test_demo_downloads_posters_writes_gallery_and_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([
        "demo", "--movies", "12", "--latency", "0-0.01", "--log-json", "events.jsonl",
    ])
    assert code == 0
    out = capsys.readouterr()
    gallery = tmp_path / "movies.html"
    assert f"poster gallery: {gallery}" in out.out
    html = gallery.read_text(encoding="utf-8")
    posters = sorted((tmp_path / "posters").iterdir())
    assert len(posters) == 12
    assert html.count('<article class="card">') == 12
    assert html.count('src="posters/') == 12  # every card uses the local poster
    assert "posters in posters: 12 downloaded" in out.err
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "finish"
    assert events[-1]["items"] >= 12

    # Again: the posters on disk are complete, so none is fetched twice.
    assert main(["demo", "--movies", "12", "--latency", "0-0.01", "-q"]) == 0
    assert sorted((tmp_path / "posters").iterdir()) == posters


def test_config_of_a_command_with_a_required_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from corocrawl.cli import _config_cmd

    monkeypatch.chdir(tmp_path)
    (tmp_path / "corocrawl.toml").write_text("[crawl]\nmax-depth = 2\n", encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "crawl" not in sub.choices:
        pytest.skip("no crawl command on this branch")
    if "config" not in sub.choices:
        _config_cmd.register(sub)
    args = resolve_settings(parser, ["config", "crawl"], {}, tmp_path)
    assert args.run(args) == 0  # crawl's URL argument is not needed to show settings
    out = capsys.readouterr().out
    assert "--max-depth" in out and "file corocrawl.toml [crawl]" in out
