"""Decoding bodies: BOM, header, meta, and lying declarations."""

from __future__ import annotations

import codecs

from corocrawl._encoding import decode_body

PAGE = "<html><head><meta charset='{}'><title>即将上映</title></head><body>{}</body></html>"


def test_header_charset_wins_when_it_decodes() -> None:
    body = PAGE.format("utf-8", "北京").encode("gbk")
    assert decode_body(body, "text/html; charset=GBK") == (body.decode("gb18030"), "gb18030")


def test_meta_charset_is_used_without_header() -> None:
    body = PAGE.format("big5", "電影").replace("即将上映", "電影").encode("big5")
    text, encoding = decode_body(body, "text/html")
    assert encoding == "big5" and "電影" in text


def test_bom_beats_declarations() -> None:
    body = codecs.BOM_UTF8 + PAGE.format("gbk", "上海").encode("utf-8")
    text, encoding = decode_body(body, "text/html; charset=gbk")
    assert encoding == "utf-8" and "上海" in text


def test_gbk_bytes_under_a_utf8_meta_are_not_mojibake() -> None:
    body = PAGE.format("utf-8", "深圳影讯 " * 50).encode("gbk")
    text, encoding = decode_body(body, "text/html")
    assert encoding == "gb18030"
    assert "深圳影讯" in text and "\ufffd" not in text


def test_plain_ascii_is_utf8() -> None:
    assert decode_body(b"<p>hello</p>", None) == ("<p>hello</p>", "utf-8")
