"""The one settings resolver: declared options → values and where each came from."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import corocrawl.cli
from corocrawl import CrawlConfig, Timeouts
from corocrawl.cli import COMMANDS, build_parser, main
from corocrawl.cli._options import crawl_config, positive_int
from corocrawl.cli._settings import Setting, Settings, resolve, resolve_settings

DECLARED = {
    "concurrency": Setting("concurrency", "--concurrency", type=positive_int, default=32,
                           keys=("concurrency",)),
    "delay": Setting("delay", "--delay", type=float, default=0.0, keys=("delay",)),
    "headers": Setting("headers", "--header", kind="list", default=[],
                       keys=("headers", "header")),
    "fresh": Setting("fresh", "--fresh", kind="switch", default=False, keys=("fresh",)),
}


def test_the_resolver_needs_no_parser(tmp_path: Path) -> None:
    """Declarations, a file, the environment and the given flags: nothing from argparse."""
    (tmp_path / "corocrawl.toml").write_text(
        "concurrency = 4\ndelay = 1\n[crawl]\nheader = ['A: 1']\n", encoding="utf-8")
    env = {"COROCRAWL_DELAY": "2", "COROCRAWL_FRESH": "on"}
    settings = resolve(DECLARED, {"concurrency": 9}, command="crawl", env=env, cwd=tmp_path)
    assert (settings.concurrency, settings.delay, settings.headers, settings.fresh) == (
        9, 2.0, ["A: 1"], True)
    assert settings.sources == {
        "concurrency": "flag --concurrency",
        "delay": "env COROCRAWL_DELAY",
        "headers": "file corocrawl.toml [crawl]",
        "fresh": "env COROCRAWL_FRESH",
        "config": "file ./corocrawl.toml",
    }
    assert settings.given("delay") and settings.config == str(tmp_path / "corocrawl.toml")
    plain = resolve(DECLARED, {}, command="crawl", env={}, cwd=tmp_path / "nowhere")
    assert not any(plain.given(name) for name in DECLARED) and plain.concurrency == 32


def test_crawl_config_applies_what_was_set_over_the_commands_base(tmp_path: Path) -> None:
    (tmp_path / "corocrawl.toml").write_text(
        "timeout = 5\nheader = ['X-A: 1']\n", encoding="utf-8")
    parser = build_parser(commands="crawl")
    settings = resolve_settings(parser, ["crawl", "http://127.0.0.1:9/", "--per-host", "3"],
                                {"COROCRAWL_RETRIES": "1"}, tmp_path)
    base = CrawlConfig(user_agent="base-agent", headers=(("X-Base", "0"),), delay=0.25)
    config = crawl_config(settings, base)
    assert config.per_host == 3 and config.retries == 1
    assert config.timeouts == Timeouts(connect=5.0, read=5.0, total=5.0)
    assert config.headers == (("X-Base", "0"), ("X-A", "1"))
    # Not given anywhere: the command's base stays as it is.
    assert config.user_agent == "base-agent" and config.delay == 0.25
    untouched = resolve_settings(build_parser(commands="crawl"), ["crawl", "http://x.test/"],
                                 {}, tmp_path / "nowhere")
    assert crawl_config(untouched, base) == base


def test_env_or_file_count_as_given_for_douban_politeness(tmp_path: Path) -> None:
    parser = build_parser(commands="douban")
    settings = resolve_settings(parser, ["douban"], {"COROCRAWL_DELAY": "3"}, tmp_path)
    assert settings.given("delay") and not settings.given("per_host")
    assert isinstance(settings, Settings)


@pytest.mark.parametrize("command", [name for name, _, _ in COMMANDS if name != "config"])
def test_every_command_resolves_and_config_shows_it(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("COROCRAWL_")]:
        monkeypatch.delenv(name)
    settings = resolve_settings(build_parser(relaxed=True), [command], {}, tmp_path)
    assert set(settings.sources.values()) <= {"default"}
    if command == "run":
        return  # needs a spider file: tests/cli/test_run_cli.py shows its settings
    assert main(["config", command]) == 0
    out = capsys.readouterr().out
    for setting in settings.declared:
        assert setting.flag in out


def test_the_cli_uses_no_private_argparse_names() -> None:
    cli = Path(corocrawl.cli.__file__).parent
    private = re.compile(r"argparse\._|\._actions\b|\._defaults\b|_option_string_actions")
    offenders = [f"{path.name}:{n}" for path in sorted(cli.glob("*.py"))
                 for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                 if private.search(line)]
    assert offenders == []
