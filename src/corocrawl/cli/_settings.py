"""Settings, resolved once: defaults → corocrawl.toml → COROCRAWL_* → flags.

Each command declares its options on a :class:`CommandParser`, an argparse
parser that also records every option as a :class:`Setting` (name, flag, kind,
type, default; a crawl option's default is the command's base ``CrawlConfig``).
:func:`resolve` layers those declarations with the file, the environment and
the flags the user gave, and returns :class:`Settings`: every value plus where
it came from (``default``, ``file PATH``, ``env VAR``, ``flag --x``, ``spider
FILE``). Commands read values from it and build their ``CrawlConfig`` with
:func:`crawl_config`; ``corocrawl config CMD`` prints its source map. Only
public argparse API is used: which flags were given is read from a twin parser
replayed from the declarations with every default suppressed.

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
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from .._exceptions import ConfigError

logger = logging.getLogger(__name__)

CONFIG_FILE = "corocrawl.toml"
ENV_PREFIX = "COROCRAWL_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
#: Where the twin parser puts the chosen command (never an option's name).
_COMMAND_KEY = "corocrawl command"
#: Options that steer the CLI itself, not a command: never settings.
_NOT_SETTINGS = frozenset({"help", "version", "config"})
_SUBCOMMANDS = "subcommands"  # marks the add_subparsers call among the recorded ones

Kind = Literal["value", "switch", "count", "list"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One option of a command, as declared: what ``resolve`` layers."""

    name: str  # the value's name, e.g. "per_host"
    flag: str  # the flag users know it by, e.g. "--per-host"
    kind: Kind = "value"
    type: Callable[[str], Any] | None = None
    default: Any = None
    choices: tuple[Any, ...] | None = None
    #: A switch's value when on (True for store_true, False for store_false).
    on: Any = True
    #: Every name it may have in the file or the environment (normalised).
    keys: tuple[str, ...] = ()


@dataclass(slots=True)
class Settings:
    """A command's resolved settings: ``settings.per_host`` and where it came from.

    >>> settings.per_host, settings.sources["per_host"]
    (4, 'env COROCRAWL_PER_HOST')

    Besides the settings it holds the command line's other values (positional
    arguments, the command's ``run``), which have no source.
    """

    values: dict[str, Any]
    sources: dict[str, str]
    #: The command these settings are for (not ``.command``: config's argument).
    command_name: str | None = None
    #: The declared settings, in --help order (what ``corocrawl config`` lists).
    declared: list[Setting] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def given(self, name: str) -> bool:
        """Whether the user set ``name`` (flag, env, file or spider), not its default."""
        return self.sources.get(name, "default") != "default"


