"""``--header``, ``headers`` in corocrawl.toml, ``--proxy`` and HTTP_PROXY/NO_PROXY,
against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from recording_server import RecordingServer

from corocrawl import CrawlConfig, Request
from corocrawl._exceptions import ConfigError
from corocrawl._fetcher import Fetcher
from corocrawl.cli import main

pytestmark = pytest.mark.usefixtures("no_proxy_env")


def fetch(url: str, config: CrawlConfig) -> str:
    async def go() -> str:
        async with Fetcher(config) as fetcher:
            return (await fetcher.fetch(Request(url))).text

    return asyncio.run(go())


def crawl(url: str, tmp_path: Path, *flags: str) -> int:
    return main(["crawl", url, "--db", str(tmp_path / "c.db"), "--max-pages", "1",
                 "--quiet", *flags])


def test_http_proxy_variable_routes_through_the_proxy(
    origin: RecordingServer, proxy: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    text = fetch(f"{origin.url}/shelf", CrawlConfig())
    assert "via proxy" in text
    assert [s.target for s in proxy.seen] == [f"{origin.url}/shelf"]
    assert origin.seen == []


def test_no_proxy_and_trust_env_off_go_direct(
    origin: RecordingServer, proxy: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert "via proxy" not in fetch(f"{origin.url}/a", CrawlConfig(trust_env=False))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert "via proxy" not in fetch(f"{origin.url}/b", CrawlConfig())
    assert proxy.seen == []
    assert [s.target for s in origin.seen] == ["/a", "/b"]


def test_crawl_with_http_proxy_sends_robots_and_pages_through_it(
    origin: RecordingServer, proxy: RecordingServer, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    assert crawl(f"{origin.url}/", tmp_path) == 0
    assert {s.target for s in proxy.seen} == {f"{origin.url}/robots.txt", f"{origin.url}/"}
    assert origin.seen == []


def test_proxy_flag_and_headers_reach_the_proxy(
    origin: RecordingServer, proxy: RecordingServer, tmp_path: Path
) -> None:
    code = crawl(f"{origin.url}/", tmp_path, "--proxy", proxy.url, "--header", "X-Team: books",
                 "--header", "Accept-Language: zh-CN, en;q=0.5")
    assert code == 0
    page = proxy.pages()[0]
    assert page.target == f"{origin.url}/"
    assert page.headers["x-team"] == "books"
    assert page.headers["accept-language"] == "zh-CN, en;q=0.5"
    assert origin.seen == []


def test_header_flag_arrives_at_the_server(origin: RecordingServer, tmp_path: Path) -> None:
    assert crawl(f"{origin.url}/", tmp_path, "--header", "X-Team: books",
                 "--header", "User-Agent: shelf-bot/1") == 0
    for seen in origin.seen:  # robots.txt and the page alike
        assert seen.headers["x-team"] == "books"
        assert seen.headers["user-agent"] == "shelf-bot/1"


def test_headers_from_corocrawl_toml(
    origin: RecordingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "corocrawl.toml").write_text('proxy = "socks5://127.0.0.1:1080"\n',
                                             encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # A proxy aiohttp cannot use: a one-line usage error, before any request.
    assert crawl(f"{origin.url}/", tmp_path) == 2
    assert origin.seen == []
    (tmp_path / "corocrawl.toml").write_text('headers = ["X-Team: books", "X-Shelf: top"]\n',
                                             encoding="utf-8")
    assert crawl(f"{origin.url}/", tmp_path) == 0
    assert origin.pages()[0].headers["x-team"] == "books"
    assert origin.pages()[0].headers["x-shelf"] == "top"


@pytest.mark.parametrize("flag", [["--header", "no colon"], ["--header", ": empty"],
                                  ["--proxy", "socks5://127.0.0.1:1080"], ["--proxy", "http://"]])
def test_bad_header_or_proxy_is_a_usage_error(
    flag: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        crawl("http://127.0.0.1:9/", tmp_path, *flag)
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_config_rejects_a_proxy_that_is_not_http() -> None:
    with pytest.raises(ConfigError, match="http://"):
        CrawlConfig(proxy="socks5://127.0.0.1:1080")


def test_posters_go_through_the_proxy_with_the_crawl_headers(
    origin: RecordingServer, proxy: RecordingServer, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from corocrawl._posters import download_posters

    items = [{"subject_id": "1", "poster_url": f"{origin.url}/p/1.jpg"},
             {"subject_id": "2", "poster_url": f"{origin.url}/p/2.jpg"}]
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    asyncio.run(download_posters(items[:1], tmp_path / "a", retries=0,
                                 extra_headers=[("X-Team", "books")]))
    asyncio.run(download_posters(items[1:], tmp_path / "b", retries=0, proxy=proxy.url))
    # The proxy answers HTML, so no poster is saved: what matters is where they went.
    assert [s.target for s in proxy.seen] == [f"{origin.url}/p/1.jpg", f"{origin.url}/p/2.jpg"]
    assert proxy.seen[0].headers["x-team"] == "books"
    assert origin.seen == []


def test_netrc_credentials_are_sent_unless_the_user_gives_authorization(
    origin: RecordingServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The environment is read once per crawl (not by aiohttp per request); the
    # answers must stay what aiohttp's trust_env gives.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login reader password s3cret\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    fetch(f"{origin.url}/a", CrawlConfig())
    fetch(f"{origin.url}/b", CrawlConfig(trust_env=False))
    fetch(f"{origin.url}/c", CrawlConfig(headers=(("Authorization", "Bearer mine"),)))
    sent = {s.target: s.headers.get("authorization") for s in origin.seen}
    assert sent == {"/a": "Basic cmVhZGVyOnMzY3JldA==", "/b": None, "/c": "Bearer mine"}
