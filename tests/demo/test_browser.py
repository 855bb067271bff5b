"""A real browser renders the replica's images (skipped without playwright + chromium)."""

from __future__ import annotations

import shutil

import pytest

from corocrawl.demo import DemoConfig, DemoServerThread, expected_items

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
def test_browser_renders_thumbs_and_poster() -> None:
    config = DemoConfig(movies=6, seed=8)
    item = expected_items(config)[0]
    with DemoServerThread(config) as server, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(server.url("/cinema/later/beijing/"), timeout=15_000)
            assert page.title() == "北京影讯"
            page.wait_for_load_state("load", timeout=15_000)
            widths = page.eval_on_selector_all(
                "#showing-soon .item a.thumb img", "imgs => imgs.map(i => i.naturalWidth)"
            )
            assert len(widths) == 6 and all(w > 0 for w in widths), widths
            page.goto(server.url(item["url_path"]), timeout=15_000)
            page.wait_for_load_state("load", timeout=15_000)
            size = page.eval_on_selector(
                '#mainpic img[rel="v:image"]', "i => [i.naturalWidth, i.naturalHeight]"
            )
            assert size == [272, 400]
        finally:
            browser.close()