# -- declaring: a parser that records its options ----------------------------------------


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose options are also recorded as :class:`Setting` s.

    ``relaxed=True`` makes positional arguments and required options optional
    (``corocrawl config crawl`` shows crawl's settings without a URL).
    """

    def __init__(self, *args: Any, relaxed: bool = False, **kwargs: Any) -> None:
        # Set before argparse's __init__, which declares -h through add_argument.
        self.relaxed = relaxed
        self.settings: dict[str, Setting] = {}
        self.commands: dict[str, CommandParser] = {}
        self.option_strings: set[str] = set()
        # Every add_argument/add_subparsers call, to replay on the flags-only twin.
        self._calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self._ready = False  # argparse's own groups (positionals, options) stay plain
        super().__init__(*args, **kwargs)
        self._ready = True

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        """``ArgumentParser.add_argument``, recording the option as a setting."""
        return _declare(self, super().add_argument, names, kwargs)

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        """A group whose options are recorded on this parser."""
        group = super().add_argument_group(*args, **kwargs)
        return _Group(self, group) if self._ready else group

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Subcommands whose parsers are CommandParsers recorded in ``commands``."""
        kwargs.setdefault("parser_class", type(self))
        recorded = dict(kwargs)
        self._ready = False  # argparse adds its own group for the commands
        try:
            action = super().add_subparsers(**kwargs)
        finally:
            self._ready = True
        return Subcommands(self, action, recorded)

    def set_defaults(self, **kwargs: Any) -> None:
        """Defaults of declared settings change the setting; others go to argparse."""
        for name, value in list(kwargs.items()):
            if name in self.settings:
                setting = self.settings[name]
                self.settings[name] = _replace_default(setting, value)
        super().set_defaults(**kwargs)

    def flags_parser(self) -> argparse.ArgumentParser:
        """A twin of this parser whose options have no defaults: parsing ``argv``
        with it yields exactly the flags given (and, as ``_COMMAND_KEY``, the command)."""
        twin = argparse.ArgumentParser(prog=self.prog, add_help=False)
        _replay(self, twin)
        return twin


def _replay(source: CommandParser, twin: argparse.ArgumentParser) -> None:
    for names, kwargs in source._calls:
        if names == (_SUBCOMMANDS,):
            options = {k: v for k, v in kwargs.items() if k in ("title", "metavar")}
            sub = twin.add_subparsers(dest=_COMMAND_KEY, **options)
            for name, child in source.commands.items():
                _replay(child, sub.add_parser(name, add_help=False))
            continue
        replay = dict(kwargs)
        if str(names[0]).startswith("-"):
            replay["default"] = argparse.SUPPRESS
        twin.add_argument(*names, **replay)


class _Group:
    """An argument group that records its options on its parser."""

    def __init__(self, parser: CommandParser, group: Any) -> None:
        self._parser = parser
        self._group = group

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        return _declare(self._parser, self._group.add_argument, names, kwargs)


class AddsCommands(Protocol):
    """What a command's ``register`` needs: ``add_parser`` (argparse's or ours)."""

    def add_parser(self, name: str, **kwargs: Any) -> Any: ...


class Subcommands:
    """argparse's subparsers, recording each command's parser on the parent."""

    def __init__(self, parent: CommandParser, action: Any, kwargs: dict[str, Any]) -> None:
        self._parent = parent
        self._action = action
        parent._calls.append(((_SUBCOMMANDS,), kwargs))

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if self._parent.relaxed:
            kwargs.setdefault("relaxed", True)
        parser = self._action.add_parser(name, **kwargs)
        self._parent.commands[name] = parser
        return parser


def _declare(
    parser: CommandParser,
    add: Callable[..., argparse.Action],
    names: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> argparse.Action:
    positional = not names or not str(names[0]).startswith("-")
    if parser.relaxed:
        if positional and kwargs.get("nargs") in (None, "+"):
            kwargs["nargs"] = "*" if kwargs.get("nargs") == "+" else "?"
        kwargs.pop("required", None)
    action = add(*names, **kwargs)
    parser._calls.append((names, dict(kwargs)))
    parser.option_strings.update(str(n) for n in names)
    verb = kwargs.get("action", "store")
    if positional or kwargs.get("help") == argparse.SUPPRESS or action.dest in _NOT_SETTINGS:
        return action
    if not isinstance(verb, str) or verb in ("help", "version", "store_const", "append_const"):
        return action
    longs = [str(n) for n in names if str(n).startswith("--")]
    flag = (longs or [str(names[0])])[0]
    keys = tuple(dict.fromkeys([_norm(action.dest), *(_norm(f.lstrip("-")) for f in longs)]))
    kind: Kind
    on: Any = True
    default = kwargs.get("default")
    if verb in ("store_true", "store_false"):
        kind, on = "switch", verb == "store_true"
        default = (not on) if "default" not in kwargs else default
    elif verb == "count":
        kind = "count"
    elif verb in ("append", "extend") or kwargs.get("nargs") in ("*", "+"):
        kind = "list"
    else:
        kind = "value"
    choices = kwargs.get("choices")
    parser.settings[action.dest] = Setting(
        name=action.dest, flag=flag, kind=kind, type=kwargs.get("type"), default=default,
        choices=tuple(choices) if choices is not None else None, on=on, keys=keys,
    )
    return action


def _replace_default(setting: Setting, value: Any) -> Setting:
    return Setting(setting.name, setting.flag, setting.kind, setting.type, value,
                   setting.choices, setting.on, setting.keys)


def add_config_option(parser: CommandParser) -> None:
    """Add ``--config PATH`` to ``parser`` and each of its subcommands (idempotent)."""
    for each in [parser, *parser.commands.values()]:
        if "--config" not in each.option_strings:
            each.add_argument(
                "--config",
                metavar="PATH",
                default=argparse.SUPPRESS,
                help=f"read options from this TOML file (default: ./{CONFIG_FILE} if present)",
            )


# -- resolving -------------------------------------------------------------------------


def resolve_settings(
    parser: CommandParser,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    *,
    warn_env: bool = True,
) -> Settings:
    """Parse ``argv`` with ``parser`` and resolve the chosen command's settings.

    ``warn_env`` False: no warning about unknown ``COROCRAWL_*`` variables (for a
    second resolution of the same environment, as ``corocrawl config`` makes).

        >>> settings = resolve_settings(build_parser(), ["douban"], os.environ, Path.cwd())
        >>> settings.sources["concurrency"]
        'env COROCRAWL_CONCURRENCY'
    """
    env = os.environ if env is None else env
    here = Path.cwd() if cwd is None else Path(cwd)
    add_config_option(parser)
    arguments = list(argv) if argv is not None else None
    # The plain parse first: it answers --help and reports bad flags as usual.
    parsed = vars(parser.parse_args(arguments))
    given = vars(parser.flags_parser().parse_args(arguments))
    command = given.pop(_COMMAND_KEY, None)
    chosen = parser.commands.get(command) if command else None
    declared = _declared(parser, chosen)
    flags = {name: value for name, value in given.items() if name in declared}
    config_given = parsed.pop("config", None)
    others = {name: value for name, value in parsed.items() if name not in declared}
    return resolve(
        declared, flags, command=command, env=env, cwd=here, config=config_given,
        all_keys=_all_keys(parser), commands=set(parser.commands), extra=others,
        warn_env=warn_env,
    )


def resolve(
    declared: Mapping[str, Setting],
    flags: Mapping[str, Any],
    *,
    command: str | None,
    env: Mapping[str, str],
    cwd: Path,
    config: str | None = None,
    all_keys: Mapping[str | None, set[str]] | None = None,
    commands: set[str] | None = None,
    extra: Mapping[str, Any] | None = None,
    warn_env: bool = True,
) -> Settings:
    """The one resolver: ``declared`` settings layered with the config file, the
    environment and the ``flags`` given (name → value, already converted).

    ``all_keys`` (command → its keys; None: the top level) tells a key of another
    command, which is fine, from an unknown one, which is an error (file) or a
    warning (environment). ``extra``: values that are not settings (positionals).
    """
    all_keys = all_keys if all_keys is not None else {command: _keys(declared.values())}
    commands = commands if commands is not None else {c for c in all_keys if c}
    known = set().union(*all_keys.values())
    options = {key: setting for setting in declared.values() for key in setting.keys}
    values: dict[str, Any] = {name: s.default for name, s in declared.items()}
    sources = {name: "default" for name in declared}

    config_path, config_source = _config_path(config, env, cwd)
    if config_path is not None:
        table, label = _load_file(config_path, cwd)
        file_values = _file_values(table, label, options, all_keys, known, commands, command)
        for name, (value, origin) in file_values.items():
            values[name], sources[name] = value, origin

    for variable, raw in sorted(env.items()):
        if not variable.startswith(ENV_PREFIX) or variable == CONFIG_ENV:
            continue
        key = variable[len(ENV_PREFIX) :].lower()
        setting = options.get(key)
        if setting is None:
            if key not in known and warn_env:
                logger.warning("ignoring %s: no corocrawl command has an option %r%s",
                               variable, key, _hint(key, known))
            continue
        values[setting.name] = _convert(setting, raw, f"environment {variable}")
        sources[setting.name] = f"env {variable}"

    for name, value in flags.items():
        values[name], sources[name] = value, f"flag {declared[name].flag}"
    values.update(extra or {})
    values["config"] = str(config_path) if config_path is not None else None
    if config_path is not None:
        sources["config"] = config_source
    return Settings(values, sources, command, list(declared.values()))


def _declared(parser: CommandParser, chosen: CommandParser | None) -> dict[str, Setting]:
    """The top level's settings and the chosen command's, in --help order."""
    declared = dict(parser.settings)
    if chosen is not None:
        declared.update(chosen.settings)
    return declared


def _keys(settings: Iterable[Setting]) -> set[str]:
    return {key for setting in settings for key in setting.keys}


def _all_keys(parser: CommandParser) -> dict[str | None, set[str]]:
    keys: dict[str | None, set[str]] = {None: _keys(parser.settings.values())}
    for name, sub in parser.commands.items():
        keys[name] = keys[None] | _keys(sub.settings.values())
    return keys


def _norm(key: str) -> str:
    return key.strip().replace("-", "_").lower()


# -- the spider layer --------------------------------------------------------------------


def with_spider(
    settings: Settings, label: str, values: Mapping[str, Any]
) -> Settings:
    """``settings`` with a spider file's own values where nothing else set them.

    The spider file sits between the defaults and corocrawl.toml: a value it sets
    (``values``: setting name → value) shows as ``spider FILE`` unless it equals
    the default.
    """
    merged = dict(settings.values)
    sources = dict(settings.sources)
    for name, value in values.items():
        if sources.get(name, "") != "default":
            continue
        merged[name] = value
        declared = next((s for s in settings.declared if s.name == name), None)
        if declared is not None and value != declared.default:
            sources[name] = f"spider {label}"
    return Settings(merged, sources, settings.command_name, settings.declared)


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
    import tomllib  # only with a config file: every command's start-up pays for it otherwise

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
    options: Mapping[str, Setting],
    all_keys: Mapping[str | None, set[str]],
    known: set[str],
    commands: set[str],
    command: str | None,
) -> dict[str, tuple[Any, str]]:
    """name → (value, source) from the file, after checking every key in it."""
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            if key not in commands:
                raise ConfigError(
                    f"{label}: unknown section [{key}]"
                    f"{_hint(key, commands, brackets=True)}; sections are command names"
                )
            section_keys = all_keys.get(key, set())
            for sub_key in value:
                if _norm(sub_key) not in section_keys:
                    raise ConfigError(
                        f"{label}: unknown key {sub_key!r} in [{key}]"
                        f"{_hint(_norm(sub_key), section_keys)}"
                        f" (corocrawl {key} has no such option)"
                    )
            sections[key] = value
        else:
            if _norm(key) not in known:
                raise ConfigError(
                    f"{label}: unknown key {key!r}{_hint(_norm(key), known)}"
                    f" (no command has it; reading it for corocrawl {command or ''})".rstrip()
                )
            top[key] = value
    chosen: dict[str, tuple[Any, str]] = {}
    layers = [(top, f"file {label}")]
    if command in sections:
        layers.append((sections[command], f"file {label} [{command}]"))
    for values, origin in layers:
        for key, value in values.items():
            setting = options.get(_norm(key))
            if setting is None:
                continue  # valid for another command, not this one
            chosen[setting.name] = (_convert(setting, value, label), origin)
    return chosen


def _hint(key: str, valid: Any, *, brackets: bool = False) -> str:
    import difflib  # only for a mistake

    names = sorted({str(v) for v in valid if v})
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if not close:
        return ""
    shown = f"[{close[0]}]" if brackets else close[0].replace("_", "-")
    return f"; did you mean {shown!r}?" if not brackets else f"; did you mean {shown}?"


# -- values -------------------------------------------------------------------------------


def _convert(setting: Setting, raw: Any, origin: str) -> Any:
    """``raw`` (a TOML value, or an env string) as the flag would have given it."""
    from_env = isinstance(raw, str) and origin.startswith("environment")
    name = setting.flag.lstrip("-")
    if setting.kind == "count":
        return _scalar(int, raw, origin, name)
    if setting.kind == "switch":
        flag = _as_bool(raw, from_env)
        if flag is None:
            raise ConfigError(f"{origin}: {name} is a switch: use true or false, got {raw!r}")
        return flag if setting.on else not flag
    if setting.kind == "list":
        if from_env:
            values = [part.strip() for part in str(raw).split(",") if part.strip()]
        else:
            values = list(raw) if isinstance(raw, list) else [raw]
        converted = [_scalar(setting.type, v, origin, name) for v in values]
        for value in converted:
            _check_choice(setting, value, origin, name)
        return converted
    value = _scalar(setting.type, raw, origin, name)
    _check_choice(setting, value, origin, name)
    return value


def _scalar(kind: Any, raw: Any, origin: str, name: str) -> Any:
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


def _check_choice(setting: Setting, value: Any, origin: str, name: str) -> None:
    if setting.choices is not None and value not in setting.choices:
        choices = ", ".join(map(str, setting.choices))
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
