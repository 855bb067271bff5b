"""The generic crawl end to end against the trap site: exactly the right pages, once each."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from corocrawl.spiders._pagestore import PAGE_FIELDS, read_pages
from corocrawl.spiders.generic import GenericOptions

from .conftest import FAST, run_crawl
from .site import TrapSite

#: Every page a default crawl from "/" must record (requested URL paths).
DEFAULT_SET = {
    "/", "/rel/", "/rel/page1", "/abs", "/full", "/proto", "/frag", "/dup", "/tilde/~foo",
    "/based/", "/b/target", "/r1", "/moved", "/loop-a", "/missing", "/broken", "/slow",
    "/big.html", "/from-big-start", "/binary.html", "/doc.pdf", "/private/open",
    "/nofollow-target", "/deep/1", "/deep/2", "/deep/3",
}
#: Linked (or in the sitemaps) but never to be requested by a default crawl.
NEVER = {"/private/secret", "/from-pdf", "/from-binary", "/from-big-end", "/elsewhere",
         "/orphan-1", "/orphan-2", "/nofollow-target?x"}


def by_path(site: TrapSite, db: Path) -> dict[str, dict[str, object]]:
    pages = {}
    for page in read_pages(db):
        url = str(page["requested_url"])
        key = url.removeprefix(site.base) if url.startswith(site.base + "/") else url
        pages[key] = page
    return pages


async def test_default_crawl_records_exactly_the_reachable_pages(
    site: TrapSite, tmp_path: Path
) -> None:
    db = tmp_path / "crawl.db"
    result = await run_crawl(GenericOptions([site.url("/")]), db)
    pages = by_path(site, db)
    gone = f"http://127.0.0.1:{site.dead_port}/gone"
    assert set(pages) == DEFAULT_SET | {gone}
    assert all(list(page) == list(PAGE_FIELDS) for page in pages.values())

    # What the server saw: each page once, robots.txt once, nothing out of scope.
    seen = Counter(site.paths())
    assert seen["/robots.txt"] == 1
    fetched_once = DEFAULT_SET - {"/r1", "/moved", "/loop-a"}
    assert all(seen[path] == 1 for path in fetched_once), seen
    assert not NEVER & set(seen), NEVER & set(seen)
    assert site.paths("localhost") == []
    assert [seen[p] for p in ("/r1", "/r2", "/r3", "/r4", "/final")] == [1, 1, 1, 1, 1]
    # A loop is cut once max_redirects redirects were followed: the start and 10 hops.
    assert seen["/loop-a"] + seen["/loop-b"] == FAST.max_redirects + 1

    ok = pages["/"]
    assert ok["status"] == 200 and ok["title"] == "Trap site" and ok["depth"] == 0
    assert ok["referrer"] is None and ok["error"] is None and ok["content_type"] == "text/html"
    # In-scope distinct links on "/": all but off-site, malformed and other schemes;
    # the self links ("", "#top") count once as "/".
    assert ok["links_out"] == 23
    assert pages["/b/target"]["referrer"] == site.url("/based/")
    assert pages["/rel/page1"]["depth"] == 2 and pages["/deep/3"]["depth"] == 3

    chain = pages["/r1"]
    assert (chain["url"], chain["status"]) == (site.url("/final"), 200)
    assert pages["/moved"]["url"] == site.url("/final2")
    assert str(pages["/loop-a"]["error"]).startswith("redirect_loop")
    assert (pages["/missing"]["status"], pages["/missing"]["error"]) == (404, "http_404: HTTP 404")
    assert pages["/broken"]["status"] == 500
    assert pages["/slow"]["status"] is None and str(pages["/slow"]["error"]).startswith("timeout")
    assert str(pages[gone]["error"]).startswith("connect")

    big = pages["/big.html"]
    assert big["status"] == 200 and big["bytes"] == FAST.max_body
    assert "size limit" in str(big["error"])
    binary = pages["/binary.html"]
    assert binary["links_out"] == 0 and "binary" in str(binary["error"])
    pdf = pages["/doc.pdf"]
    assert (pdf["content_type"], pdf["title"], pdf["links_out"], pdf["error"]) == (
        "application/pdf", None, 0, None)

    assert result.malformed_links == 3
    assert result.robots_blocked == 1  # /private/secret
    assert result.robots_fetches == 2  # the site's and the closed port's robots.txt
    assert result.stats.dropped["robots"] == 1
    assert result.stats.dropped["off-site"] == 1  # localhost/elsewhere


async def test_allow_domain_follows_the_other_host(site: TrapSite, tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    await run_crawl(GenericOptions([site.url("/")], allow_domains=["localhost"]), db)
    pages = by_path(site, db)
    assert site.other + "/elsewhere" in pages
    # Once there, the link home leads on through the whole site under its other name.
    other = site.paths("localhost")
    assert other[:2] == ["/robots.txt", "/elsewhere"] and Counter(other)["/robots.txt"] == 1


async def test_include_exclude_max_depth(site: TrapSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    options = GenericOptions([site.url("/")], include=[r"/deep/", r"/rel/"], exclude=[r"/deep/3"])
    await run_crawl(options, db)
    assert set(by_path(site, db)) == {"/", "/rel/", "/rel/page1", "/deep/1", "/deep/2"}

    db = tmp_path / "b.db"
    shallow = dataclasses.replace(FAST, max_depth=1)
    await run_crawl(GenericOptions([site.url("/deep/1")]), db, shallow)
    assert set(by_path(site, db)) == {"/deep/1", "/deep/2"}


async def test_max_pages_caps_the_crawl(site: TrapSite, tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    await run_crawl(GenericOptions([site.url("/")]), db, dataclasses.replace(FAST, max_pages=5))
    assert len(read_pages(db)) == 5


async def test_respect_nofollow(site: TrapSite, tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    options = GenericOptions(
        [site.url("/")], respect_nofollow=True, include=[r":\d+/$", "nofollow"]
    )
    await run_crawl(options, db)
    assert set(by_path(site, db)) == {"/"}


async def test_ignore_robots_fetches_disallowed_pages(site: TrapSite, tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    result = await run_crawl(
        GenericOptions([site.url("/")], ignore_robots=True, include=[r":\d+/$", "/private/"]), db
    )
    assert set(by_path(site, db)) == {"/", "/private/secret", "/private/open"}
    assert "/robots.txt" not in site.paths() and result.robots_fetches == 0


async def test_sitemaps_seed_orphans_within_scope_and_robots(
    site: TrapSite, tmp_path: Path
) -> None:
    db = tmp_path / "crawl.db"
    result = await run_crawl(
        GenericOptions([site.url("/")], sitemaps=True, include=["orphan", "/abs$"]), db
    )
    pages = by_path(site, db)
    assert set(pages) == {"/", "/abs", "/orphan-1", "/orphan-2"}
    assert pages["/orphan-2"]["depth"] == 0
    assert result.sitemaps is not None and len(result.sitemaps.sitemaps_read) == 3
    assert "/private/secret" not in site.paths() and site.paths("localhost") == []


@pytest.mark.parametrize("processes", [1, 2])
async def test_crawl_delay_is_honoured_by_server_timestamps(tmp_path: Path,
                                                            processes: int) -> None:
    # With processes=2 robots.txt is read in the main process, whose frontier
    # spaces the requests of both crawl processes.
    trap = TrapSite(crawl_delay=0.2, generated=8)
    await trap.start()
    try:
        result = await run_crawl(
            GenericOptions([trap.url("/gen/0")]), tmp_path / "crawl.db",
            dataclasses.replace(FAST, per_host=8, concurrency=8, processes=processes),
        )
    finally:
        await trap.stop()
    times = [hit.at for hit in trap.hits]
    assert next(h.path for h in trap.hits) == "/robots.txt"
    assert len(times) == 9  # robots.txt + 8 pages
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The crawler starts requests 0.2 s apart. The server sees them a little later,
    # and one may arrive late (a GC pause between start and send), shrinking the
    # next gap: so no k requests ever come faster than 0.2 s * k less 0.1 s, and
    # the typical gap is the Crawl-delay.
    for i in range(len(times)):
        for k in range(1, len(times) - i):
            assert times[i + k] - times[i] >= 0.2 * k - 0.1, gaps
    assert statistics.median(gaps) >= 0.195, gaps
    assert result.politeness[f"127.0.0.1:{trap.port}"]["floor_s"] == 0.2


async def test_adaptive_delay_follows_latency(tmp_path: Path) -> None:
    trap = TrapSite(generated=30, latency=0.08)
    await trap.start()
    try:
        result = await run_crawl(GenericOptions([trap.url("/gen/0")]), tmp_path / "crawl.db")
    finally:
        await trap.stop()
    host = result.politeness[f"127.0.0.1:{trap.port}"]
    # Target concurrency 2: about half the observed latency between request
    # starts (80 ms served; a loaded machine observes more, and so waits more).
    observed = host["mean_latency_ms"] / 1000
    assert observed >= 0.08, host
    assert 0.25 * observed < host["delay_s"] < observed, host
    times = sorted(hit.at for hit in trap.hits if hit.path.startswith("/gen/"))
    late_gaps = [b - a for a, b in itertools.pairwise(times[10:])]  # after it has learned
    assert sum(late_gaps) / len(late_gaps) > 0.015, late_gaps


async def test_adaptive_delay_keeps_a_busy_server_near_target_concurrency(
    tmp_path: Path,
) -> None:
    # Each request takes 10 ms plus 30 ms per request in progress: pushing harder
    # only makes it slower. per_host=8 without the throttle keeps ~7 in progress.
    trap = TrapSite(generated=30, latency=0.01, latency_per_active=0.03)
    await trap.start()
    try:
        result = await run_crawl(GenericOptions([trap.url("/gen/0")]), tmp_path / "crawl.db")
    finally:
        await trap.stop()
    assert len(trap.concurrency_seen) == 31  # robots.txt + 30 pages
    assert statistics.mean(trap.concurrency_seen) < 4, trap.concurrency_seen
    assert result.politeness[f"127.0.0.1:{trap.port}"]["delay_s"] > 0.02


async def test_save_pages_and_warc(site: TrapSite, tmp_path: Path) -> None:
    out, warc = tmp_path / "mirror", tmp_path / "site.warc.gz"
    options = GenericOptions(
        [site.url("/")],
        include=[r":\d+/$", "/rel/", "/doc.pdf", "/missing"],
        save_pages=out,
        warc=warc,
    )
    result = await run_crawl(options, tmp_path / "crawl.db")
    host_dir = out / f"127.0.0.1%3A{site.port}"
    saved = sorted(p.relative_to(host_dir).as_posix() for p in host_dir.rglob("*") if p.is_file())
    assert saved == ["%index.html", "doc.pdf", "rel/%index.html", "rel/page1%.html"]
    assert (host_dir / "doc.pdf").read_bytes().startswith(b"%PDF")
    with warc.open("rb") as stream:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                    r.http_headers.get_statuscode() if r.rec_type == "response" else None)
                   for r in ArchiveIterator(stream)]
    responses = {uri.removeprefix(site.base): status for kind, uri, status in records
                 if kind == "response"}
    assert responses == {"/": "200", "/rel/": "200", "/rel/page1": "200", "/doc.pdf": "200",
                         "/missing": "404"}
    assert sum(kind == "request" for kind, _, _ in records) == 5
    assert result.saved_pages == 4 and result.warc_records == 10


async def test_processes_crawl_the_same_pages_into_one_warc(
        site: TrapSite, tmp_path: Path) -> None:
    db, warc = tmp_path / "crawl.db", tmp_path / "site.warc.gz"
    result = await run_crawl(GenericOptions([site.url("/")], warc=warc), db,
                             dataclasses.replace(FAST, processes=2))
    pages = by_path(site, db)
    assert set(pages) == DEFAULT_SET | {f"http://127.0.0.1:{site.dead_port}/gone"}
    seen = Counter(site.paths())
    # robots.txt is read once, by the main process, for both crawl processes.
    assert seen["/robots.txt"] == 1 and "/private/secret" not in seen
    assert result.robots_blocked == 1 and result.stats.dropped["robots"] == 1
    fetched_once = DEFAULT_SET - {"/r1", "/moved", "/loop-a"}
    assert all(seen[path] == 1 for path in fetched_once), seen
    # Both processes append to one WARC file: every record whole and readable.
    with warc.open("rb") as stream:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
                   for r in ArchiveIterator(stream)]
    responses = {uri.removeprefix(site.base) for kind, uri in records if kind == "response"}
    fetched = {path for path, page in pages.items() if page["status"] is not None}
    assert responses == {str(pages[path]["url"]).removeprefix(site.base) for path in fetched}
    assert sum(kind == "request" for kind, _ in records) == len(responses)
