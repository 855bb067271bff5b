"""Settings from four layers: defaults → corocrawl.toml → COROCRAWL_* → flags.

It works from the argparse parser itself, so every option of every subcommand
can be set in the file or the environment without being listed anywhere else:

* ``corocrawl.toml`` in the working directory, or ``--config PATH`` (or
  ``COROCRAWL_CONFIG``). Top-level keys apply to every command that has that
  option; a ``[douban]`` table applies to one command and wins over the top
  level. Keys are option names, with ``-`` or ``_``::

      concurrency = 64
      per-host = 8
      [douban]
      city = "shanghai"
      output = ["movies.jsonl", "movies.csv"]

* ``COROCRAWL_<OPTION>``, e.g. ``COROCRAWL_PER_HOST=4``; a list option takes
  comma-separated values, a switch takes 1/0, true/false, yes/no, on/off.
* flags on the command line win over everything.

An unknown key is a one-line :class:`ConfigError` naming it and the closest
valid key; a value of the wrong type is a one-line error too.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError

logger = logging.getLogger(__name__)

CONFIG_FILE = "corocrawl.toml"
ENV_PREFIX = "COROCRAWL_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"
_COMMAND_DEST = "_corocrawl_command"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
#: Destinations that are not settings: they steer argparse or the CLI itself.
_NOT_SETTINGS = frozenset({"help", "version", "config", "run"})


@dataclass(frozen=True, slots=True)
class _Option:
    dest: str
    action: argparse.Action
    flag: str  # the long flag users know it by, e.g. "--per-host"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config PATH`` to ``parser`` and each of its subcommands (idempotent)."""
    for each in [parser, *_subcommands(parser).values()]:
        if "--config" not in each._option_string_actions:
            each.add_argument(
                "--config",
                metavar="PATH",
                default=argparse.SUPPRESS,
                help=f"read options from this TOML file (default: ./{CONFIG_FILE} if present)",
            )


