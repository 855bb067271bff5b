"""Link extraction, canonical URLs and scope rules, on HTML strings."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from corocrawl._exceptions import UsageError
from corocrawl._links import Scope, compile_patterns, extract_links, resolve_link
from corocrawl._request import canonical_url


def links_of(html: str, url: str = "http://site.test/dir/page.html", **kwargs: bool) -> list[str]:
    return extract_links(LexborHTMLParser(html), url, **kwargs).urls


def test_relative_absolute_protocol_relative_and_fragments() -> None:
    html = """
    <a href="other.html">r</a> <a href="../up">u</a> <a href="/root">a</a>
    <a href="//cdn.test/x">p</a> <a href="https://Site.TEST:443/s">s</a>
    <a href="other.html#frag">dup</a> <a href="#top">self</a> <a href=" /root ">spaces</a>
    """
    assert links_of(html) == [
        "http://site.test/dir/other.html",
        "http://site.test/up",
        "http://site.test/root",
        "http://cdn.test/x",
        "https://site.test/s",
        "http://site.test/dir/page.html",
    ]


def test_base_href_is_honoured_first_one_wins() -> None:
    html = '<head><base href="/b/"><base href="/ignored/"></head><a href="t">t</a><a href="/abs">'
    assert links_of(html) == ["http://site.test/b/t", "http://site.test/abs"]


def test_malformed_base_falls_back_to_page_url() -> None:
    assert links_of('<base href="http://[::1"><a href="t">') == ["http://site.test/dir/t"]


def test_malformed_and_other_schemes_are_skipped_and_counted() -> None:
    html = """<a href="http://[::1">v6</a><a href="http://x.test:99999/">port</a>
    <a href="mailto:a@b.c">m</a><a href="javascript:void(0)">j</a><a href="ok">ok</a><a>none</a>"""
    links = extract_links(LexborHTMLParser(html), "http://site.test/")
    assert links.urls == ["http://site.test/ok"]
    assert links.malformed == 2
    assert links.other_scheme == 2


def test_duplicates_in_case_port_dots_and_escapes_are_one_url() -> None:
    html = """<a href="HTTP://SITE.test:80/a/./b/../c">1</a><a href="http://site.test/a/c">2</a>
    <a href="/a/x/../c#f">3</a><a href="/%7euser">4</a><a href="/~user">5</a>
    <a href="/%7Euser">6</a>"""
    assert links_of(html) == ["http://site.test/a/c", "http://site.test/~user"]


def test_query_order_kept_unless_sort_query() -> None:
    html = '<a href="/s?b=2&a=1">1</a><a href="/s?a=1&b=2">2</a>'
    assert links_of(html) == ["http://site.test/s?b=2&a=1", "http://site.test/s?a=1&b=2"]
    assert links_of(html, sort_query=True) == ["http://site.test/s?a=1&b=2"]


def test_nofollow_followed_unless_respected() -> None:
    html = '<a rel="NoFollow noopener" href="/n">n</a><a href="/f">f</a>'
    assert links_of(html) == ["http://site.test/n", "http://site.test/f"]
    links = extract_links(LexborHTMLParser(html), "http://site.test/", respect_nofollow=True)
    assert (links.urls, links.nofollow) == (["http://site.test/f"], 1)


def test_meta_robots_nofollow_skips_the_page_links_when_respected() -> None:
    html = '<meta name="ROBOTS" content="noindex, nofollow"><a href="/a">a</a>'
    assert links_of(html, respect_nofollow=True) == []
    assert links_of(html) == ["http://site.test/a"]


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM:80/a/../b#x", "http://example.com/b"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("http://example.com/%7Ea", "http://example.com/~a"),
        ("http://example.com/p?b=1&a=2", "http://example.com/p?b=1&a=2"),
    ],
)
def test_canonical_url(raw: str, canonical: str) -> None:
    assert str(canonical_url(URL(raw))) == canonical


def test_resolve_link_raises_on_bad_port() -> None:
    with pytest.raises(ValueError):
        resolve_link(URL("http://a.test/"), "http://b.test:70000/")


def test_scope_same_host_by_default_port_ignored() -> None:
    scope = Scope.from_start_urls(["http://127.0.0.1:8080/"])
    assert scope.allows("http://127.0.0.1:9999/x")
    assert scope.why_not("http://localhost:8080/x") == "off-site"
    assert not scope.allows("http://sub.127.0.0.1/")


def test_scope_allow_domain_includes_subdomains() -> None:
    scope = Scope.from_start_urls(["https://www.example.com/"], allow_domains=["Example.COM."])
    assert scope.allows("https://example.com/")
    assert scope.allows("https://docs.api.example.com/x")
    assert not scope.allows("https://notexample.com/")
    assert not scope.allows("https://example.com.evil.test/")


def test_scope_include_and_exclude() -> None:
    scope = Scope.from_start_urls(
        ["https://e.test/"], include=[r"/docs/", r"/blog/"], exclude=[r"\.pdf$", r"[?&]page="]
    )
    assert scope.allows("https://e.test/docs/a")
    assert scope.why_not("https://e.test/about") == "not included"
    assert scope.why_not("https://e.test/docs/a.pdf") == "excluded"
    assert scope.why_not("https://e.test/blog/?page=2") == "excluded"


def test_bad_regex_is_a_one_line_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        compile_patterns(["ok", "(unclosed"], "--exclude")
    message = str(info.value)
    assert "--exclude '(unclosed'" in message and "\n" not in message
