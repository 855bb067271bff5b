# ruff: noqa: E501 - the report's table rows read best as one f-string each
"""corocrawl's benchmark suite (``make bench``): corocrawl against the I/O ceiling, a bare
hand-written loop, Scrapy, Crawlee, the lesson's crawler, sequential requests and threads,
on a generated douban-shaped site served by nginx on loopback.

    python bench/run.py                               # everything but the 100,000-page run
    python bench/run.py --only corocrawl,bare --pages 1000
    python bench/run.py --memory                      # also the 100,000-page peak-RSS run
    python bench/run.py --memory-only --only corocrawl,bare   # make bench-memory

Every crawler runs in its own process; its items are checked against the site's truth
and a crawler that misses or gets wrong any item gets no figure. Results go to
bench/out/results.json and bench/out/results.md (paste the latter into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import runner, serve, site

OUT = Path(__file__).resolve().parent / "out"
LATENCY = (0.05, 0.25)


def _fmt_row(r: runner.Result, latency: bool = False) -> str:
    if not r.ok:
        return f"| {r.label} | {r.movies:,} | no figure: {'; '.join(r.problems)[:160]} | | | | | |"
    if latency:
        return (
            f"| {r.label} | {r.concurrency} | {r.wall:.2f} s | {r.span:.2f} s | {r.ideal:.2f} s "
            f"| **{100 * r.pct_of_ideal:.0f}%** | {r.pages_per_s:,.0f} |"
        )
    return (
        f"| {r.label} | {r.movies:,} | **{r.wall_pages_per_s:,.0f}** | {r.pages_per_s:,.0f} "
        f"| {r.cpu_ms_per_page:.2f} | {r.peak_rss_mb:,.0f} | {r.wall:.1f} "
        f"| {r.startup_s:.2f} / {r.teardown_s:.2f} |"
    )


def _ratio(results: dict[str, runner.Result], a: str, b: str) -> float | None:
    """``a``'s best whole-process pages/s over ``b``'s."""
    ra, rb = results.get(a), results.get(b)
    if ra is None or rb is None or not ra.ok or not rb.ok or rb.wall_pages_per_s == 0:
        return None
    return ra.wall_pages_per_s / rb.wall_pages_per_s


def _round_ratios(results: dict[str, runner.Result], a: str, b: str) -> list[float]:
    """``a`` over ``b`` round by round: both ran minutes apart under the same outside load."""
    ra, rb = results.get(a), results.get(b)
    if ra is None or rb is None:
        return []
    return [x / y for x, y in zip(ra.wall_rounds, rb.wall_rounds, strict=False) if x and y]


def _faster(results: dict[str, runner.Result], *names: str) -> str | None:
    """The name among ``names`` with the best whole-process pages/s."""
    ok = [n for n in names if n in results and results[n].ok]
    return max(ok, key=lambda n: results[n].wall_pages_per_s, default=None)


#: The targets of issue 13: (what, numerator, denominator, at least). "best" is the
#: faster of corocrawl in one process and with --processes 2.
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("corocrawl / bare loop", "corocrawl", "bare", 0.85),
    ("corocrawl --processes 2 / bare loop ×2", "corocrawl2", "bare2", 0.85),
    ("faster corocrawl / Scrapy default", "best", "scrapy", 8.0),
    ("faster corocrawl / Crawlee ParselCrawler", "best", "crawlee", 5.0),
)
#: Latency-bound: (concurrency, share of the simulated ideal at least), whole process.
LATENCY_TARGETS: tuple[tuple[int, float], ...] = ((64, 0.90), (256, 0.80))


def issue_table(
    results: dict[str, runner.Result], latency: dict[tuple[str, int], runner.Result]
) -> list[str]:
    """The table of issue 13: pages/s of each crawler, the ratios, their targets, met or not."""
    best = _faster(results, "corocrawl", "corocrawl2")
    rows = (
        ("corocrawl CLI (SQLite store + -o)", "corocrawl", None),
        ("bare loop: one queue, aiohttp, uvloop, bytes into Lexbor", "bare", "corocrawl"),
        ("bare loop, 2 processes", "bare2", "corocrawl2"),
        ("corocrawl CLI --processes 2", "corocrawl2", None),
        ("Scrapy default", "scrapy", best),
        ("Scrapy tuned", "scrapy-tuned", best),
        ("Crawlee ParselCrawler", "crawlee", best),
        ("bare loop, str decoded before Lexbor (extra)", "bare-str", "corocrawl"),
    )
    md = [
        "### Issue 13: corocrawl against the fastest bare loop (whole processes, best round)",
        "",
        "| crawler | pages/s (whole process) | corocrawl is | per round |",
        "|---|---:|---:|---:|",
    ]
    for label, name, ours in rows:
        r = results.get(name)
        if r is None:
            continue
        if not r.ok:
            md.append(f"| {label} | no figure: {'; '.join(r.problems)[:120]} | | |")
            continue
        ratio = _ratio(results, ours, name) if ours else None
        per_round = _round_ratios(results, ours, name) if ours else []
        shown = f"{ratio:.2f}× ({ours})" if ratio is not None else ""
        spread = f"{min(per_round):.2f}–{max(per_round):.2f}" if per_round else ""
        md.append(f"| {label} | {r.wall_pages_per_s:,.0f} | {shown} | {spread} |")
    for conc, _ in LATENCY_TARGETS:
        for name in ("corocrawl", "corocrawl2", "bare"):
            r = latency.get((name, conc))
            if r is not None and r.ok:
                md.append(
                    f"| latency-bound, c{conc}: {name}'s share of the simulated ideal "
                    f"({r.ideal:.2f} s) | {100 * r.pct_of_ideal:.0f}% ({r.wall:.2f} s) | | |"
                )
    md += ["", "| target | measured | at least | met? |", "|---|---:|---:|---|"]
    for what, a, b, at_least in TARGETS:
        numerator = best if a == "best" else a
        value = _ratio(results, numerator, b) if numerator is not None else None
        if value is None:
            md.append(f"| {what} | no figure | {at_least:g}× | not measured |")
        else:
            met = "met" if value >= at_least else f"missed by {100 * (1 - value / at_least):.0f}%"
            md.append(f"| {what} | {value:.2f}× | {at_least:g}× | {met} |")
    for conc, at_least in LATENCY_TARGETS:
        r = latency.get(("corocrawl", conc))
        if r is None or not r.ok:
            md.append(f"| latency-bound c{conc}, share of ideal | no figure | {at_least:.0%} | not measured |")
            continue
        met = "met" if r.pct_of_ideal >= at_least else f"missed by {100 * (at_least - r.pct_of_ideal):.0f} points"
        md.append(
            f"| latency-bound c{conc}, share of ideal | {r.pct_of_ideal:.0%} | {at_least:.0%} | {met} |"
        )
    md += [
        "",
        f"\"faster corocrawl\" is {best or '-'}. pages/s: list + detail pages over the whole "
        "process's wall time, start-up included; best of the rounds. \"per round\": the same "
        "ratio in each round alone (crawlers run in turn, so one round's load falls on both).",
        "",
    ]
    return md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pages", type=int, default=5000, help="detail pages of the main run (default 5000)"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=500,
        help="pages for the slow crawlers: lesson, sequential, threads (default 500)",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {','.join(runner.BY_NAME)}"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds; each crawler keeps its best (default 3)"
    )
    parser.add_argument("--no-latency", action="store_true", help="skip the latency-bound run")
    parser.add_argument("--latency-pages", type=int, default=1000)
    parser.add_argument("--latency-only", action="store_true", help="only the latency-bound run")
    parser.add_argument("--memory", action="store_true", help="also the 100,000-page peak-RSS run")
    parser.add_argument(
        "--memory-only", action="store_true", help="only the peak-RSS run (make bench-memory)"
    )
    parser.add_argument("--memory-pages", type=int, default=100_000)
    parser.add_argument(
        "--no-nginx", action="store_true", help="serve with the aiohttp fallback server"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary site and crawler outputs"
    )
    args = parser.parse_args(argv)

    names = [n for n in args.only.split(",") if n] or list(runner.BY_NAME)
    unknown = [n for n in names if n not in runner.BY_NAME]
    if unknown:
        parser.error(f"unknown crawler(s) {unknown}; choose from {','.join(runner.BY_NAME)}")
    specs = [runner.BY_NAME[n] for n in names]

    started = time.monotonic()
    report: dict[str, object] = {
        "machine": runner.machine(),
        "args": vars(args) | {"out": str(args.out)},
    }
    memory = args.memory or args.memory_only
    total = max(args.pages, args.memory_pages if memory else 0, args.latency_pages)
    tmp, the_site = runner.make_site(total)
    md: list[str] = []
    results: dict[str, runner.Result] = {}
    latency_results: list[object] = []
    latency_best: dict[tuple[str, int], runner.Result] = {}
    memory_results: list[object] = []
    try:
        with serve.start(the_site.root, tmp / "server", prefer_nginx=not args.no_nginx) as server:
            if server.kind != "nginx":
                print(
                    f"NOTE: nginx is not used ({'--no-nginx' if args.no_nginx else 'not installed'}): "
                    "pages are served by the aiohttp fallback server in its own process, which itself "
                    "needs CPU; the ceiling and every figure are lower than with nginx."
                )
            print(f"serving with {server.kind} at {server.base}")
            ctx = runner.Context(site=the_site, server=server, tmp=tmp)
            n_lists = -(-args.pages // site.PER_LIST)
            n_subset = -(-min(args.subset, args.pages) // site.PER_LIST)
            rounds = 0 if args.memory_only or args.latency_only else args.repeat
            if rounds:
                runner.run_one(ctx, runner.BY_NAME["raw"], n_lists, args.concurrency, tag="-warmup")
            # Rounds go through every crawler in turn, so that load from elsewhere on the
            # machine falls on all of them alike; each keeps its best round.
            for round_no in range(1, rounds + 1):
                for spec in specs:
                    n = n_subset if spec.slow else n_lists
                    print(
                        f"round {round_no}/{args.repeat}: {spec.name} "
                        f"({len(the_site.movies_of(n)):,} movies) ...",
                        flush=True,
                    )
                    r = runner.run_one(ctx, spec, n, args.concurrency)
                    print("   ", _fmt_row(r), flush=True)
                    results[spec.name] = runner.best_of(results.get(spec.name), r)
            if results:
                md += _main_table(results, server.kind, args)
            if args.memory or args.memory_only:
                md += _memory(ctx, args, names, memory_results)
        if not (args.no_latency or args.memory_only):
            md += _latency(the_site, tmp, args, names, latency_results, latency_best)
        if results or latency_best:
            md = issue_table(results, latency_best) + md
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report["results"] = [asdict(r) for r in results.values()]
    report["latency"] = latency_results
    report["memory"] = memory_results
    report["ratios"] = {
        f"{a}/{b}": _ratio(results, a, b)
        for a, b in (
            ("corocrawl", "scrapy"),
            ("corocrawl", "scrapy-tuned"),
            ("corocrawl", "crawlee"),
            ("corocrawl", "bare"),
            ("corocrawl2", "bare2"),
            ("corocrawl2", "corocrawl"),
            ("bare2", "bare"),
            ("bare", "bare-str"),
            ("corocrawl", "lesson"),
            ("corocrawl", "sequential"),
            ("corocrawl", "threads"),
        )
    }
    report["markdown"] = md
    report["minutes"] = (time.monotonic() - started) / 60
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps(report, indent=2, default=str), encoding="utf-8"
    )
    machine = report["machine"]
    header = [
        f"Measured {machine['date']} on {machine['nproc']} × {machine['cpu']}, Python {machine['python']}, "  # type: ignore[index]
        f"nginx {machine['nginx'] or '-'}, load average at start {machine['loadavg_at_start']}.",  # type: ignore[index]
        "",
    ]
    (args.out / "results.md").write_text("\n".join(header + md) + "\n", encoding="utf-8")
    print()
    print("\n".join(header + md))
    print(f"\nwrote {args.out / 'results.json'} and results.md in {report['minutes']:.1f} min")
    return 0


def _main_table(
    results: dict[str, runner.Result], server: str, args: argparse.Namespace
) -> list[str]:
    md = [
        f"### Throughput: {args.pages:,} detail pages + their list pages, {server} on loopback, "
        f"concurrency {args.concurrency}",
        "",
        "| crawler | movies | pages/s (whole process) | pages/s (server span) | CPU ms/page | peak RSS MB | wall s | s to 1st request / after last |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    md += [_fmt_row(r) for r in results.values()]
    slow = [r.label.split(":")[0] for r in results.values() if runner.BY_NAME[r.name].slow]
    md.append("")
    md.append(
        "pages/s counts list and detail pages, over the whole process's wall time (start-up and exit "
        "included) and over the server-side span (first request in to last response out); CPU is the "
        "whole process tree's user+system time, start-up included; peak RSS is the whole process tree's."
    )
    if slow:
        md.append(
            f"{', '.join(slow)} ran on the {args.subset:,}-page subset; their pages/s is a rate, comparable as is."
        )
    md.append("")
    md.append("| ratio (whole-process pages/s) | value | target |")
    md.append("|---|---:|---:|")
    for a, b, target in (
        ("corocrawl", "scrapy", ""),
        ("corocrawl", "scrapy-tuned", ""),
        ("corocrawl", "crawlee", ""),
        ("corocrawl", "bare", "≥ 0.85"),
        ("corocrawl2", "bare2", "≥ 0.85"),
        ("corocrawl2", "corocrawl", ""),
        ("bare2", "bare", ""),
        ("bare", "bare-str", ""),
        ("corocrawl", "lesson", ""),
        ("corocrawl", "threads", ""),
        ("corocrawl", "sequential", ""),
    ):
        value = _ratio(results, a, b)
        if value is not None:
            md.append(f"| {a} / {b} | {value:.2f} | {target} |")
    md.append("")
    return md


def _latency(
    the_site: site.Site,
    tmp: Path,
    args: argparse.Namespace,
    names: list[str],
    into: list[object],
    latency_best: dict[tuple[str, int], runner.Result],
) -> list[str]:
    lo, hi = LATENCY
    which = [
        n
        for n in ("bare", "corocrawl", "corocrawl2", "corocrawl-api", "scrapy", "crawlee")
        if n in names
    ]
    if not which:
        return []
    n_lists = -(-args.latency_pages // site.PER_LIST)
    movies = the_site.movies_of(n_lists)
    paths = the_site.list_paths(n_lists) + [site.detail_path(site.subject_id(k)) for k in movies]
    total = runner.sum_latency(paths, lo, hi)
    md = [
        f"### Latency-bound: {len(movies):,} detail pages, each page {lo * 1000:.0f}–{hi * 1000:.0f} ms "
        f"(Σ {total:.0f} s), aiohttp latency server",
        "",
        "| crawler | concurrency | wall (whole process) | span (server) | simulated ideal | % of ideal (whole process) | pages/s (span) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    ideal = {conc: runner.simulated_ideal(n_lists, len(movies), conc, lo, hi) for conc in (64, 256)}
    best: dict[tuple[str, int], runner.Result] = {}
    with serve.AiohttpServer(the_site.root, latency=LATENCY) as server:
        ctx = runner.Context(site=the_site, server=server, tmp=tmp)
        for round_no in range(1, args.repeat + 1):
            for conc in (64, 256):
                for name in which:
                    print(f"latency round {round_no}: {name} at concurrency {conc} ...", flush=True)
                    r = runner.run_one(ctx, runner.BY_NAME[name], n_lists, conc, tag=f"-lat{conc}")
                    r.ideal = ideal[conc]
                    if r.ok:
                        r.pct_of_ideal = r.ideal / r.wall
                    print("   ", _fmt_row(r, latency=True), flush=True)
                    best[name, conc] = runner.best_of(best.get((name, conc)), r)
    md += [_fmt_row(r, latency=True) for r in best.values()]
    md.append("")
    md.append(
        "The simulated ideal: a crawler with no CPU cost and no start-up keeping `concurrency` "
        "requests in flight, detail pages known once their list page arrives (the shorter of "
        "first-in-first-out and details-first). % of ideal = ideal ÷ the whole process's wall time."
    )
    md.append("")
    into.extend(asdict(r) for r in best.values())
    latency_best.update(best)
    return md


def _memory(
    ctx: runner.Context, args: argparse.Namespace, names: list[str], into: list[object]
) -> list[str]:
    which = [n for n in ("corocrawl", "corocrawl-api", "bare") if n in names]
    md = [
        f"### Memory: peak RSS against pages crawled (detail pages repeat a pool of {site.POOL:,} files)",
        "",
        "| crawler | movies | pages/s | RSS MB, 1st half of crawl | RSS MB, 2nd half | peak RSS MB (whole run) | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in which:
        for pages in (args.memory_pages // 10, args.memory_pages):
            n_lists = -(-pages // site.PER_LIST)
            print(f"memory run: {name} on {pages:,} pages ...", flush=True)
            t0 = time.monotonic()
            r = runner.run_one(
                ctx, runner.BY_NAME[name], n_lists, args.concurrency, tag=f"-mem{pages}"
            )
            print(
                f"    {r.peak_rss_mb:,.0f} MB, {r.pages_per_s:,.0f} pages/s, {time.monotonic() - t0:.0f} s "
                f"{'' if r.ok else r.problems}",
                flush=True,
            )
            if r.ok:
                md.append(
                    f"| {r.label} | {r.movies:,} | {r.pages_per_s:,.0f} | {r.rss_first_half_mb:,.0f} "
                    f"| {r.rss_second_half_mb:,.0f} | {r.peak_rss_mb:,.0f} | {r.wall:.0f} |"
                )
            else:
                md.append(
                    f"| {r.label} | {r.movies:,} | no figure: {'; '.join(r.problems)[:160]} | | | | |"
                )
            into.append(asdict(r))
    md.append("")
    return md


if __name__ == "__main__":
    sys.exit(main())
