"""HTML of the replica: list, detail and error pages with douban's DOM structure.

The markup (``templates/*.html``, filled with ``str.format``) mirrors the real
pages' structure (see the fixtures README): the selectors a douban spider uses
find the same nodes here. All text is synthetic. ``base`` is ``scheme://host``
of the request, so absolute links work on any mirror host and port.
"""

from __future__ import annotations

import random
from functools import cache
from html import escape
from importlib import resources

from ._data import (
    CITY_NAMES,
    Movie,
    city_name,
    nickname,
    person_name,
    review_title,
    sentence,
    summary,
)

# Blocks of comments and reviews shared by all detail pages (see ``padding_pool``).
POOL_SIZE = 240

# Filler CSS in the page head, like the real pages' inline styles and scripts.
_STYLE = "".join(
    f"\n    .mod-{i} .bd {{ margin: {i % 7}px 0 {i % 11}px;"
    f" color: #{(i * 2654435761) % 0xFFFFFF:06x}; line-height: 1.{i % 9}; }}"
    for i in range(60)
)


def _randint(rng: random.Random, low: int, high: int) -> int:
    # random.randint is 3x slower, and rendering thousands of pages calls it a lot.
    return low + int(rng.random() * (high - low + 1))


@cache
def _template(name: str) -> str:
    return (
        resources.files(__package__).joinpath("templates", f"{name}.html").read_text("utf-8")
    ).rstrip("\n")


def _head(base: str, title: str, keywords: str, description: str, style: str = _STYLE) -> str:
    return "\n".join(
        (
            _template("head").format(
                title=title, keywords=keywords, description=description, base=base
            ),
            _template("head_end").format(style=style),
        )
    )


def footer(base: str) -> str:
    """The page footer, the same on every page of ``base``."""
    return _template("footer").format(base=base) + "\n"


def detail_chrome(base: str, city: str) -> str:
    """The part of a detail page's top that is the same for every movie of ``city``."""
    return "\n".join(
        (
            _template("head_end").format(style=_STYLE),
            _template("nav").format(base=base, city=escape(city)),
            _template("suggest"),
            "",
        )
    )


def list_page(city: str, movies: list[Movie], base: str) -> str:
    """The ``/cinema/later/<city>/`` page: every movie of the city, no pagination."""
    name = city_name(city)
    item = _template("list_item")
    wants_li = _template("list_wants")
    trailer_a = _template("list_trailer")
    items = []
    for index, movie in enumerate(movies):
        url = f"{base}{movie.detail_path}"
        wants = "" if movie.wants is None else wants_li.format(wants=movie.wants)
        trailer = (
            ""
            if movie.trailer_id is None
            else trailer_a.format(base=base, trailer_id=movie.trailer_id)
        )
        items.append(
            item.format(
                odd=" odd" if index % 2 else " ",
                url=url,
                thumb=f"{base}{movie.thumb_path}",
                name=escape(movie.name),
                date=movie.date_text,
                genre=escape(movie.genre_text),
                region=escape(movie.region),
                wants=wants,
                trailer=trailer,
            )
        )
    cities = "".join(
        f'\n            <li><a href="{base}/cinema/later/{slug}/">{cname}</a></li>'
        for slug, cname in CITY_NAMES.items()
    )
    return "\n".join(
        (
            _head(
                base,
                title=f"{name}影讯",
                keywords=f"{name},影讯,排片,放映时间,电影票价",
                description=f"{name}影讯,{name}电影院排片及放映时间,电影票价查询",
            ),
            _template("nav").format(base=base, city=escape(city)),
            _template("list_body").format(city=name, items="".join(items), cities=cities),
            footer(base),
        )
    )


