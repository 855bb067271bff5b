"""What the replica site serves, as one frozen object."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from .._exceptions import ConfigError

_CITY_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Shape of the replica site: how many movies, where, how slow and how broken.

    >>> DemoConfig(movies=200, cities=("beijing", "shanghai"), error_rate=0.1).movies
    200

    ``error_rate`` is the share of detail-page requests that fail transiently
    (500, 503 with ``Retry-After: 1``, or a connection reset); the decision is a
    pure function of ``(seed, path, attempt)`` and the third attempt of a path
    always succeeds. ``fail_rate`` is the share of movies whose detail page
    always answers 500. ``gbk_cities`` serve their list page as GBK bytes under
    a ``<meta charset="utf-8">``, as a real saved douban page does.
    ``block_bots`` answers 418 to a User-Agent without ``Mozilla/``, like the
    live site. Release dates fall within 120 days on or after ``today``.
    ``gzip`` compresses HTML for clients that accept it, as the live site does
    (it costs the replica ~0.3 ms per page, so it is off by default).
    """

    movies: int = 40
    cities: tuple[str, ...] = ("beijing",)
    latency: tuple[float, float] = (0.0, 0.0)
    error_rate: float = 0.0
    fail_rate: float = 0.0
    seed: int = 0
    gbk_cities: tuple[str, ...] = ()
    block_bots: bool = True
    today: date = field(default_factory=date.today)
    gzip: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.movies, int) or self.movies < 0:
            raise ConfigError(f"movies must be zero or more, got {self.movies!r}")
        if not self.cities:
            raise ConfigError("give at least one city, e.g. --cities beijing")
        for city in (*self.cities, *self.gbk_cities):
            if not _CITY_SLUG.match(city):
                raise ConfigError(
                    f"city {city!r} is not a slug like 'beijing'"
                    " (lowercase letters, digits, - or _)"
                )
        if len(set(self.cities)) != len(self.cities):
            raise ConfigError(f"cities are repeated: {','.join(self.cities)}")
        low, high = self.latency
        if not 0 <= low <= high:
            raise ConfigError(
                f"latency must be MIN-MAX seconds with 0 <= MIN <= MAX, got {low}-{high}"
            )
        for name in ("error_rate", "fail_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be a fraction between 0 and 1, got {value}")
