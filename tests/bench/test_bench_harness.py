"""A small run of the benchmark harness (``bench/``): it must serve the generated site,
run crawlers in their own processes, and give a figure only to a crawler whose items are
all there and right. No timing assertions: speed is the benchmark's business."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from harness import runner, serve, site, verify  # noqa: E402

PAGES = 200
HAS_NGINX = bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> site.Site:
    tmp = tmp_path_factory.mktemp("bench")
    return site.generate(tmp / "site", PAGES)


@pytest.fixture(scope="module", params=["nginx", "aiohttp"])
def context(
    request: pytest.FixtureRequest, generated: site.Site, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[runner.Context]:
    tmp = tmp_path_factory.mktemp("run")
    if request.param == "nginx":
        if not HAS_NGINX:
            pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
        server: serve.Server = serve.Nginx(generated.root, tmp / "nginx")
    else:
        server = serve.AiohttpServer(generated.root)
    with server:
        yield runner.Context(site=generated, server=server, tmp=tmp, say=lambda _: None)


def test_site_has_real_douban_structure(generated: site.Site) -> None:
    from selectolax.lexbor import LexborHTMLParser

    listing = LexborHTMLParser(generated.list_file(0).read_text(encoding="utf-8"))
    items = listing.css("div#showing-soon > div.item")
    assert len(items) == site.PER_LIST
    assert all(len(item.css("li.dt")) == 4 for item in items)
    first = items[0].css_first("div.intro h3 a")
    assert first is not None and first.text() == site.movie_name(0)
    sid = site.subject_id(0)
    detail_html = generated.detail_file(sid).read_text(encoding="utf-8")
    assert 30_000 <= len(detail_html.encode()) <= 62_000
    poster = LexborHTMLParser(detail_html).css_first('div#mainpic > a.nbgnbg > img[rel="v:image"]')
    assert poster is not None and poster.attrs["src"] == site.poster_url(site.pool_index(sid))
    # The jQuery template's <img src="{{= img}}"> comes first, as on the real page.
    assert detail_html.index("{{= img}}") < detail_html.index('rel="v:image"')


@pytest.mark.parametrize("name", ["raw", "bare", "bare-str", "corocrawl", "corocrawl-api"])
def test_crawler_gets_a_figure_only_with_every_item_right(
    context: runner.Context, name: str
) -> None:
    n_lists = context.site.n_lists
    result = runner.run_one(context, runner.BY_NAME[name], n_lists, concurrency=16)
    assert result.problems == []
    assert result.ok
    assert result.pages == n_lists + PAGES
    assert result.pages_per_s > 0 and result.cpu_ms_per_page > 0 and result.peak_rss_mb > 0
    # Over the whole process's wall time, start-up included: never above the server span's.
    assert 0 < result.wall_pages_per_s <= result.pages_per_s
    assert result.wall_rounds == [] and result.wall >= result.span


def test_two_processes_cover_every_list_page(context: runner.Context) -> None:
    result = runner.run_one(context, runner.BY_NAME["bare2"], context.site.n_lists, concurrency=8)
    assert result.problems == [] and result.ok


def test_a_subset_checks_only_its_movies(context: runner.Context) -> None:
    result = runner.run_one(context, runner.BY_NAME["bare"], 2, concurrency=8, tag="-subset")
    assert result.ok and result.movies == 2 * site.PER_LIST


def test_simulated_ideal_lies_between_the_bound_and_the_serial_crawl() -> None:
    lo, hi = 0.05, 0.25
    n_lists, n_movies = 5, 5 * site.PER_LIST
    paths = [site.list_path(p) for p in range(n_lists)]
    paths += [site.detail_path(site.subject_id(k)) for k in range(n_movies)]
    total = runner.sum_latency(paths, lo, hi)
    for concurrency in (1, 8, 64):
        ideal = runner.simulated_ideal(n_lists, n_movies, concurrency, lo, hi)
        assert total / concurrency - 1e-9 <= ideal <= total + 1e-9
    # One at a time, the ideal is every latency end to end.
    assert runner.simulated_ideal(n_lists, n_movies, 1, lo, hi) == pytest.approx(total)
    # Unbounded: the slowest list page, then the slowest of its detail pages.
    unbounded = runner.simulated_ideal(n_lists, n_movies, 10_000, lo, hi)
    assert unbounded <= 2 * hi


def test_issue_table_shows_ratios_targets_and_whether_met() -> None:
    import run

    def result(name: str, wall_pages_per_s: float) -> runner.Result:
        r = runner.Result(name, name, 100, 64, 1, ok=True, wall_pages_per_s=wall_pages_per_s)
        r.wall_rounds = [wall_pages_per_s]
        return r

    results = {
        n: result(n, v)
        for n, v in (("corocrawl", 900), ("bare", 1000), ("bare2", 1500), ("corocrawl2", 1200),
                     ("scrapy", 100), ("crawlee", 200))
    }
    latency = {("corocrawl", 64): result("corocrawl", 400)}
    latency["corocrawl", 64].pct_of_ideal = 0.92
    text = "\n".join(run.issue_table(results, latency))
    assert "| corocrawl / bare loop | 0.90× | 0.85× | met |" in text
    assert "| corocrawl --processes 2 / bare loop ×2 | 0.80× | 0.85× | missed by 6% |" in text
    assert "| faster corocrawl / Scrapy default | 12.00× | 8× | met |" in text  # corocrawl2
    assert "| faster corocrawl / Crawlee ParselCrawler | 6.00× | 5× | met |" in text
    assert "| latency-bound c64, share of ideal | 92% | 90% | met |" in text
    assert "| latency-bound c256, share of ideal | no figure | 80% | not measured |" in text


def test_wrong_or_missing_items_get_no_figure() -> None:
    truth = site.expected_items(40)
    good = [
        {"subject_id": sid, "name": name, "poster_url": poster}
        for sid, (name, poster) in truth.items()
    ]
    assert verify.check_items(good, 40) == []
    # The douban spider writes a movie in two rows (list fields, then the poster): they merge.
    split = [{k: v for k, v in row.items() if k != "poster_url"} for row in good]
    split += [{"subject_id": row["subject_id"], "poster_url": row["poster_url"]} for row in good]
    assert verify.check_items(split, 40) == []
    assert "1 of 40 movies missing" in verify.check_items(good[1:], 40)[0]
    wrong = [dict(row) for row in good]
    wrong[3]["poster_url"] = "https://example.invalid/{{= img}}"
    assert verify.check_items(wrong, 40) == ["1 wrong or missing poster URLs"]
    assert "not on the site" in verify.check_items([*good, {"subject_id": "1", "name": "x"}], 40)[0]


def test_latency_server_delays_each_page_by_its_fixed_latency(
    generated: site.Site, tmp_path: Path
) -> None:
    lo, hi = 0.05, 0.1
    with serve.AiohttpServer(generated.root, latency=(lo, hi)) as server:
        ctx = runner.Context(site=generated, server=server, tmp=tmp_path, say=lambda _: None)
        result = runner.run_one(ctx, runner.BY_NAME["bare"], 1, concurrency=32)
        hits = server.take_log()
    assert result.ok and result.movies == site.PER_LIST
    assert hits == []  # run_one took the crawl's log
    paths = generated.list_paths(1) + [
        site.detail_path(site.subject_id(k)) for k in range(site.PER_LIST)
    ]
    assert runner.sum_latency(paths, lo, hi) == pytest.approx(
        sum(serve.latency_of(p, lo, hi) for p in paths)
    )
    # Σ latency ÷ concurrency bounds the span from below (the list page comes first).
    assert result.span >= serve.latency_of(paths[0], lo, hi)


def test_corocrawl_on_two_processes_has_a_figure_or_says_it_is_missing(
    context: runner.Context,
) -> None:
    result = runner.run_one(context, runner.BY_NAME["corocrawl2"], 2, concurrency=8)
    if runner.corocrawl_has_processes():
        assert result.ok, result.problems
    else:
        assert not result.ok
        assert result.problems == ["missing: `corocrawl douban` has no --processes option"]
