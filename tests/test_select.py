"""select_all / select_first: one selector engine a thread, the same answers as css()."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from corocrawl._select import select_all, select_first

_TAGS = ("div", "p", "a", "li", "ul", "span", "img", "template", "svg", "table", "td", "h3")
_ATTRS = ("", ' class="x"', ' id="y"', ' class="x y" href="/z"', ' rel="v:image"')
_QUERIES = ("div", "p a", "div > p", ".x", "#y", "ul li", "a[href]", "td", "*", "svg a",
            'img[rel="v:image"]', "div.x p, li", "template div", "html", "body > *",
            "li:first-child", ":not(div)", "a.x.y", "h3 ~ p", "p + a")


@st.composite
def _html(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 3 if depth < 4 else 0))):
        tag = draw(st.sampled_from(_TAGS))
        inner = draw(_html(depth + 1)) if depth < 4 else "t"
        parts.append(f"<{tag}{draw(st.sampled_from(_ATTRS))}>{inner}"
                     + draw(st.sampled_from([f"</{tag}>", ""])))
    return "".join(parts)


def _ids(nodes: list[LexborNode]) -> list[int]:
    return [n.mem_id for n in nodes]


@given(_html(), st.sampled_from(_QUERIES))
def test_same_answers_as_css(html: str, query: str) -> None:
    """From the document and from each of its nodes, as css() and css_first() answer."""
    dom = LexborHTMLParser(html)
    assert _ids(select_all(dom, query)) == _ids(dom.css(query))
    first = select_first(dom, query)
    expected = dom.css_first(query)
    assert (first and first.mem_id) == (expected and expected.mem_id)
    for node in dom.css("*")[:20]:
        assert _ids(select_all(node, query)) == _ids(node.css(query))
        first, expected = select_first(node, query), node.css_first(query)
        assert (first and first.mem_id) == (expected and expected.mem_id)


def test_nodes_belong_to_their_document_after_it_is_gone() -> None:
    """The engine outlives every page; what it returns keeps its own page alive."""
    found = select_all(LexborHTMLParser("<p>one</p><p>two</p>"), "p")
    select_all(LexborHTMLParser("<p>other</p>"), "p")
    assert [n.text() for n in found] == ["one", "two"]


def test_bad_selector_raises_and_the_engine_still_works() -> None:
    dom = LexborHTMLParser("<div><p>a</p></div>")
    for bad in ("a[", "::", "p >", "#"):
        with pytest.raises(SelectolaxError):
            select_all(dom, bad)
        with pytest.raises(SelectolaxError):
            select_first(dom, bad)
    assert [n.text() for n in select_all(dom, "div p")] == ["a"]


def test_threads_each_get_their_own_engine() -> None:
    """Queries from several threads at once answer as they would alone."""
    pages = [LexborHTMLParser("".join(f"<p class=c{i % 3}>{i}</p>" for i in range(k, k + 50)))
             for k in range(0, 400, 50)]
    errors: list[str] = []

    def work(seed: int) -> None:
        for n in range(300):
            dom = pages[(seed + n) % len(pages)]
            query = f"p.c{n % 3}"
            if [x.text() for x in select_all(dom, query)] != [x.text() for x in dom.css(query)]:
                errors.append(f"thread {seed}, {query}")

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
