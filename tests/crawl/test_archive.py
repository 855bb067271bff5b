"""Safe save paths and WARC files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from corocrawl._archive import MAX_PART, MAX_RELATIVE, PageSaver, WarcArchive, safe_relative_path


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Example.com/", "example.com/%index.html"),
        ("http://example.com:8080/docs/", "example.com%3A8080/docs/%index.html"),
        ("https://example.com:443/a/b.pdf", "example.com/a/b.pdf"),
        ("http://e.test/a/../../../etc/passwd", "e.test/etc/passwd%.html"),
        ("http://e.test/..%2F..%2Fetc%2Fpasswd", "e.test/%2E.%252F..%252Fetc%252Fpasswd%.html"),
        ("http://e.test/CON", "e.test/%43ON%.html"),
        ("http://e.test/a:b|c*d", "e.test/a%3Ab%257Cc%2Ad%.html"),
        ("http://e.test/%00x", "e.test/%2500x%.html"),
    ],
)
def test_safe_relative_path(url: str, expected: str) -> None:
    assert safe_relative_path(url).as_posix() == expected


def test_query_gets_its_own_file_and_content_type_its_extension() -> None:
    one = safe_relative_path("http://e.test/list?page=1")
    two = safe_relative_path("http://e.test/list?page=2")
    assert one != two and one.suffix == ".html" and one.name == "list%Qpage=1%.html"
    assert safe_relative_path("http://e.test/photo", "image/png").name == "photo%.png"


def test_long_paths_are_cut_with_a_hash() -> None:
    long_name = safe_relative_path("http://e.test/" + "é" * 300 + ".pdf")
    assert len(long_name.name.encode()) <= MAX_PART and long_name.suffix == ".pdf"
    deep = safe_relative_path("http://e.test/" + "/".join(["segment"] * 100))
    assert len(str(deep)) <= MAX_RELATIVE and deep.parts[1] == "%long"
    other = safe_relative_path("http://e.test/" + "/".join(["segment"] * 101))
    assert deep != other


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_no_path_escapes_or_goes_absolute(path: str) -> None:
    from yarl import URL

    try:
        url = str(URL.build(scheme="http", host="e.test", path="/" + path))
    except ValueError:
        return
    relative = safe_relative_path(url)
    assert not relative.is_absolute()
    assert ".." not in relative.parts and relative.parts[0] == "e.test"
    assert all(0 < len(part.encode()) <= MAX_PART for part in relative.parts)
    assert len(str(relative)) <= MAX_RELATIVE


async def test_page_saver_handles_file_directory_clashes(tmp_path: Path) -> None:
    saver = PageSaver(tmp_path / "out")
    first = await saver.save("http://e.test/a.b", "text/html", b"file")
    second = await saver.save("http://e.test/a.b/c", "text/html", b"nested")
    assert first.read_bytes() == b"file" and second.read_bytes() == b"nested"
    assert "%clash" in second.parts
    assert all(p.resolve().is_relative_to((tmp_path / "out").resolve()) for p in (first, second))


async def test_warc_records_are_readable_by_warcio(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    archive = WarcArchive(path)
    await archive.write(
        url="http://e.test/page?x=1",
        status=200,
        response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        body=b"<title>hi</title>",
        request_headers={"User-Agent": "corocrawl-test"},
    )
    await archive.write(
        url="http://e.test/big", status=404, response_headers={}, body=b"x" * 10,
        truncated=True,
    )
    await archive.close()
    with path.open("rb") as stream:
        records = [
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI"),
                r.http_headers,
                r.content_stream().read(),
                r.rec_headers,
            )
            for r in ArchiveIterator(stream)
        ]
    assert [r[0] for r in records] == ["warcinfo", "response", "request", "response", "request"]
    _, uri, req_headers, _, _ = records[2]
    assert uri == "http://e.test/page?x=1"
    assert req_headers.protocol == "GET" and req_headers.get_header("Host") == "e.test"
    _, _, headers, body, _ = records[1]
    assert headers.get_statuscode() == "200" and body == b"<title>hi</title>"
    assert headers.get_header("Content-Encoding") is None  # the stored body is decoded
    _, _, headers, body, warc_headers = records[3]
    assert headers.get_statuscode() == "404" and body == b"x" * 10
    assert warc_headers.get_header("WARC-Truncated") == "length"


_SEGMENT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SEGMENT, min_size=1, max_size=4), st.lists(_SEGMENT, min_size=1, max_size=4))
def test_two_urls_never_share_a_file_and_names_decode_back(
    one: list[str], two: list[str]
) -> None:
    from urllib.parse import quote

    from yarl import URL

    from corocrawl._archive import url_path_of

    # The crawler's canonical form (yarl's): "%3A" and ":" are one URL, "%2F" and "/" two.
    urls = [URL("http://e.test/" + "/".join(quote(s, safe="") for s in parts))
            for parts in (one, two)]
    paths = [safe_relative_path(str(url)) for url in urls]
    if urls[0] != urls[1]:
        assert paths[0] != paths[1]
    for url, path in zip(urls, paths, strict=True):
        if "%long" not in path.parts and "%~" not in str(path):
            assert URL("http://e.test" + url_path_of(path)) == url
