"""Every error corocrawl raises on purpose.

The tree::

    CorocrawlError                 base: str(error) is a one-line message saying what to do
    ├── UsageError                 bad input from the user: a URL, a flag, a path (CLI exit 2)
    │   ├── InvalidURL             a URL that cannot be crawled
    │   ├── InvalidSelector        a CSS selector the parser rejects
    │   └── ConfigError            a bad configuration key or value
    ├── StorageError               the database or an export file cannot be used
    │   └── StoreLocked            another process is crawling into the same --db
    ├── BlockedError               the site refuses us as a bot (HTTP 418 / 403)
    ├── InvalidResponse            a page is not what the callback asked for (resp.json())
    ├── MissingExtra               an optional dependency is not installed
    └── RunningLoopError           crawler.run() called inside a running event loop

Errors of single requests (timeouts, resets, 5xx) are not raised to the user:
the engine records them with the URL and goes on (see ``corocrawl._stats``).
"""

from __future__ import annotations


class CorocrawlError(Exception):
    """Base class. ``str(err)`` is a one-line message meant for the user."""


class UsageError(CorocrawlError):
    """The user gave us something we cannot use; the CLI exits with code 2."""


class InvalidURL(UsageError):
    """A URL that is malformed or has a scheme we do not crawl."""


class InvalidSelector(UsageError):
    """A CSS selector that the parser rejects."""


class ConfigError(UsageError):
    """An unknown configuration key or a value of the wrong type."""


class StorageError(CorocrawlError):
    """The crawl database or an export file cannot be opened or written."""


class StoreLocked(StorageError):
    """Another live process holds the same crawl database."""


class BlockedError(CorocrawlError):
    """The site answered 418/403: it blocks us as a bot."""


class InvalidResponse(CorocrawlError):
    """A response that is not what the callback expects, e.g. ``resp.json()`` on HTML."""


class MissingExtra(CorocrawlError):
    """An optional dependency is missing; the message names the pip extra."""


class RunningLoopError(CorocrawlError):
    """``Crawler.run()`` was called where an event loop is already running."""
