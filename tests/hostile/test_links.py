"""F4: a malformed link in any spider is an error of its page, never the end of the crawl."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from corocrawl import Crawler, Request, Response

from .server import HostileServer

_ITEM = """<div class="item"><a class="thumb" href="{href}"><img src="/thumb/{sid}.jpg"></a>
<div class="intro"><h3><a href="{href}">Movie {sid}</a></h3>
<ul><li class="dt">12月24日</li><li class="dt">剧情</li><li class="dt">美国</li>
<li class="dt"><span>{sid}00人想看</span></li></ul></div></div>"""


def list_page() -> str:
    """A douban list page of three movies; the second links to port 99999."""
    hrefs = {"1": "/subject/1/", "2": "http://127.0.0.1:99999/subject/2/", "3": "/subject/3/"}
    items = "".join(_ITEM.format(href=href, sid=sid) for sid, href in hrefs.items())
    return (f"<html><head><title>北京影讯</title></head><body>"
            f'<div id="showing-soon">{items}</div></body></html>')


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corocrawl", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "200"})
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_douban_list_page_with_a_bad_port_keeps_every_movie(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.page("/cinema/later/beijing/", list_page())
    for sid in ("1", "3"):
        hostile.page(f"/subject/{sid}/", f'<div id="mainpic"><img src="/poster/{sid}.jpg"></div>')
    out_file = tmp_path / "movies.jsonl"
    code, out, err = await run_cli(
        "douban", "--start-url", hostile.url("/cinema/later/beijing/"),
        "--db", str(tmp_path / "c.db"), "-o", str(out_file), "--delay", "0")
    # On main: exit 2 with "invalid URL ... Port out of range", movies 2 and 3 lost.
    assert code == 0, err
    assert "Traceback" not in err
    assert "3 items, 1 errors" in out or "3 items, 1 error" in out, out
    assert hostile.fetched("/subject/1/") == 1 and hostile.fetched("/subject/3/") == 1
    lines = out_file.read_text("utf-8").splitlines()
    assert len(lines) == 3


async def test_malformed_request_from_a_callback_is_a_page_error(
    hostile: HostileServer,
) -> None:
    hostile.page("/", "<p>start</p>")
    hostile.page("/next", "<p>next</p>")
    crawler = Crawler(retries=0)
    seen: list[str] = []

    @crawler.start(hostile.url("/"))
    async def page(resp: Response) -> Any:
        seen.append(resp.url)
        if resp.url.endswith("/next"):
            return
        yield Request("http://127.0.0.1:99999/direct", page)
        yield resp.follow("/next", page)
        yield resp.follow("http://127.0.0.1:99999/followed", page)

    stats = await crawler.crawl()
    assert seen == [hostile.url("/"), hostile.url("/next")]
    assert stats.stop_reason is None or "99999" not in stats.stop_reason
    [error] = [e for e in stats.errors if e.url == hostile.url("/")]
    assert "99999" in error.message


async def test_a_bad_start_url_is_still_the_users_one_line_error(tmp_path: Path) -> None:
    code, _, err = await run_cli("douban", "--start-url", "http://127.0.0.1:99999/cinema/",
                                 "--db", str(tmp_path / "c.db"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "invalid URL" in err, err
