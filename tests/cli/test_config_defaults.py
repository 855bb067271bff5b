"""``corocrawl config`` and ``--help`` show the same crawl defaults: CrawlConfig's."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from corocrawl import CrawlConfig
from corocrawl.cli import main
from corocrawl.spiders.douban import BROWSER_USER_AGENT


def _config_rows(command: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["config", command]) == 0
    rows = {}
    for line in capsys.readouterr().out.splitlines()[2:]:
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) == 3:
            rows[parts[0]] = parts[1]
    return rows


def _help_defaults(command: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    return dict(re.findall(r"(--[a-z-]+) [A-Z]+ [^-]*?\(default ([^):]+)", text))


@pytest.mark.parametrize("command", ["crawl", "douban"])
def test_config_shows_the_defaults_help_promises(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no corocrawl.toml
    monkeypatch.setenv("COLUMNS", "300")
    for name in [n for n in os.environ if n.startswith("COROCRAWL_")]:
        monkeypatch.delenv(name)
    rows = _config_rows(command, capsys)
    base = CrawlConfig(user_agent=BROWSER_USER_AGENT) if command == "douban" else CrawlConfig()
    assert rows["--concurrency"] == repr(base.concurrency) == "32"
    assert rows["--per-host"] == repr(base.per_host)
    assert rows["--retries"] == repr(base.retries)
    assert rows["--timeout"] == repr(base.timeouts.total)
    assert rows["--user-agent"] == repr(base.user_agent)
    assert rows["--header"] == "[]"
    promised = _help_defaults(command, capsys)
    for flag in ("--concurrency", "--per-host", "--processes", "--retries", "--timeout"):
        assert float(promised[flag]) == float(rows[flag]), flag


def test_config_warns_once_about_an_unknown_variable(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COROCRAWL_CONCURENCY", "3")
    _config_rows("crawl", capsys)
    warnings = [r for r in caplog.records if "COROCRAWL_CONCURENCY" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