def resolve_settings(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[argparse.Namespace, dict[str, str]]:
    """Parse ``argv`` and fill every option not given as a flag from env, file, default.

    Returns the namespace and, for every setting, where its value came from:
    ``"default"``, ``"flag --per-host"``, ``"env COROCRAWL_PER_HOST"`` or
    ``"file corocrawl.toml"`` / ``"file corocrawl.toml [douban]"``.

        >>> args, sources = resolve_settings(build_parser(), ["douban"], os.environ, Path.cwd())
        >>> sources["concurrency"]
        'env COROCRAWL_CONCURRENCY'
    """
    env = os.environ if env is None else env
    here = Path.cwd() if cwd is None else Path(cwd)
    add_config_option(parser)
    arguments = list(argv) if argv is not None else None
    # The plain parse first: it answers --help and reports bad flags as usual.
    namespace = parser.parse_args(arguments)
    explicit, command = _explicit_flags(parser, arguments)
    commands = _subcommands(parser)
    chosen = commands.get(command) if command else None
    options = _options(parser, chosen)
    sources = {opt.dest: "default" for opt in options.values()}

    config_path, config_source = _config_path(getattr(namespace, "config", None), env, here)
    if config_path is not None:
        table, label = _load_file(config_path, here)
        file_values = _file_values(table, label, options, commands, command, parser)
        for dest, (value, origin) in file_values.items():
            if dest not in explicit:
                setattr(namespace, dest, value)
                sources[dest] = origin
    namespace.config = str(config_path) if config_path is not None else None

    known = _all_option_keys(parser, commands)
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        option = options.get(key)
        if option is None:
            if key not in known:
                logger.warning("ignoring %s: no option %r%s", name, key, _hint(key, known))
            continue
        if option.dest not in explicit:
            setattr(namespace, option.dest, _convert(option, raw, f"environment {name}"))
            sources[option.dest] = f"env {name}"

    for dest, flag in explicit.items():
        if dest in sources:
            sources[dest] = f"flag {flag}"
    if config_path is not None:
        sources["config"] = config_source
    return namespace, sources


def settings_options(
    parser: argparse.ArgumentParser, command: str | None
) -> list[tuple[str, str]]:
    """(dest, flag) of every setting of ``command`` (and the global ones), in --help order."""
    chosen = _subcommands(parser).get(command) if command else None
    seen: dict[str, str] = {}
    for option in _options(parser, chosen).values():
        seen.setdefault(option.dest, option.flag)
    return list(seen.items())


# -- reading argv -------------------------------------------------------------------------


def _explicit_flags(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> tuple[dict[str, str], str | None]:
    """Which dests the user set with a flag (→ the flag), and the chosen subcommand.

    Parses once with every default replaced by SUPPRESS: argparse then only sets
    the attributes the command line mentions.
    """
    parsers = [parser, *_subcommands(parser).values()]
    saved_defaults: list[tuple[argparse.Action, Any]] = []
    saved_dests: list[tuple[argparse.Action, str]] = []
    saved_parser_defaults = [(p, dict(p._defaults)) for p in parsers]
    try:
        for each in parsers:
            each._defaults.clear()
            for action in each._actions:
                if isinstance(action, argparse._SubParsersAction):
                    saved_dests.append((action, action.dest))
                    action.dest = _COMMAND_DEST
                else:
                    saved_defaults.append((action, action.default))
                    action.default = argparse.SUPPRESS
        given = vars(parser.parse_args(argv))
    finally:
        for action, default in saved_defaults:
            action.default = default
        for action, dest in saved_dests:
            action.dest = dest
        for each, defaults in saved_parser_defaults:
            each._defaults.clear()
            each._defaults.update(defaults)
    command = given.pop(_COMMAND_DEST, None)
    chosen = _subcommands(parser).get(command) if command else None
    flags = {}
    for dest in given:
        flags[dest] = next(
            (o.flag for o in _options(parser, chosen).values() if o.dest == dest), dest
        )
    return flags, command


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _iter_settings(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if (
            not action.option_strings
            or isinstance(action, argparse._SubParsersAction)
            or action.dest in _NOT_SETTINGS
            or action.dest == argparse.SUPPRESS
            or action.help == argparse.SUPPRESS  # hidden options stay hidden
        ):
            continue
        yield action


def _options(
    parser: argparse.ArgumentParser, chosen: argparse.ArgumentParser | None
) -> dict[str, _Option]:
    """Key (dest and long flag, normalised) → option, for the top level plus ``chosen``."""
    keys: dict[str, _Option] = {}
    for each in (parser, chosen):
        if each is None:
            continue
        for action in _iter_settings(each):
            longs = [s for s in action.option_strings if s.startswith("--")]
            option = _Option(action.dest, action, (longs or action.option_strings)[0])
            keys[_norm(action.dest)] = option
            for flag in longs:
                keys.setdefault(_norm(flag.lstrip("-")), option)
    return keys


def _all_option_keys(
    parser: argparse.ArgumentParser, commands: Mapping[str, argparse.ArgumentParser]
) -> set[str]:
    keys = set(_options(parser, None))
    for sub in commands.values():
        keys.update(_options(parser, sub))
    return keys


def _norm(key: str) -> str:
    return key.strip().replace("-", "_").lower()


# -- the file -----------------------------------------------------------------------------


def _config_path(
    given: str | None, env: Mapping[str, str], cwd: Path
) -> tuple[Path | None, str]:
    """The config file to read and why: --config, then COROCRAWL_CONFIG, then ./corocrawl.toml."""
    for value, origin, hint in (
        (given, "flag --config", "--config"),
        (env.get(CONFIG_ENV), f"env {CONFIG_ENV}", CONFIG_ENV),
    ):
        if value:
            path = _absolute(Path(value), cwd)
            if not path.is_file():
                raise ConfigError(f"{hint} {value}: no such config file; check the path")
            return path, origin
    candidate = cwd / CONFIG_FILE
    if candidate.is_file():
        return candidate, f"file ./{CONFIG_FILE}"
    return None, ""


def _absolute(path: Path, cwd: Path) -> Path:
    return path if path.is_absolute() else cwd / path


def _load_file(path: Path, cwd: Path) -> tuple[dict[str, Any], str]:
    try:
        label = str(path.relative_to(cwd))
    except ValueError:
        label = str(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), label
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {label}: {exc.strerror}") from None


def _file_values(
    table: Mapping[str, Any],
    label: str,
    options: Mapping[str, _Option],
    commands: Mapping[str, argparse.ArgumentParser],
    command: str | None,
    parser: argparse.ArgumentParser,
) -> dict[str, tuple[Any, str]]:
    """dest → (value, source) from the file, after checking every key in it."""
    known = _all_option_keys(parser, commands)
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            if key not in commands:
                raise ConfigError(
                    f"{label}: unknown section [{key}]"
                    f"{_hint(key, commands, brackets=True)}; sections are command names"
                )
            section_keys = set(_options(parser, commands[key]))
            for sub_key in value:
                if _norm(sub_key) not in section_keys:
                    raise ConfigError(
                        f"{label}: unknown key {sub_key!r} in [{key}]"
                        f"{_hint(_norm(sub_key), section_keys)}"
                    )
            sections[key] = value
        else:
            if _norm(key) not in known:
                raise ConfigError(f"{label}: unknown key {key!r}{_hint(_norm(key), known)}")
            top[key] = value
    chosen: dict[str, tuple[Any, str]] = {}
    layers = [(top, f"file {label}")]
    if command in sections:
        layers.append((sections[command], f"file {label} [{command}]"))
    for values, origin in layers:
        for key, value in values.items():
            option = options.get(_norm(key))
            if option is None:
                continue  # valid for another command, not this one
            chosen[option.dest] = (_convert(option, value, label), origin)
    return chosen


def _hint(key: str, valid: Any, *, brackets: bool = False) -> str:
    names = sorted({str(v) for v in valid})
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if not close:
        return ""
    shown = f"[{close[0]}]" if brackets else close[0].replace("_", "-")
    return f"; did you mean {shown!r}?" if not brackets else f"; did you mean {shown}?"


# -- values -------------------------------------------------------------------------------


def _convert(option: _Option, raw: Any, origin: str) -> Any:
    """``raw`` (a TOML value, or an env string) as argparse would have stored it."""
    action = option.action
    from_env = isinstance(raw, str) and origin.startswith("environment")
    name = option.flag.lstrip("-")
    if isinstance(action, argparse._CountAction):
        return _scalar(int, raw, origin, name, from_env)
    if action.nargs == 0:  # switches: store_true/false/const, BooleanOptionalAction
        flag = _as_bool(raw, from_env)
        if flag is None:
            raise ConfigError(f"{origin}: {name} is a switch: use true or false, got {raw!r}")
        if isinstance(action, argparse._StoreConstAction | argparse._AppendConstAction):
            if isinstance(action.const, bool):
                return flag if action.const else not flag
            if not flag:
                return action.default
            is_append = isinstance(action, argparse._AppendConstAction)
            return [action.const] if is_append else action.const
        return flag
    many = isinstance(action, argparse._AppendAction | argparse._ExtendAction) or action.nargs in (
        "*",
        "+",
    ) or isinstance(action.nargs, int)
    if many:
        if from_env:
            values = [part.strip() for part in str(raw).split(",") if part.strip()]
        else:
            values = list(raw) if isinstance(raw, list) else [raw]
        converted = [_scalar(action.type, v, origin, name, from_env) for v in values]
        for value in converted:
            _check_choice(action, value, origin, name)
        return converted
    value = _scalar(action.type, raw, origin, name, from_env)
    _check_choice(action, value, origin, name)
    return value


def _scalar(kind: Any, raw: Any, origin: str, name: str, from_env: bool) -> Any:
    if isinstance(raw, list | dict):
        raise ConfigError(f"{origin}: {name} takes one value, got {raw!r}")
    expects = _describe(kind)
    if isinstance(raw, bool) and kind is not bool:
        raise ConfigError(f"{origin}: {name} expects {expects}, got {raw!r}")
    try:
        if kind is None or kind is str:
            if not isinstance(raw, str):
                raise TypeError
            return raw
        if kind is int and isinstance(raw, float):
            raise TypeError
        if kind in (int, float) and isinstance(raw, int | float):
            return kind(raw)
        return kind(raw if isinstance(raw, str) else str(raw))
    except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
        detail = f" ({exc})" if isinstance(exc, argparse.ArgumentTypeError) else ""
        raise ConfigError(f"{origin}: {name} expects {expects}, got {raw!r}{detail}") from None


def _check_choice(action: argparse.Action, value: Any, origin: str, name: str) -> None:
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ConfigError(f"{origin}: {name} must be one of {choices}, got {value!r}")


def _as_bool(raw: Any, from_env: bool) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if from_env and isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


def _describe(kind: Any) -> str:
    if kind is None or kind is str:
        return "a string"
    if kind is int:
        return "an integer"
    if kind is float:
        return "a number"
    return f"a {getattr(kind, '__name__', 'value').strip('_').replace('_', ' ')}"
