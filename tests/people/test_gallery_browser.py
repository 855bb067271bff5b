"""The gallery in a real browser: Debian's headless Chromium driven by Playwright.

Skipped, loudly, where Playwright or Chromium is missing; under ``CI=true`` that
is a failure instead, so CI can never pass without running it. Set
``UPDATE_GALLERY_SCREENSHOT=1`` to refresh ``docs/gallery.png``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from corocrawl._posters import download_posters
from corocrawl.report import write_gallery

from ._images import poster_png
from ._movies import movies
from .conftest import SKIPPED_BROWSER_TESTS

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "gallery.png"
MOVIES = 24
EVIL_NAME = '<script>window.__pwned = 1</script>"引号" & <b>粗</b>'


def _require_browser() -> Any:
    reason = ""
    try:
        from playwright import async_api
    except ImportError:
        reason = "Playwright for Python is not installed (pip install playwright)"
    else:
        if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
            reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if reason:
        message = f"BROWSER TEST NOT RUN: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        SKIPPED_BROWSER_TESTS.append(message)  # a banner at the end of the run (conftest)
        pytest.skip(message)
    return async_api


@pytest.fixture
async def gallery_site(tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    """A site on 127.0.0.1 with the gallery, its local posters and 'remote' posters."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()

    async def remote_poster(request: web.Request) -> web.Response:
        return web.Response(body=poster_png(int(request.match_info["i"])), content_type="image/png")

    app = web.Application()
    app.router.add_get("/img/poster/{i:[0-9]+}.png", remote_poster)
    app.router.add_static("/", site_dir)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        items = movies(MOVIES, base_url=f"{base}/img")
        items[6]["name"] = EVIL_NAME  # undated: its card sits last, out of the screenshot
        # Half the posters are downloaded for real into the site's posters/ folder;
        # the rest stay remote URLs, so the page shows both kinds.
        report = await download_posters(items[: MOVIES // 2], site_dir / "posters")
        assert report.count("downloaded") == MOVIES // 2, report.failures
        write_gallery(items, site_dir / "movies.html", poster_dir=site_dir / "posters",
                      remote_posters=True)
        yield f"{base}/movies.html", MOVIES
    finally:
        await runner.cleanup()


async def test_gallery_renders_in_chromium(
    gallery_site: tuple[str, int], tmp_path: Path
) -> None:
    async_api = _require_browser()
    url, expected_cards = gallery_site
    problems: list[str] = []
    async with async_api.async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
            timeout=30_000,
        )
        try:
            page = await context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
            page.on(
                "console",
                lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                if msg.type in ("error", "warning")
                else None,
            )
            page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
            page.on(
                "response",
                lambda resp: problems.append(f"HTTP {resp.status}: {resp.url}")
                if resp.status >= 400
                else None,
            )
            response = await page.goto(url, wait_until="load", timeout=15_000)
            assert response is not None and response.status == 200

            assert await page.locator("article.card").count() == expected_cards
            await page.wait_for_function(
                "() => [...document.images].every(img => img.complete)", timeout=15_000
            )
            widths = await page.eval_on_selector_all(
                "img.poster", "imgs => imgs.map(img => [img.naturalWidth, img.src])"
            )
            assert len(widths) == expected_cards
            broken = [src for width, src in widths if width <= 0]
            assert not broken, f"posters that did not load: {broken}"
            local = [src for _, src in widths if "/posters/" in src]
            assert len(local) == expected_cards // 2

            # The hostile name is text on the page, and its script never ran.
            assert await page.evaluate("() => window.__pwned === undefined")
            names = await page.locator("article.card h3").all_inner_texts()
            assert EVIL_NAME in names

            shot = tmp_path / "gallery.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"\ngallery screenshot: {shot}")
            if os.environ.get("UPDATE_GALLERY_SCREENSHOT") == "1":
                DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                await page.screenshot(path=str(DOCS_SCREENSHOT), full_page=False)
                print(f"updated {DOCS_SCREENSHOT}")

            # On a phone: two columns and nothing wider than the screen.
            await page.set_viewport_size({"width": 390, "height": 844})
            layout = await page.evaluate(
                """() => ({
                    overflow: document.documentElement.scrollWidth - window.innerWidth,
                    columns: getComputedStyle(document.querySelector('.grid'))
                        .gridTemplateColumns.split(' ').length,
                })"""
            )
            assert layout["overflow"] <= 0, layout
            assert layout["columns"] == 2, layout
            phone = tmp_path / "gallery-phone.png"
            await page.screenshot(path=str(phone))
            print(f"phone screenshot: {phone}")
        finally:
            await context.close()
    assert not problems, problems
    assert shutil.disk_usage(tmp_path)  # keep tmp_path alive for the printed paths
