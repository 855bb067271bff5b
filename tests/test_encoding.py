"""Decoding bodies: BOM, header, meta, lying declarations, and undeclared East Asian pages."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corocrawl import Request
from corocrawl._encoding import (
    _first_non_ascii,
    decode_body,
    header_charset,
    meta_charset,
    reads_as_utf8,
)
from corocrawl._response import Response

PAGE = "<html><head><meta charset='{}'><title>即将上映</title></head><body>{}</body></html>"


def test_header_charset_wins_when_it_decodes() -> None:
    body = PAGE.format("utf-8", "北京").encode("gbk")
    assert decode_body(body, "text/html; charset=GBK") == (body.decode("gb18030"), "gb18030")


def test_meta_charset_is_used_without_header() -> None:
    body = PAGE.format("big5", "電影").replace("即将上映", "電影").encode("big5")
    text, encoding = decode_body(body, "text/html")
    assert encoding == "cp950" and "電影" in text


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


# UTF-8 is judged from three samples of a page's non-ASCII bytes (the first one, the
# middle and the end), not from a decode of the whole page.
FILLER = "<p>" + "x" * 30_000 + "</p>"


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_gbk_text_under_a_utf8_label_is_caught_wherever_it_starts(where: str) -> None:
    gbk = "深圳影讯上映日期 " * 40
    parts = {"start": [gbk, FILLER, FILLER], "middle": [FILLER, gbk, FILLER],
             "end": [FILLER, FILLER, gbk]}[where]
    # A UTF-8 "©" first: the page's first non-ASCII bytes are valid UTF-8.
    body = "©".encode() + b"".join(p.encode("gbk") for p in parts)
    assert not reads_as_utf8(body)
    text, encoding = decode_body(body, "text/html; charset=utf-8")
    assert encoding == "gb18030" and "深圳影讯" in text


def test_a_stray_byte_outside_the_samples_is_replaced_not_a_reason_to_guess() -> None:
    # 14 KB of text, the stray byte, 60 KB of markup, 14 KB of text: samples at 0-4 KB,
    # 40-44 KB and at the end.
    body = ("上映 " * 2000).encode() + b"\xff" + (FILLER * 2 + "上映 " * 2000).encode()
    response = Response("http://127.0.0.1/", 200, {"Content-Type": "text/html"}, body,
                        Request("http://127.0.0.1/"))
    assert response.encoding == "utf-8"
    assert response.text.count("\ufffd") == 1 and "上映" in response.text
    assert response.css_first("p") is not None  # Lexbor parsed the bytes as they are


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=20_000), st.integers(0, 3))
def test_valid_utf8_always_reads_as_utf8(text: str, cut: int) -> None:
    # Samples may begin or end inside a character: never a false alarm. A body cut
    # short inside its last character (max_body) is still UTF-8, too.
    body = (text * (1 + 30_000 // len(text.encode()))).encode()
    assert reads_as_utf8(body)
    last = len(body) - len(body.rstrip(bytes(range(0x80, 0x100))))
    assert reads_as_utf8(body[: len(body) - min(cut, last)]) or last == 0


# Pages as a Japanese, Korean, Taiwanese and mainland site would write them; the bytes
# are those the sites' own encodings give, with no charset declared anywhere.
JAPANESE = """<html><head><title>今週公開の映画 - 映画情報サイト</title></head><body>
<h1>今週公開の映画</h1><p>東京の映画館では、今週末から新しいアニメ映画が公開されます。監督は「時をかける少女」で知られる細田守さんで、
主人公の声を担当するのは人気の若手俳優です。チケットは各劇場の窓口とオンラインで販売中です。</p>
<p>上映時間は約二時間で、字幕版と吹き替え版の両方が用意されています。詳しくは公式サイトをご覧ください。</p>
<ul><li>新宿ピカデリー：午前十時から</li><li>渋谷シネクイント：午後一時から</li></ul></body></html>"""
KOREAN = """<html><head><title>이번 주 개봉 영화 - 영화 정보</title></head><body>
<h1>이번 주 개봉 영화</h1><p>서울의 주요 극장에서는 이번 주말부터
새로운 애니메이션 영화가 개봉합니다. 감독은 많은 관객에게 사랑받은 작품을
만든 사람으로, 주인공의 목소리는 인기 있는 젊은 배우가 맡았습니다.
표는 각 극장의 매표소와 인터넷에서 살 수 있습니다.</p>
<p>상영 시간은 약 두 시간이며 자막판과 더빙판이 모두 준비되어 있습니다.
자세한 내용은 공식 홈페이지를 참고하시기 바랍니다.</p>
<ul><li>강남 영화관: 오전 열 시부터</li><li>종로 영화관: 오후 한 시부터</li></ul></body></html>"""
TAIWANESE = """<html><head><title>本週上映電影 - 電影資訊網</title></head><body>
<h1>本週上映電影</h1><p>台北的各大電影院將在這個週末推出一部新的動畫電影。導演過去的作品深受觀眾喜愛,這次為主角配音的是一位很受歡迎的年輕演員。
電影票可以在各影城的售票處和網路上購買。</p>
<p>片長大約兩個小時,同時提供字幕版與配音版。詳細的資訊請參考官方網站,我們也會在這裡持續更新最新的消息。</p>
<ul><li>信義威秀影城:上午十點開始</li><li>西門町國賓影城:下午一點開始</li></ul></body></html>"""
CHINESE = """<html><head><title>本周上映电影 - 电影资讯网</title></head><body>
<h1>本周上映电影</h1><p>北京的各大电影院将在这个周末推出一部新的动画电影。导演过去的作品深受观众喜爱,这次为主角配音的是一位很受欢迎的年轻演员。
电影票可以在各影城的售票处和网上购买。</p><p>片长大约两个小时,同时提供字幕版与配音版。详细的信息请参考官方网站。</p></body></html>"""


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("Shift_JIS", "cp932"), ("x-sjis", "cp932"), ("windows-31j", "cp932"),
        ("EUC-KR", "cp949"), ("ks_c_5601-1987", "cp949"),
        ("GB2312", "gb18030"), ("x-gbk", "gb18030"),
        ("Big5", "cp950"), ("big5-hkscs", "big5hkscs"), ("EUC-JP", "euc_jp"),
        ("ISO-8859-1", "cp1252"), ("latin1", "cp1252"), ("US-ASCII", "cp1252"),
        ("tis-620", "cp874"), ("UTF8", "utf-8"), ("koi8-r", "koi8-r"), ("no-such", None),
    ],
)
def test_charset_labels_are_read_as_browsers_read_them(label: str, codec: str | None) -> None:
    assert header_charset(f"text/html; charset={label}") == codec
    assert meta_charset(f'<meta charset="{label}">'.encode()) == codec


def test_a_shift_jis_label_covers_the_windows_extensions() -> None:
    # ① and ㈱ are cp932 extensions that Japanese pages labelled Shift_JIS use freely.
    text = "<meta charset=Shift_JIS><p>①株式会社と㈱の違い</p>"
    text_out, encoding = decode_body(text.encode("cp932"), "text/html")
    assert (text_out, encoding) == (text, "cp932")


def test_an_euc_kr_label_covers_unified_hangul() -> None:
    # 똠 is not in KS X 1001: EUC-KR pages carry it as a cp949 (UHC) extension.
    text = "<meta charset=euc-kr><p>똠방각하 이야기</p>"
    assert decode_body(text.encode("cp949"), "text/html") == (text, "cp949")


def test_a_big5_label_covers_the_euro_sign() -> None:
    text = "<meta charset=big5><p>票價:€12,學生半價</p>"
    assert decode_body(text.encode("cp950"), None) == (text, "cp950")


@pytest.mark.parametrize(
    ("page", "codec"),
    [
        (JAPANESE, "cp932"),
        (JAPANESE, "euc_jp"),
        (KOREAN, "cp949"),
        (TAIWANESE, "cp950"),
        (CHINESE, "gb18030"),
    ],
)
@pytest.mark.parametrize("content_type", [None, "text/html", "text/html; charset=utf-8"])
def test_undeclared_east_asian_pages_decode_in_their_own_encoding(
    page: str, codec: str, content_type: str | None
) -> None:
    # Shift_JIS, EUC-KR and Big5 bytes all decode cleanly as GB18030 too: trying that
    # first read every one of these pages as Chinese mojibake.
    assert decode_body(page.encode(codec), content_type) == (page, codec)


@pytest.mark.parametrize(("page", "codec"), [(JAPANESE, "shift_jis"), (KOREAN, "euc-kr")])
def test_declared_east_asian_pages_decode_in_the_superset(page: str, codec: str) -> None:
    declared = page.replace("<head>", f'<head><meta charset="{codec}">')
    text, encoding = decode_body(declared.encode(codec), None)
    assert text == declared and encoding in ("cp932", "cp949")


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40_000), st.data())
def test_the_first_non_ascii_byte_is_found_wherever_it_is(size: int, data: st.DataObject) -> None:
    body = bytearray(b"a" * size)
    first = data.draw(st.integers(0, size - 1))
    for at in [first, *data.draw(st.lists(st.integers(first, size - 1), max_size=3))]:
        body[at] = data.draw(st.integers(0x80, 0xFF))
    assert _first_non_ascii(bytes(body)) == first
