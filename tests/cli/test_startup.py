"""``corocrawl --help`` and ``--version`` stay quick: they load no command.

The time itself is measured by bench/startup.py (a timed test would be flaky on
a shared machine); this checks the cause: which modules ``--help`` imports.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

import corocrawl
from corocrawl import cli
from corocrawl.demo import DemoConfig, DemoServerThread

#: Modules that ``--help`` must not load: each costs tens of milliseconds or more.
HEAVY = ("aiohttp", "redis", "rich", "matplotlib", "selectolax", "corocrawl.demo",
         "corocrawl._engine", "corocrawl._crawler", "corocrawl.store", "corocrawl.cli._douban")

_PROBE = """
import sys
from corocrawl.cli import main
try:
    main([{flag!r}])
except SystemExit:
    pass
heavy = {heavy!r}
loaded = sorted(m for m in sys.modules if m in heavy or m.split(".")[0] in heavy)
print("loaded:" + ",".join(loaded))
"""


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_no_heavy_module(flag: str) -> None:
    code = _PROBE.format(flag=flag, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.splitlines()[-1] == "loaded:"


@pytest.mark.parametrize("argv", [["status", "--db", "missing.db"], ["export", "--help"],
                                  ["links", "--db", "missing.db", "--format", "json"],
                                  ["retry-failed", "--help"], ["collect", "--help"]])
def test_a_command_loads_only_what_it_needs(argv: list[str], tmp_path: Path) -> None:
    """Without a corocrawl.toml or COROCRAWL_* variables, other commands stay unloaded."""
    code = _PROBE.replace("main([{flag!r}])", "main({argv!r})").format(argv=argv, heavy=HEAVY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COROCRAWL_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60, cwd=tmp_path, env=env)
    loaded = done.stdout.splitlines()[-1].removeprefix("loaded:").split(",")
    assert set(loaded) <= {"", "corocrawl.store"}, loaded


def test_a_toml_key_of_another_command_is_still_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A top-level key only douban has (city) is valid in the file: every command loads."""
    (tmp_path / "corocrawl.toml").write_text('city = "shanghai"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["status", "--db", "missing.db"]) == 2
    assert "no crawl database" in capsys.readouterr().err
    (tmp_path / "corocrawl.toml").write_text('cty = "shanghai"\n', encoding="utf-8")
    assert cli.main(["status", "--db", "missing.db"]) == 2
    assert "unknown key 'cty'" in capsys.readouterr().err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"corocrawl {corocrawl.__version__}"


def test_the_command_table_says_what_each_module_registers() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = [(choice.dest, choice.help) for choice in sub._choices_actions]
    assert registered == [(name, help_text) for name, _, help_text in cli.COMMANDS]


def test_the_quick_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name, _, _ in cli.COMMANDS:
        assert f"    {name}" in out


def test_public_names_load_on_first_use() -> None:
    for name in corocrawl.__all__:
        assert getattr(corocrawl, name) is not None


def test_the_crawling_commands_load_no_redis_report_or_charset_detector() -> None:
    """What a plain ``corocrawl douban`` / ``crawl`` imports before it crawls (issue 13)."""
    unused = ("redis", "corocrawl.redis", "corocrawl.report", "corocrawl.demo", "matplotlib",
              "charset_normalizer", "msgpack", "rich")  # rich: only when something is drawn
    code = (
        "import sys\n"
        "import corocrawl.cli._douban, corocrawl.cli._crawl\n"
        f"unused = {unused!r}\n"
        "print(sorted(m for m in sys.modules if m in unused or m.split('.')[0] in unused))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"


#: Loaded by nothing a plain ``corocrawl douban`` crawl does, from launch to exit.
_UNUSED_BY_A_CRAWL = ("redis", "corocrawl.redis", "corocrawl.report", "corocrawl.demo",
                      "corocrawl._posters", "matplotlib", "charset_normalizer", "msgpack",
                      "rich", "tomllib", "difflib")  # the last two: no corocrawl.toml, no typo

_CRAWL_PROBE = """
import sys
from corocrawl.cli import main
code = main({argv!r})
unused = {unused!r}
print("exit", code)
print("loaded:" + ",".join(sorted(m for m in sys.modules
                                  if m in unused or m.split(".")[0] in unused)))
"""


def test_a_quiet_douban_crawl_loads_no_redis_posters_or_rich(tmp_path: Path) -> None:
    """A whole crawl and its export: no --redis, no --posters, and --quiet draws nothing."""
    with DemoServerThread(DemoConfig(movies=5, cities=("beijing",))) as server:
        argv = ["douban", "--start-url", server.url("/cinema/later/beijing/"), "--quiet",
                "--db", str(tmp_path / "c.db"), "-o", str(tmp_path / "m.jsonl")]
        code = _CRAWL_PROBE.format(argv=argv, unused=_UNUSED_BY_A_CRAWL)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COROCRAWL_")}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, timeout=120, cwd=tmp_path, env=env)
    assert done.stdout.splitlines()[-2:] == ["exit 0", "loaded:"], done.stdout + done.stderr
    assert len((tmp_path / "m.jsonl").read_text("utf-8").splitlines()) == 5


_EXIT_PROBE = """
import gc, sys
sys.argv = ["corocrawl", *{argv!r}]
from corocrawl.cli import console_main
code = console_main()
print(code, gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(("argv", "frozen"), [
    (["status", "--db", "missing.db"], True),
    (["run", "missing_spider.py"], False),  # the user's code: the ordinary exit
])
def test_the_program_spares_the_exit_collections_of_its_own_commands(
    argv: list[str], frozen: bool, tmp_path: Path
) -> None:
    """console_main collects once and freezes what is left; main() (tests, library use) never."""
    code = _EXIT_PROBE.format(argv=argv)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60, cwd=tmp_path)
    assert done.stdout.split() == ["2", str(frozen)], done.stdout + done.stderr


def test_both_ways_of_running_the_program_use_console_main() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "corocrawl"]
    assert script.value == "corocrawl.cli:console_main"
    main_module = Path(corocrawl.__file__).with_name("__main__.py").read_text("utf-8")
    assert "sys.exit(console_main())" in main_module
