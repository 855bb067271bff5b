"""Crawl settings as one frozen object.

Layering (defaults → corocrawl.toml → COROCRAWL_* environment → CLI flags) is
done once by ``corocrawl.cli._settings.resolve``, into values that each know
their source; ``corocrawl.cli._options.crawl_config`` turns them into this
object over the command's (or the spider file's) base. The engine only ever
sees a ``CrawlConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import __about__

DEFAULT_USER_AGENT = f"corocrawl/{__about__.__version__} (+https://pypi.org/project/corocrawl/)"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request time limits in seconds (None: no limit)."""

    connect: float | None = 10.0
    read: float | None = 30.0
    total: float | None = 60.0


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    """Everything that shapes a crawl. Every field has a CLI flag of the same name."""

    concurrency: int = 32
    #: Processes that each fetch and parse with their share of ``concurrency``,
    #: over one frontier kept by the main process; 1 crawls in this process alone.
    processes: int = 1
    per_host: int = 8
    delay: float = 0.0
    jitter: float = 0.5
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_body: int = 10 * 1024 * 1024
    max_redirects: int = 10
    max_depth: int | None = None
    max_pages: int | None = None
    max_time: float | None = None
    allowed_domains: tuple[str, ...] = ()
    user_agent: str = DEFAULT_USER_AGENT
    #: Extra request headers, sent with every request (a ``User-Agent`` here wins).
    headers: tuple[tuple[str, str], ...] = ()
    #: An HTTP proxy for every request, e.g. ``http://user:pass@proxy:3128``.
    proxy: str | None = None
    #: Without ``proxy``: use HTTP_PROXY/HTTPS_PROXY/NO_PROXY (and netrc) as curl does.
    trust_env: bool = True
    stop_grace: float = 10.0
    commit_batch: int = 256
    commit_interval: float = 0.05

    def __post_init__(self) -> None:
        from ._exceptions import ConfigError

        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.processes < 1:
            raise ConfigError(f"processes must be at least 1, got {self.processes}")
        if self.per_host < 1:
            raise ConfigError(f"per_host must be at least 1, got {self.per_host}")
        if self.delay < 0:
            raise ConfigError(f"delay must be zero or more seconds, got {self.delay}")
        if self.retries < 0:
            raise ConfigError(f"retries must be zero or more, got {self.retries}")
        if self.proxy is not None and not self.proxy.startswith(("http://", "https://")):
            raise ConfigError(
                f"proxy must be an http:// or https:// URL like http://127.0.0.1:3128, "
                f"got {self.proxy!r}"
            )
        if self.max_body < 1024:
            raise ConfigError(f"max_body must be at least 1024 bytes, got {self.max_body}")
