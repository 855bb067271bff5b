"""URLs, fingerprints and the wire form of requests."""

from __future__ import annotations

import pickle
import random

import pytest
from yarl import URL

from corocrawl import Request
from corocrawl._exceptions import InvalidURL
from corocrawl._request import canonical_url, host_key, is_plain_url, parse_url
from corocrawl.frontier import Lease, Outcome


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM:80/a/./b/../c#frag", "http://example.com/a/c"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x?b=2&a=1", "https://example.com:8443/x?b=2&a=1"),
        ("http://example.com/%7Euser/", "http://example.com/~user/"),
    ],
)
def test_canonical_forms(raw: str, canonical: str) -> None:
    assert str(parse_url(raw)) == canonical


def test_sort_query_is_opt_in() -> None:
    url = parse_url("http://example.com/?b=2&a=1")
    assert str(canonical_url(url, sort_query=True)) == "http://example.com/?a=1&b=2"


@pytest.mark.parametrize(
    ("raw", "sorted_"),
    [
        # An encoded & = + # ; % in a value is data, not syntax: it must stay encoded.
        ("http://e.com/s?q=a%26b&lang=en", "http://e.com/s?lang=en&q=a%26b"),
        ("http://e.com/s?x=1%3D2&a=%2B", "http://e.com/s?a=%2B&x=1%3D2"),
        ("http://e.com/s?tag=%23a%25&k=a%3Bb", "http://e.com/s?k=a%3Bb&tag=%23a%25"),
        # A + is a space in a form query and a plus elsewhere: kept as written.
        ("http://e.com/s?q=a+b&a=1", "http://e.com/s?a=1&q=a+b"),
        # A name without a value stays one; repeated names keep their order.
        ("http://e.com/s?z&id=2&id=1", "http://e.com/s?id=2&id=1&z"),
    ],
)
def test_sort_query_keeps_what_each_parameter_means(raw: str, sorted_: str) -> None:
    url = canonical_url(parse_url(raw), sort_query=True)
    assert str(url) == sorted_
    assert sorted(url.query.items()) == sorted(parse_url(raw).query.items())


@pytest.mark.parametrize("bad", ["", "example.com", "ftp://example.com/", "http://", "/relative"])
def test_bad_urls_say_what_to_do(bad: str) -> None:
    with pytest.raises(InvalidURL, match=r"https://example\.com/"):
        parse_url(bad)


def test_fingerprint_ignores_nothing_that_matters() -> None:
    a = Request(str(parse_url("http://example.com/a#x")))
    b = Request(str(parse_url("HTTP://EXAMPLE.com:80/a")))
    c = Request(str(parse_url("http://example.com/a")), method="POST")
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 16


def test_wire_round_trip_names_the_callback() -> None:
    async def detail(resp: object) -> None:
        return None

    req = Request("http://example.com/", detail, meta={"id": "1"}, depth=2, priority=1,
                  attempt=1, not_before=5.0, referrer="http://example.com/list")
    data = req.to_dict()
    assert data["cb"] == "detail"
    back = Request.from_dict(data)
    assert (back.url, back.callback, back.meta, back.depth, back.priority, back.attempt,
            back.not_before, back.referrer) == (req.url, "detail", {"id": "1"}, 2, 1, 1, 5.0,
                                                 req.referrer)
    assert back.fingerprint == req.fingerprint


@pytest.mark.parametrize("junk", [{}, {"v": 99, "url": "x"}, {"v": 1}, "not a dict"])
def test_malformed_wire_data_is_rejected(junk: object) -> None:
    with pytest.raises(ValueError):
        Request.from_dict(junk)  # type: ignore[arg-type]


def _yarl_host(url: str) -> str:
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}"


@pytest.mark.parametrize("url", [
    "https://movie.douban.com/subject/1/", "http://a.com", "http://a.com?x=1", "http://a.com#f",
    "http://a.com:80/", "http://a.com:00080/", "https://A.com/", "HTTP://a.com/",
    "http://127.0.0.1:8080/", "http://[::1]:8080/", "http://u:p@a.com/", "http://a.com:/",
    "http://xn--bcher-kva.example/", "http://bücher.example/", "http://a.com./",
    "http://a.com:0/", "http://a_b.com/", "http://a.com%2e/", "ws://a.com/",
])
def test_host_key_is_yarls_host_and_port(url: str) -> None:
    assert host_key(url) == _yarl_host(url) == Request(url).host


def test_host_key_agrees_with_yarl_on_odd_urls() -> None:
    """The string fast path must give every URL the same slot key yarl would, or fail alike."""
    rng = random.Random(13)
    alphabet = "aZ09.-_:@[]%/?#x"
    for _ in range(20_000):
        url = (rng.choice(["http://", "https://", "ftp://", "HTTP://"])
               + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
               + rng.choice(["", "/", "/p?q#f"]))
        try:
            expected = _yarl_host(url)
        except (ValueError, IndexError) as exc:  # yarl raises IndexError on a few
            with pytest.raises(type(exc)):
                host_key(url)
            continue
        assert host_key(url) == expected, url


def test_plain_urls_are_ones_parse_url_takes() -> None:
    """is_plain_url lets the engine skip parse_url: it must never say yes to a URL
    parse_url refuses (saying no to a good one only costs the parse)."""
    rng = random.Random(14)
    alphabet = "aZ09.-_:@[]%/?#x \t\\é\x00~!'"
    said_yes = 0
    for _ in range(50_000):
        url = (rng.choice(["http://", "https://", "ftp://", "HTTP://", " http://", "http:/"])
               + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
               + rng.choice(["", "/", "/p?q#f", ":65535/", ":65536/", ":0/", ":99999"]))
        if is_plain_url(url):
            said_yes += 1
            parsed = parse_url(url)  # raises InvalidURL if the fast path was wrong
            assert parsed.scheme in ("http", "https") and parsed.host, url
    assert said_yes > 300  # (337 with this seed) the test says something about the yes side
    for good in ("https://movie.douban.com/subject/1/", "http://127.0.0.1:8080/a?b=1#c"):
        assert is_plain_url(good)
    for unsure in ("http://h:99999/", "http://h:0/", "http://u@h/", "http://[::1]/",
                   "http://xn--bcher-kva.example/", "http://bücher.example/", " http://h/",
                   "http://h/a b", "http://H/", "ftp://h/"):
        assert not is_plain_url(unsure), unsure


def test_request_lease_and_outcome_survive_pickle() -> None:
    # What --processes sends between processes, field for field.
    request = Request("https://example.com/a", "detail", method="POST", headers={"X": "1"},
                      body=b"q=1", meta={"page": 2}, depth=3, priority=4, dont_filter=True,
                      attempt=1, referrer="https://example.com/", not_before=5.0)
    fingerprint = request.fingerprint  # computed once, and travels with it
    outcome = Outcome(Lease(request, 7, "example.com:443"), "retry",
                      children=[Request("https://example.com/b", "detail")], error="x: y")
    again = pickle.loads(pickle.dumps(outcome))
    assert again.lease.request.to_dict() == request.to_dict()
    assert again.lease.request._fingerprint == fingerprint
    assert (again.lease.token, again.lease.host, again.state, again.error) == (
        7, "example.com:443", "retry", "x: y")
    assert [child.to_dict() for child in again.children] == [outcome.children[0].to_dict()]
