from __future__ import annotations

from pathlib import Path

import pytest

from corocrawl._exceptions import ConfigError
from corocrawl.cli._settings import CommandParser, Settings, resolve_settings


def _resolve(*args: object) -> tuple[Settings, dict[str, str]]:
    settings = resolve_settings(*args)  # type: ignore[arg-type]
    return settings, settings.sources


def _parser() -> CommandParser:
    parser = CommandParser(prog="corocrawl")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(metavar="COMMAND")
    douban = sub.add_parser("douban")
    douban.add_argument("--city", default="beijing")
    douban.add_argument("--concurrency", type=int, default=32)
    douban.add_argument("--per-host", type=int, default=8)
    douban.add_argument("--delay", type=float, default=0.0)
    douban.add_argument("-o", "--output", dest="outputs", action="append", default=[])
    douban.add_argument("--fresh", action="store_true")
    douban.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    douban.set_defaults(run="douban")
    report = sub.add_parser("report")
    report.add_argument("--db", default="corocrawl.db")
    report.add_argument("-o", "--output", default="movies.html")
    report.set_defaults(run="report")
    return parser


def _write(tmp_path: Path, text: str, name: str = "corocrawl.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_layers_defaults_file_env_flags(tmp_path: Path) -> None:
    _write(
        tmp_path,
        'concurrency = 64\nper-host = 4\ndelay = 1\ncity = "tianjin"\n'
        '[douban]\ncity = "shanghai"\noutput = ["a.jsonl", "b.csv"]\nfresh = true\n',
    )
    env = {"COROCRAWL_PER_HOST": "2", "COROCRAWL_DELAY": "0.5", "PATH": "/bin"}
    args, sources = _resolve(_parser(), ["douban", "--delay", "3"], env, tmp_path)
    assert args.run == "douban"
    assert (args.city, args.concurrency, args.per_host, args.delay) == ("shanghai", 64, 2, 3.0)
    assert args.outputs == ["a.jsonl", "b.csv"] and args.fresh is True
    assert args.format == "jsonl" and args.verbose == 0
    assert sources["city"] == "file corocrawl.toml [douban]"
    assert sources["concurrency"] == "file corocrawl.toml"
    assert sources["per_host"] == "env COROCRAWL_PER_HOST"
    assert sources["delay"] == "flag --delay"
    assert sources["format"] == "default"
    assert sources["config"] == "file ./corocrawl.toml"
    assert args.config == str(tmp_path / "corocrawl.toml")


def test_no_file_means_defaults(tmp_path: Path) -> None:
    args, sources = _resolve(_parser(), ["douban"], {}, tmp_path)
    assert args.concurrency == 32 and args.config is None
    assert set(sources.values()) == {"default"}


def test_keys_of_other_commands_are_fine(tmp_path: Path) -> None:
    _write(tmp_path, 'concurrency = 64\ndb = "x.db"\n')
    args, sources = _resolve(_parser(), ["report"], {}, tmp_path)
    assert args.db == "x.db" and not hasattr(args, "concurrency")
    assert sources["db"] == "file corocrawl.toml"


def test_flag_with_default_value_still_counts_as_flag(tmp_path: Path) -> None:
    _write(tmp_path, "concurrency = 64\n")
    args, sources = _resolve(_parser(), ["douban", "--concurrency", "32"], {}, tmp_path)
    assert args.concurrency == 32 and sources["concurrency"] == "flag --concurrency"


def test_config_flag_and_env(tmp_path: Path) -> None:
    other = _write(tmp_path, "concurrency = 5\n", "ci.toml")
    _write(tmp_path, "concurrency = 64\n")
    args, sources = _resolve(
        _parser(), ["douban", "--config", "ci.toml"], {}, tmp_path
    )
    assert args.concurrency == 5 and sources["concurrency"] == "file ci.toml"
    assert sources["config"] == "flag --config"
    env = {"COROCRAWL_CONFIG": str(other)}
    args, sources = _resolve(_parser(), ["douban"], env, tmp_path)
    assert args.concurrency == 5 and sources["config"] == "env COROCRAWL_CONFIG"
    args, _ = _resolve(_parser(), ["--config", "ci.toml", "douban"], {}, tmp_path)
    assert args.concurrency == 5


def test_env_switches_and_lists(tmp_path: Path) -> None:
    env = {"COROCRAWL_FRESH": "yes", "COROCRAWL_OUTPUT": "a.jsonl, b.csv", "COROCRAWL_VERBOSE": "2"}
    args, sources = _resolve(_parser(), ["douban"], env, tmp_path)
    assert args.fresh is True and args.outputs == ["a.jsonl", "b.csv"] and args.verbose == 2
    assert sources["verbose"] == "env COROCRAWL_VERBOSE"


def test_unknown_env_variable_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    args, _ = _resolve(_parser(), ["douban"], {"COROCRAWL_CONCURENCY": "3"}, tmp_path)
    assert args.concurrency == 32
    assert "did you mean 'concurrency'" in caplog.text


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("concurency = 3\n", "unknown key 'concurency'; did you mean 'concurrency'?"),
        ("per_hots = 3\n", "did you mean 'per-host'?"),
        ("[douban]\ndb = 'x.db'\n", "unknown key 'db' in [douban]"),
        ("[dobuan]\ncity = 'x'\n", "unknown section [dobuan]; did you mean [douban]?"),
        ("concurrency = 'many'\n", "corocrawl.toml: concurrency expects an integer, got 'many'"),
        ("concurrency = 2.5\n", "concurrency expects an integer, got 2.5"),
        ("concurrency = true\n", "concurrency expects an integer, got True"),
        ("fresh = 'yes'\n", "fresh is a switch: use true or false, got 'yes'"),
        ("city = 3\n", "city expects a string, got 3"),
        ("format = 'xml'\n", "format must be one of jsonl, csv, got 'xml'"),
        ("delay = [1, 2]\n", "delay takes one value"),
        ("concurrency = \n", "corocrawl.toml is not valid TOML"),
    ],
)
def test_bad_file_is_a_one_line_error(tmp_path: Path, toml: str, message: str) -> None:
    _write(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        resolve_settings(_parser(), ["douban"], {}, tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_env_value_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment COROCRAWL_PER_HOST: per-host expects an"):
        resolve_settings(_parser(), ["douban"], {"COROCRAWL_PER_HOST": "lots"}, tmp_path)
    with pytest.raises(ConfigError, match=r"--config nope\.toml: no such config file"):
        resolve_settings(_parser(), ["douban", "--config", "nope.toml"], {}, tmp_path)


def test_help_and_bad_flags_behave_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        resolve_settings(_parser(), ["douban", "--help"], {}, tmp_path)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--config PATH" in out and "SUPPRESS" not in out
    with pytest.raises(SystemExit) as info:
        resolve_settings(_parser(), ["douban", "--concurrency", "x"], {}, tmp_path)
    assert info.value.code == 2


def test_parser_is_left_as_it_was(tmp_path: Path) -> None:
    parser = _parser()
    resolve_settings(parser, ["douban", "--fresh"], {}, tmp_path)
    again = parser.parse_args(["douban"])
    assert again.concurrency == 32 and again.fresh is False and again.run == "douban"
