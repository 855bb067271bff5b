"""Loading a user's spider file: the one ``Crawler`` it builds at module level.

The file runs as a module under its own name, not ``__main__``, so its
``if __name__ == "__main__": crawler.run()`` stays for ``python spider.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType, TracebackType

from .._crawler import Crawler
from .._exceptions import CorocrawlError, UsageError
from .._request import Request, parse_url


class SpiderImportError(CorocrawlError):
    """The spider file raised while loading; ``report`` is the user's own traceback."""

    def __init__(self, path: Path, report: str, summary: str) -> None:
        super().__init__(summary)
        self.path = path
        self.report = report


def load_spider(path: str | Path) -> Crawler:
    """Run the spider file at ``path`` and return the ``Crawler`` it defines.

    Raises UsageError (one line) when the file is missing or defines no
    Crawler or several; SpiderImportError when its own code raises.
    """
    file = Path(path).expanduser()
    if not file.is_file() and _MODULE_NAME.match(str(path)):
        module = _import_module(str(path))
    else:
        module = _load_file(file, path)
    found: dict[int, tuple[str, Crawler]] = {}
    for attr, value in vars(module).items():
        if isinstance(value, Crawler) and id(value) not in found:
            found[id(value)] = (attr, value)
    if not found:
        raise UsageError(
            f"{path} defines no Crawler at module level; write e.g. crawler = Crawler() "
            "and decorate its callbacks"
        )
    if len(found) > 1:
        names = ", ".join(attr for attr, _ in found.values())
        raise UsageError(f"{path} defines {len(found)} Crawlers ({names}); keep one per file")
    return next(iter(found.values()))[1]


#: ``corocrawl run`` also takes an installed spider module, e.g. ``corocrawl.spiders.douban``.
_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise UsageError(f"no spider file or module {name!r}; give a .py file") from None
        raise


def _load_file(file: Path, path: str | Path) -> ModuleType:
    if not file.is_file():
        raise UsageError(f"no spider file {str(path)!r}; give the path of a .py file")
    file = file.resolve()
    name = "corocrawl_spider_" + re.sub(r"\W", "_", file.stem)
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load {str(path)!r} as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # As `python spider.py` would: modules beside the spider are importable.
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        raise SpiderImportError(
            file, _user_traceback(exc, file),
            f"{path} raised {type(exc).__name__} while loading (traceback above)",
        ) from None
    return module


def _user_traceback(exc: BaseException, file: Path) -> str:
    """The traceback from the first frame in the user's file on: their code, not ours."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and Path(tb.tb_frame.f_code.co_filename) != file:
        tb = tb.tb_next
    if tb is None:  # a SyntaxError: no frame ran; its message shows the file and line
        return "".join(traceback.format_exception_only(type(exc), exc))
    return "".join(traceback.format_exception(type(exc), exc, tb))


def replace_start_urls(crawler: Crawler, urls: Sequence[str]) -> None:
    """Make ``urls`` the crawler's start, handled by its start callback (``--start-url``)."""
    names = list(dict.fromkeys(r.callback_name for r in crawler.start_requests))
    if len(names) > 1:
        shown = ", ".join(str(n) for n in names)
        raise UsageError(
            f"--start-url: the spider starts with {len(names)} callbacks ({shown}); "
            "which one would handle the new URLs is ambiguous: edit the file instead"
        )
    template = crawler.start_requests[0] if crawler.start_requests else Request(
        "", crawler.default_callback)
    if template.callback is None and crawler.default_callback is None:
        raise UsageError("--start-url: the spider has no callback; decorate one with "
                         "@crawler.start or @crawler.handler")
    crawler.start_requests = [
        dataclasses.replace(template, url=str(parse_url(url)), meta=dict(template.meta),
                            _fingerprint=None)
        for url in urls
    ]
