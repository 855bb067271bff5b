"""Turning response bytes into text without mojibake.

Order of evidence: BOM, the Content-Type charset, the ``<meta>`` charset, UTF-8,
then statistical detection. A declared charset is only believed if the bytes
decode cleanly with it: real pages lie (a GBK page re-saved under
``<meta charset=utf-8>``), and a strict decode is the cheapest lie detector.
For UTF-8, the one encoding Lexbor parses from bytes, the test is run on samples
of the page's non-ASCII text (``reads_as_utf8``), so that the page need not be
decoded at all unless a callback asks for its text.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Iterator

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)

# Browsers read a charset label as the WHATWG Encoding Standard says
# (https://encoding.spec.whatwg.org/#names-and-labels), and pages are written for
# browsers: a page labelled Shift_JIS uses Microsoft's cp932 extensions (①, ㈱, NEC
# and IBM kanji), one labelled EUC-KR uses cp949 (UHC), one labelled GB2312 uses
# GBK/GB18030, and "iso-8859-1" means windows-1252. Python's codecs take the
# labels literally, so the superset is named here.
_WHATWG_LABELS: dict[str, tuple[str, ...]] = {
    "cp932": ("csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis",
              "windows-31j", "x-sjis"),
    "cp949": ("cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean",
              "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949"),
    "gb18030": ("chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312",
                "gb_2312-80", "gbk", "iso-ir-58", "x-gbk", "gb18030"),
    # WHATWG's Big5 is Big5 with the Windows and HKSCS extensions; Python has no one
    # codec for that. cp950 (what Taiwanese pages are written with, € included) for
    # the plain labels, big5hkscs when the page says so.
    "cp950": ("big5", "cn-big5", "csbig5", "x-x-big5"),
    "big5hkscs": ("big5-hkscs",),
    "euc_jp": ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"),
    "iso2022_jp": ("csiso2022jp", "iso-2022-jp"),
    "cp1252": ("ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819",
               "iso-8859-1", "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1",
               "iso_8859-1:1987", "l1", "latin1", "latin-1", "us-ascii", "windows-1252",
               "x-cp1252"),
    "cp1254": ("cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599",
               "iso_8859-9", "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254"),
    "cp874": ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"),
}
_LABELS = {label: name for name, labels in _WHATWG_LABELS.items() for label in labels}
# Python's own aliases for the same encodings ("s_jis", "euckr", "latin_1" …), by codec name.
_CODEC_SUPERSETS = {"shift_jis": "cp932", "euc_kr": "cp949", "gb2312": "gb18030",
                    "gbk": "gb18030", "big5": "cp950", "ascii": "cp1252",
                    "iso8859-1": "cp1252", "latin-1": "cp1252", "iso8859-9": "cp1254",
                    "tis-620": "cp874", "iso8859-11": "cp874"}


def _normalise(label: str | None) -> str | None:
    """The Python codec a browser would decode a page labelled ``label`` with, or None.

    >>> _normalise("Shift_JIS"), _normalise("EUC-KR"), _normalise("ISO-8859-1")
    ('cp932', 'cp949', 'cp1252')
    """
    if not label:
        return None
    label = label.strip().lower()
    if label in _LABELS:
        return _LABELS[label]
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _CODEC_SUPERSETS.get(name, name)


@functools.lru_cache(maxsize=256)
def header_charset(content_type: str | None) -> str | None:
    """The charset named in a Content-Type header, normalised, or None.

    Cached: a crawl sees a handful of distinct Content-Type values, once per page.
    """
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return _normalise(match.group(1)) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset a ``<meta>`` tag declares in the first 4 KiB, normalised, or None."""
    match = _META_CHARSET.search(body[:4096])
    return _normalise(match.group(1).decode("ascii", "replace")) if match else None


