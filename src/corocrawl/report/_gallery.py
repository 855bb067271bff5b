"""One self-contained HTML page of upcoming movies, grouped by week.

Every value that came from the network is escaped before it reaches the page,
and URLs are kept only when they are http(s) or a relative path to a local
poster: a movie called ``<script>`` shows up as text, never runs.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .._posters import find_poster

DEFAULT_TITLE = "即将上映 · Upcoming movies"
UNKNOWN_WEEK = "日期未定 · date unknown"
_FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'%3E"
    "%3Ctext y='.9em' font-size='90'%3E%F0%9F%8E%AC%3C/text%3E%3C/svg%3E"
)

_CSS = """
:root{--bg:#f6f5f2;--card:#fff;--ink:#222;--muted:#6b6b6b;--accent:#2e7d32;--line:#e4e2dc}
@media (prefers-color-scheme:dark){:root{--bg:#161616;--card:#222;--ink:#eee;--muted:#a0a0a0;
--accent:#7bc67e;--line:#333}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.45 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",
sans-serif}
header{padding:20px 16px 4px;max-width:1200px;margin:0 auto}
h1{font-size:1.5rem;margin:0 0 4px}
.meta{color:var(--muted);margin:0}
main{max-width:1200px;margin:0 auto;padding:0 16px 32px}
section.week h2{font-size:1.1rem;margin:24px 0 10px;padding-bottom:6px;
border-bottom:1px solid var(--line)}
section.week h2 small{color:var(--muted);font-weight:normal;margin-left:8px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:14px}
@media (max-width:480px){.grid{grid-template-columns:repeat(2,minmax(0,1fr));gap:10px}}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden;
display:flex;flex-direction:column}
.poster{aspect-ratio:2/3;width:100%;object-fit:cover;display:block;background:var(--line)}
.noposter{display:flex;align-items:center;justify-content:center;color:var(--muted);font-size:.85rem}
.info{padding:8px 10px 10px}
.info h3{font-size:.98rem;margin:0 0 4px;overflow-wrap:anywhere}
.info h3 a{color:inherit;text-decoration:none}
.info h3 a:hover{text-decoration:underline}
.info p{margin:2px 0;color:var(--muted);font-size:.85rem;overflow-wrap:anywhere}
.info .wants{color:var(--accent);font-weight:600}
"""


def write_gallery(
    items: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    poster_dir: str | os.PathLike[str] | None = None,
    title: str = DEFAULT_TITLE,
    generated: dt.datetime | None = None,
    remote_posters: bool = False,
) -> Path:
    """Write the gallery of ``items`` (douban movie dicts) to ``path``; return the path.

    A poster downloaded into ``poster_dir`` is linked by its path relative to the
    page, so the page and the folder can be moved together. Any other movie gets
    a "no poster" placeholder: opening the page makes no request to a server the
    crawler did not choose to trust (its poster may have been refused as too big
    or not an image). ``remote_posters=True`` uses ``poster_url`` (or the small
    ``thumb_url``) for those instead.

        >>> write_gallery(store.iter_items(), "movies.html", poster_dir="posters")
        PosixPath('movies.html')
    """
    target = Path(path)
    html = render_gallery(
        items, poster_dir=poster_dir, page_dir=target.parent, title=title, generated=generated,
        remote_posters=remote_posters,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_text(html, encoding="utf-8")
    os.replace(temp, target)
    return target


def render_gallery(
    items: Iterable[Mapping[str, Any]],
    *,
    poster_dir: str | os.PathLike[str] | None = None,
    page_dir: str | os.PathLike[str] = ".",
    title: str = DEFAULT_TITLE,
    generated: dt.datetime | None = None,
    remote_posters: bool = False,
) -> str:
    """The gallery as an HTML string (see :func:`write_gallery`)."""
    movies = sorted(items, key=_sort_key)
    when = (generated or dt.datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M")
    sections: list[str] = []
    for heading, sub, group in _group_by_week(movies):
        cards = "\n".join(
            _card(movie, poster_dir, Path(page_dir), remote_posters) for movie in group
        )
        small = f"<small>{escape(sub)}</small>" if sub else ""
        sections.append(
            f'<section class="week"><h2>{escape(heading)}{small}</h2>\n'
            f'<div class="grid">\n{cards}\n</div></section>'
        )
    body = "\n".join(sections) or '<p class="meta">No movies yet: run a crawl first.</p>'
    return (
        "<!doctype html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        # An inline icon: the browser need not ask the server for /favicon.ico.
        f'<link rel="icon" href="{_FAVICON}">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style></head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="meta">{len(movies)} movies · generated {escape(when)} by corocrawl</p>'
        f"</header>\n<main>\n{body}\n</main>\n</body></html>\n"
    )


def release_date(movie: Mapping[str, Any]) -> dt.date | None:
    """The movie's ``release_date`` as a date, or None if missing or not ISO."""
    value = movie.get("release_date")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def week_heading(day: dt.date) -> tuple[str, str]:
    """The readable heading of ``day``'s ISO week: ("12月2日 – 12月8日", "2024 · 第49周")."""
    monday = day - dt.timedelta(days=day.weekday())
    sunday = monday + dt.timedelta(days=6)
    year, week, _ = day.isocalendar()
    return (
        f"{monday.month}月{monday.day}日 – {sunday.month}月{sunday.day}日",
        f"{year} · 第{week}周",
    )


def _sort_key(movie: Mapping[str, Any]) -> tuple[int, dt.date, int, str]:
    day = release_date(movie)
    wants = movie.get("wants")
    return (
        day is None,
        day or dt.date.max,
        -(wants if isinstance(wants, int) else 0),
        str(movie.get("name") or ""),
    )


def _group_by_week(
    movies: list[Mapping[str, Any]],
) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    groups: list[tuple[str, str, list[Mapping[str, Any]]]] = []
    last: tuple[int, int] | None = None
    for movie in movies:
        day = release_date(movie)
        key = day.isocalendar()[:2] if day else (0, 0)
        if key != last:
            heading, sub = week_heading(day) if day else (UNKNOWN_WEEK, "")
            groups.append((heading, sub, []))
            last = key
        groups[-1][2].append(movie)
    return groups


def _card(
    movie: Mapping[str, Any],
    poster_dir: str | os.PathLike[str] | None,
    page: Path,
    remote_posters: bool,
) -> str:
    name = _text(movie.get("name")) or "(untitled)"
    poster = _poster_src(movie, poster_dir, page, remote_posters)
    if poster:
        image = (
            f'<img class="poster" src="{escape(poster)}" alt="{escape(name)}" '
            'decoding="async" referrerpolicy="no-referrer">'
        )
    else:
        image = '<div class="poster noposter">no poster</div>'
    link = _http_url(movie.get("url"))
    title = f'<a href="{escape(link)}">{escape(name)}</a>' if link else escape(name)
    date = _text(movie.get("date")) or _text(movie.get("release_date")) or "date unknown"
    iso = release_date(movie)
    when = f'<time datetime="{iso.isoformat()}">{escape(date)}</time>' if iso else escape(date)
    lines = [f"<p>{when}</p>"]
    for field in ("genre", "region"):
        value = _text(movie.get(field))
        if value:
            lines.append(f'<p class="{field}">{escape(value)}</p>')
    wants = movie.get("wants")
    if isinstance(wants, int) and not isinstance(wants, bool):
        lines.append(f'<p class="wants">{wants:,}人想看</p>')
    return (
        f'<article class="card">{image}<div class="info"><h3>{title}</h3>'
        f"{''.join(lines)}</div></article>"
    )


def _poster_src(
    movie: Mapping[str, Any],
    poster_dir: str | os.PathLike[str] | None,
    page: Path,
    remote_posters: bool,
) -> str | None:
    if poster_dir is not None:
        local = find_poster(poster_dir, movie.get("subject_id"))
        if local is not None:
            relative = os.path.relpath(local.resolve(), page.resolve())
            return quote(Path(relative).as_posix())
    if not remote_posters:
        return None
    return _http_url(movie.get("poster_url")) or _http_url(movie.get("thumb_url"))


def _http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL: no ``javascript:`` or ``data:``."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()
