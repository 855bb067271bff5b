"""``Response``: links resolve against ``<base href>`` when the page has one."""

from __future__ import annotations

import pytest

from corocrawl import Request
from corocrawl._response import Response


def response(html: str, content_type: str = "text/html; charset=utf-8") -> Response:
    url = "http://site.test/dir/page"
    return Response(url, 200, {"Content-Type": content_type}, html.encode("utf-8"), Request(url))


@pytest.mark.parametrize(
    ("html", "joined"),
    [
        ('<a href="x">', "http://site.test/dir/x"),  # no <base>: the page's own URL
        ("<basefont size=3><p>base href=/no/</p>", "http://site.test/dir/x"),  # not a <base>
        ('<head><base href="/b/"></head>', "http://site.test/b/x"),
        ('<HEAD><BASE HREF="/b/"></HEAD>', "http://site.test/b/x"),  # any case
        ('<p>late</p><base\nhref="/c/">', "http://site.test/c/x"),  # in the body, odd spacing
        ('<base target="_top"><base href="/d/">', "http://site.test/d/x"),  # the one with href
    ],
)
@pytest.mark.parametrize("parsed_first", [False, True])
def test_urljoin_honours_base_href(html: str, joined: str, parsed_first: bool) -> None:
    resp = response(html)
    if parsed_first:  # a callback that selected nodes before following links
        assert resp.dom is not None
    assert resp.urljoin("x") == joined


def test_base_href_in_a_non_utf8_page() -> None:
    html = '<meta charset="gbk"><base href="/g/"><p>电影</p>'
    url = "http://site.test/dir/page"
    resp = Response(url, 200, {}, html.encode("gbk"), Request(url))
    assert resp.encoding == "gb18030"
    assert resp.urljoin("x") == "http://site.test/g/x"


def test_a_utf8_page_does_not_load_the_charset_detector() -> None:
    # charset_normalizer takes ~60 ms to import: only pages nothing names need it.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from corocrawl import Request\n"
        "from corocrawl._response import Response\n"
        "r = Response('http://x.test/', 200, {}, '<p>电影</p>'.encode(), Request('http://x.test/'))\n"
        "assert r.css_first('p').text() == '电影'\n"
        "print('charset_normalizer' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "False"


def test_urljoin_fast_path_equals_the_join() -> None:
    """An absolute canonical href is returned as is: exactly what joining it to the page
    and rebuilding it gives, on random hrefs (many of them near misses)."""
    import random

    from yarl import URL

    from corocrawl._request import canonical_url, is_canonical_http_url

    rng = random.Random(15)
    def page(html: str, url: str) -> Response:
        return Response(url, 200, {"Content-Type": "text/html; charset=utf-8"},
                        html.encode(), Request(url))

    pages = [page("<p>x</p>", url) for url in (
        "http://127.0.0.1:8080/cinema/later/x/", "https://movie.douban.com/a/b?c=d",
    )] + [page('<base href="http://other.test/d/"><p>x</p>', "http://a.test/")]
    alphabet = "aZ09.-_~/%:@?#!$&'()*+,;=[] x"
    fast = 0
    for _ in range(100_000):
        href = (rng.choice(["http://", "https://", "HTTP://", " http://", "//", "/"])
                + "".join(rng.choice("ab-.19xn") for _ in range(rng.randint(0, 6)))
                + rng.choice(["", ":80", ":443", ":8080", ":0", ":65536", ":099"])
                + rng.choice(["", "/", "/.", "/.."])
                + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))))
        resp = pages[rng.randrange(len(pages))]
        if not is_canonical_http_url(href.strip()):
            continue
        fast += 1
        assert resp.urljoin(href) == str(canonical_url(resp.base_url.join(URL(href.strip())))), href
    assert fast > 300  # 527 with this seed: the fast side is exercised
    assert pages[0].urljoin("http://127.0.0.1:8080/subject/1/") == "http://127.0.0.1:8080/subject/1/"
    assert pages[0].urljoin("http://127.0.0.1:80/subject/1/") == "http://127.0.0.1/subject/1/"
    assert pages[2].urljoin("/subject/1/") == "http://other.test/subject/1/"