# East Asian multi-byte encodings, tried strictly when no declared charset held.
_JAPANESE = ("cp932", "euc_jp")
_KOREAN = "cp949"
_CHINESE = ("gb18030", "cp950")
_MULTIBYTE = (*_CHINESE, *_JAPANESE, _KOREAN)
# Korean puts spaces between words, Chinese and Japanese do not: a space between two
# non-ASCII bytes is common in Korean text and rare in the others, whatever the encoding.
_SPACED = re.compile(rb"[\x80-\xff] [\x80-\xff]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _shares(text: str) -> tuple[float, float, float]:
    """Shares of the non-ASCII characters that are East Asian (CJK ideographs, kana,
    hangul, CJK and full-width punctuation), kana, and hangul syllables."""
    non_ascii = east_asian = kana = hangul = 0
    for char in text:
        code = ord(char)
        if code < 128:
            continue
        non_ascii += 1
        if 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0xAC00 <= code <= 0xD7A3:
            hangul += 1
        elif not (0x4E00 <= code <= 0x9FFF or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF):
            continue
        east_asian += 1
    if not non_ascii:
        return 0.0, 0.0, 0.0
    return east_asian / non_ascii, kana / non_ascii, hangul / non_ascii


def _multibyte_guess(body: bytes) -> str | None:
    """The East Asian encoding that decodes ``body`` cleanly into plausible text.

    Statistical detectors misjudge HTML, where markup drowns the text
    (charset-normalizer calls the real GBK douban page cp1251). A strict decode
    with a multi-byte encoding is strong evidence, since random bytes rarely
    form valid sequences. But the CJK encodings overlap: Shift_JIS, EUC-KR and
    Big5 text often decodes cleanly as GB18030 into ideographs, so a clean decode
    alone would call every East Asian page Chinese. Each language has a tell the
    wrong decodings lack: Japanese text is full of kana, Korean of hangul and of
    spaces between words; Chinese is what remains, GB18030 or Big5 by which reads
    as more East Asian. Single-byte encodings are left to the detector: they
    decode anything.
    """
    sample = body[:262144]
    non_ascii = len(sample) - len(sample.translate(None, _HIGH_BYTES))
    if not non_ascii:
        return None
    shares: dict[str, tuple[float, float, float]] = {}
    for name in _MULTIBYTE:
        try:
            text = sample.decode(name)
        except UnicodeDecodeError as exc:
            if exc.start < len(sample) - 4:  # a cut at the sample's end is not evidence
                continue
            text = sample[: exc.start].decode(name)
        if (found := _shares(text))[0] >= 0.8:
            shares[name] = found
    if not shares:
        return None
    japanese = max((n for n in _JAPANESE if n in shares), key=lambda n: shares[n][1], default=None)
    if japanese is not None and shares[japanese][1] >= 0.2:
        return japanese
    if _KOREAN in shares:
        hangul = shares[_KOREAN][2]
        spaced = len(_SPACED.findall(sample)) / non_ascii
        if hangul >= 0.95 or (hangul >= 0.7 and spaced >= 0.02):
            return _KOREAN
    chinese = [n for n in _CHINESE if n in shares]
    if chinese:  # max() keeps the first of equals: GB18030 before Big5
        return max(chinese, key=lambda n: shares[n][0])
    return max(shares, key=lambda n: shares[n][0])


def _declared(body: bytes, content_type: str | None) -> Iterator[str | None]:
    """The charsets to try in order; lazily, so that the ``<meta>`` is searched for
    only when the header's charset did not decode (most pages stop at the first)."""
    yield header_charset(content_type)
    yield meta_charset(body)
    yield "utf-8"


#: Bytes decoded strictly in each sample of ``reads_as_utf8``.
_UTF8_SAMPLE = 1024
#: Where the samples after the first end, as shares of the page.
_UTF8_SAMPLES_AT = (0.5, 1.0)


def reads_as_utf8(body: bytes) -> bool:
    """Whether ``body`` is UTF-8 text, judged from samples of its non-ASCII bytes.

    A page that only claims UTF-8 (GBK or Big5 re-saved under a UTF-8 label)
    fails at its first non-ASCII character: random double-byte text almost
    never forms valid UTF-8 for more than a few bytes. So three 1 KiB samples
    are decoded strictly, one from the first non-ASCII byte, one ending in the
    middle and one at the end, instead of the whole page: on a 40 KB douban page
    the whole strict decode costs ~310,000 instructions, nearly a third of what
    the crawl spent per page beyond the bare loop; the samples ~28,000 (callgrind). A stray
    invalid byte outside the samples ends up as U+FFFD, as it would in a
    browser (and in ``Response.text``).

    >>> reads_as_utf8("上映日期".encode()), reads_as_utf8("上映日期".encode("gbk"))
    (True, False)
    """
    if body.isascii():
        return True
    size, first = len(body), _first_non_ascii(body)
    if size - first <= 3 * _UTF8_SAMPLE:
        samples = [(first, size)]
    else:
        samples = [(first, first + _UTF8_SAMPLE)]
        for at in _UTF8_SAMPLES_AT:
            end = int(size * at)
            start = end - _UTF8_SAMPLE
            # Begin on a character: skip the continuation bytes (3 at most) of one cut.
            for _ in range(3):
                if 0x80 <= body[start] < 0xC0:
                    start += 1
            samples.append((start, end))
    view = memoryview(body)  # slices of it are not copies
    for start, end in samples:
        try:
            # final=False: a character cut at the sample's end is not an error.
            codecs.utf_8_decode(view[start:end], "strict", False)
        except UnicodeDecodeError:
            return False
    return True


def _first_non_ascii(body: bytes) -> int:
    """The offset of ``body``'s first byte above 0x7F (there must be one).

    With ``bytes.isascii``, which tests eight bytes at a time, on growing then
    halving slices (a page's first non-ASCII byte is usually in its <title>, so
    the slices copy little), then a regex over the last 64 bytes at most: a
    regex over the whole page would cost more than the samples it places, and
    ``codecs.ascii_decode``, whose error says where, copies the whole body into
    the error.
    """
    lo, hi = 0, 512  # body[:lo] is ASCII; body[:hi] is not, once the first loop ends
    while hi < len(body) and body[lo:hi].isascii():
        lo, hi = hi, hi * 4
    while hi - lo > 64:
        mid = (lo + hi) // 2
        if body[lo:mid].isascii():
            lo = mid
        else:
            hi = mid
    found = _NON_ASCII.search(body, lo, hi)
    assert found is not None, "body is not ASCII"
    return found.start()


def sniff_encoding(body: bytes, content_type: str | None = None) -> tuple[str, str | None]:
    """The encoding to read ``body`` with, and its text if finding out decoded it.

    As ``decode_body``, but a page that reads as UTF-8 is not decoded: Lexbor
    parses its bytes, and most callbacks never ask for the text.

    >>> sniff_encoding("<p>café</p>".encode(), "text/html")
    ('utf-8', None)
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, body[len(bom):].decode(name, "replace")
    tried: list[str] = []
    for candidate in _declared(body, content_type):
        if candidate is None or candidate in tried:
            continue
        tried.append(candidate)
        if candidate == "utf-8":
            if reads_as_utf8(body):
                return candidate, None
            continue
        try:
            return candidate, body.decode(candidate)
        except UnicodeDecodeError:
            continue
    return _undeclared(body, tried)


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode ``body``; return ``(text, encoding_used)``.

    >>> decode_body("电影".encode("gbk"), "text/html; charset=utf-8")[1]
    'gb18030'
    """
    name, text = sniff_encoding(body, content_type)
    if text is None:
        text = body.decode(name, "replace")
    return text, name


def _undeclared(body: bytes, tried: list[str]) -> tuple[str, str]:
    """Decode a page no declared charset (nor UTF-8) reads: guess; ``(encoding, text)``."""
    multibyte = _multibyte_guess(body)
    if multibyte is not None:
        return multibyte, body.decode(multibyte)
    # Imported here, for the rare page nothing else names: it takes ~60 ms to
    # import, a quarter of the start-up a crawl is allowed.
    import charset_normalizer

    best = charset_normalizer.from_bytes(body[:262144]).best()
    guessed = _normalise(best.encoding) if best is not None else None
    name = guessed or (tried[0] if tried else "utf-8")
    return name, body.decode(name, "replace")