def detail_frame(
    movie: Movie, others: list[Movie], base: str, seed: int
) -> tuple[str, str, str]:
    """The movie's own parts of its ``/subject/<id>/`` page: ``(head, top, bottom)``.

    A page is ``head + detail_chrome + top + comments + bottom + footer``: the
    chrome, the comments and reviews (``padding_pool``) and the footer are
    shared, so a page costs one join of cached bytes. ``others`` are the movies
    recommended in the aside. The poster ``#mainpic img`` in ``top`` comes
    after the chrome's jQuery template holding a literal ``<img src="{{= img}}">``,
    as on the real pages: a regex scraper picks the wrong image.
    """
    rng = random.Random(f"corocrawl-demo:{seed}:detail:{movie.subject_id}")
    directors = [person_name(rng) for _ in range(_randint(rng, 1, 2))]
    writers = [person_name(rng) for _ in range(_randint(rng, 1, 3))]
    cast = [person_name(rng) for _ in range(_randint(rng, 5, 12))]
    name, latin = escape(movie.name), escape(movie.latin_name)
    url = f"{base}{movie.detail_path}"
    link = _template("person_link")

    def people(names: list[str], rel: str) -> str:
        return " / ".join(
            link.format(base=base, id=_randint(rng, 1_000_000, 1_999_999), rel=rel, name=escape(n))
            for n in names
        )

    celebrity = _template("celebrity")
    celebrities = "".join(
        celebrity.format(
            base=base,
            id=_randint(rng, 1_000_000, 1_999_999),
            avatar=_randint(rng, 10_000, 99_999),
            name=escape(person),
            role="导演" if i < len(directors) else "演员",
        )
        for i, person in enumerate(directors + cast)
    )
    # Stills link to the movie's own thumb: a valid image, and not the poster.
    pictures = _template("picture").format(url=url, thumb=f"{base}{movie.thumb_path}") * 4
    top = _template("detail_top").format(
        name=name,
        latin_name=latin,
        year=movie.release.year,
        url=url,
        poster=f"{base}{movie.poster_path}",
        directors=people(directors, ' rel="v:directedBy"'),
        writers=people(writers, ""),
        cast=people(cast, ' rel="v:starring"'),
        genres=" / ".join(f'<span property="v:genre">{escape(g)}</span>' for g in movie.genres),
        region=escape(movie.region),
        release=f"{movie.release.isoformat()}(中国大陆)",
        runtime=_randint(rng, 85, 160),
        summary=escape(summary(rng, cast[0], cast[1])),
        celebrities=celebrities,
        pictures=pictures,
    )
    recommendation = _template("recommendation")
    recommendations = "".join(
        recommendation.format(
            url=f"{base}{m.detail_path}", thumb=f"{base}{m.thumb_path}", name=escape(m.name)
        )
        for m in others
    )
    head = _template("head").format(
        title=f"\n        {name} (豆瓣)\n",
        keywords=f"{name},{latin},{name}影评,剧情介绍,电影图片,预告片",
        description=f"{name}电影简介和剧情介绍,{name}影评、图片、预告片、影讯、论坛、在线购票",
        base=base,
    )
    bottom = _template("detail_bottom").format(recommendations=recommendations)
    return head + "\n", top + "\n", bottom + "\n"


def padding_pool(base: str, seed: int) -> list[str]:
    """Comment and review blocks shared by all detail pages (every third one a review)."""
    rng = random.Random(f"corocrawl-demo:{seed}:pool")
    return [
        _review(rng, base, index) if index % 3 == 0 else _comment(rng, base, index)
        for index in range(POOL_SIZE)
    ]


def pick_padding(rng: random.Random, block_sizes: list[int], room: int) -> list[int]:
    """Indices of pool blocks, in page order, whose sizes add up to at least ``room`` bytes."""
    chosen: list[int] = []
    used = 0
    for _ in range(400):  # bounded: a block is 1-3 KB, 400 of them cover any page size
        if used >= room:
            break
        index = rng.randrange(len(block_sizes))
        chosen.append(index)
        used += block_sizes[index]
    return chosen


def _when(index: int) -> str:
    return f"2026-{1 + index % 9:02d}-{1 + index % 28:02d}"


def _comment(rng: random.Random, base: str, index: int) -> str:
    stars = _randint(rng, 1, 5)
    return _template("comment").format(
        cid=_randint(rng, 1_000_000_000, 3_999_999_999),
        votes=_randint(rng, 0, 50_000),
        base=base,
        user=_randint(rng, 1_000_000, 250_000_000),
        nick=escape(nickname(rng)),
        stars=stars,
        star_title="★" * stars,
        when=_when(index),
        minute=f"{index % 60:02d}",
        text=escape(sentence(rng, _randint(rng, 2, 5))),
    )


def _review_text(rng: random.Random) -> str:
    return "".join(sentence(rng, _randint(rng, 3, 6)) for _ in range(_randint(rng, 4, 9)))


def _review(rng: random.Random, base: str, index: int) -> str:
    return _template("review").format(
        rid=_randint(rng, 10_000_000, 15_999_999),
        base=base,
        user=_randint(rng, 1_000_000, 250_000_000),
        icon=_randint(rng, 1_000, 99_999),
        nick=escape(nickname(rng)),
        when=_when(index),
        title=escape(review_title(rng)),
        text=escape(_review_text(rng)),
        useful=_randint(rng, 0, 9_999),
        replies=_randint(rng, 0, 500),
    )


def not_found_page(base: str, what: str) -> str:
    """A 404 page in the site's chrome."""
    return "\n".join(
        (
            _head(base, title="页面不存在", keywords="", description="", style=""),
            _template("not_found").format(base=base, what=escape(what)),
            footer(base),
        )
    )


def error_page(status: int) -> str:
    """The body of an injected server error."""
    return _template("error").format(status=status)
