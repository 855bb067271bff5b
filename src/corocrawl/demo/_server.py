"""Running the replica: in the current event loop, or in a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from ._app import SITE_KEY, build_app
from ._config import DemoConfig
from ._stats import DemoStats

log = logging.getLogger(__name__)

# Handlers still running at shutdown (a slow latency sleep) get this long.
SHUTDOWN_TIMEOUT = 1.0
THREAD_START_TIMEOUT = 30.0


class DemoServer:
    """The replica site on ``host:port`` (port 0: a free one) in the running event loop.

    >>> async def main():                                         # doctest: +SKIP
    ...     async with DemoServer(DemoConfig(movies=20)) as server:
    ...         print(server.url("/cinema/later/beijing/"))
    """

    def __init__(
        self, config: DemoConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or DemoConfig()
        self.host = host
        self.port = port
        self.stats = DemoStats()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` without a trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server, e.g. ``url("/cinema/later/beijing/")``."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def list_urls(self) -> list[str]:
        """The list page of every city, in config order."""
        return [self.url(f"/cinema/later/{city}/") for city in self.config.cities]

    async def start(self) -> None:
        """Bind and start serving. Raises ``OSError`` if the port is taken."""
        if self._runner is not None:
            raise RuntimeError("DemoServer already started")
        app = build_app(self.config, self.stats)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("replica serving %d movies on %s", self.config.movies, self.base_url)

    def warm(self, host: str | None = None) -> None:
        """Render every page now (for Host ``host``, default ``host:port``), not on first request.

        Benchmarks call this before timing: a first request of a detail page
        renders it (~0.2-0.5 ms), later ones are one join of cached bytes.
        """
        if self._runner is None:
            raise RuntimeError("start the DemoServer before warming it")
        site = self._runner.app[SITE_KEY]
        site.warm(f"http://{host}" if host else self.base_url)

    async def close(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> DemoServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class DemoServerThread:
    """The replica in a background thread with its own event loop, for sync code.

    >>> with DemoServerThread(DemoConfig(movies=20)) as server:   # doctest: +SKIP
    ...     urllib.request.urlopen(server.url("/robots.txt")).read()

    ``use_uvloop=True`` runs the thread's loop on uvloop when it is installed.
    """

    def __init__(
        self,
        config: DemoConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        use_uvloop: bool = False,
    ) -> None:
        self._server = DemoServer(config, host, port)
        self._use_uvloop = use_uvloop
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def config(self) -> DemoConfig:
        """What the server serves."""
        return self._server.config

    @property
    def stats(self) -> DemoStats:
        """Live counters (thread-safe to read)."""
        return self._server.stats

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        return self._server.port

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return self._server.base_url

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server."""
        return self._server.url(path)

    def list_urls(self) -> list[str]:
        """The list page of every city."""
        return self._server.list_urls()

    def warm(self, host: str | None = None, timeout: float = 300.0) -> None:
        """Render every page now, in the server's thread (see ``DemoServer.warm``)."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("start the DemoServerThread before warming it")

        async def warm() -> None:
            self._server.warm(host)

        asyncio.run_coroutine_threadsafe(warm(), self._loop).result(timeout)

    def _loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop] | None:
        if not self._use_uvloop:
            return None
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed; the replica thread uses asyncio's loop")
            return None
        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=self._loop_factory()) as runner:
                runner.run(self._serve())
        except BaseException as exc:  # reported to the starting thread, not lost
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self._server:
            self._ready.set()
            await self._stop.wait()

    def start(self) -> None:
        """Start the thread and wait until the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("DemoServerThread already started")
        self._thread = threading.Thread(target=self._run, name="corocrawl-demo", daemon=True)
        self._thread.start()
        if not self._ready.wait(THREAD_START_TIMEOUT):
            raise TimeoutError("the replica site did not start within 30 s")
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        """Stop the server and join the thread. Safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                self._loop.call_soon_threadsafe(self._stop.set)
        thread.join(THREAD_START_TIMEOUT)

    def __enter__(self) -> DemoServerThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
