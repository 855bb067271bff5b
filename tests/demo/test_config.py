"""DemoConfig rejects bad values with a one-line ConfigError; the word lists fit GBK."""

from __future__ import annotations

import pytest

from corocrawl._exceptions import ConfigError, UsageError
from corocrawl.demo import DemoConfig, make_movies
from corocrawl.demo._pages import list_page


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"movies": -1}, "movies"),
        ({"cities": ()}, "city"),
        ({"cities": ("Bei Jing",)}, "Bei Jing"),
        ({"cities": ("beijing", "beijing")}, "repeated"),
        ({"gbk_cities": ("../x",)}, "../x"),
        ({"latency": (0.5, 0.1)}, "latency"),
        ({"latency": (-1.0, 0.0)}, "latency"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"fail_rate": -0.1}, "fail_rate"),
        ({"error_rate": float("nan")}, "error_rate"),
    ],
)
def test_bad_config_is_a_one_line_usage_error(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DemoConfig(**fields)  # type: ignore[arg-type]
    assert isinstance(caught.value, UsageError)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_synthetic_list_page_encodes_as_gbk() -> None:
    config = DemoConfig(movies=2000, seed=13)
    page = list_page("beijing", list(make_movies(config)), "http://127.0.0.1:1")
    assert page.encode("gbk").decode("gbk") == page


def test_movies_are_spread_over_cities_and_sorted_by_date() -> None:
    config = DemoConfig(movies=31, cities=("beijing", "shanghai", "wuhan"))
    movies = make_movies(config)
    assert [sum(m.city == c for m in movies) for c in config.cities] == [11, 10, 10]
    for city in config.cities:
        dates = [m.release for m in movies if m.city == city]
        assert dates == sorted(dates)
