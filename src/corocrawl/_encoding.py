"""Turning response bytes into text without mojibake.

Order of evidence: BOM, the Content-Type charset, the ``<meta>`` charset, UTF-8,
then statistical detection. A declared charset is only believed if the bytes
decode cleanly with it: real pages lie (a GBK page re-saved under
``<meta charset=utf-8>``), and a strict decode is the cheapest lie detector.
"""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)

# Browsers read these labels as the superset encoding; so do we (WHATWG Encoding).
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "ascii": "cp1252",
              "us-ascii": "cp1252", "iso-8859-1": "cp1252", "latin-1": "cp1252"}


def _normalise(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(label, _SUPERSETS.get(name, name))


def header_charset(content_type: str | None) -> str | None:
    """The charset named in a Content-Type header, normalised, or None."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return _normalise(match.group(1)) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset a ``<meta>`` tag declares in the first 4 KiB, normalised, or None."""
    match = _META_CHARSET.search(body[:4096])
    return _normalise(match.group(1).decode("ascii", "replace")) if match else None


# East Asian multi-byte encodings, tried strictly when the declared charset lied.
_MULTIBYTE = ("gb18030", "big5", "shift_jis", "euc_jp", "euc_kr")


def _east_asian_share(text: str) -> float:
    """Share of non-ASCII characters that are CJK ideographs, kana, hangul or CJK punctuation."""
    non_ascii = 0
    east_asian = 0
    for char in text:
        code = ord(char)
        if code < 128:
            continue
        non_ascii += 1
        if (0x4E00 <= code <= 0x9FFF or 0x3000 <= code <= 0x30FF or 0xAC00 <= code <= 0xD7AF
                or 0xFF00 <= code <= 0xFFEF):
            east_asian += 1
    return east_asian / non_ascii if non_ascii else 0.0


def _multibyte_guess(body: bytes) -> str | None:
    """The East Asian encoding that decodes ``body`` cleanly into mostly CJK text.

    Statistical detectors misjudge HTML, where markup drowns the text
    (charset-normalizer calls the real GBK douban page cp1251). A strict decode
    with a multi-byte encoding is strong evidence, since random bytes rarely
    form valid sequences; the CJK share breaks ties. Single-byte encodings are
    left to the detector: they decode anything.
    """
    sample = body[:262144]
    if not any(byte >= 0x80 for byte in sample):
        return None
    best: tuple[float, str] | None = None
    for name in _MULTIBYTE:
        try:
            text = sample.decode(name)
        except UnicodeDecodeError as exc:
            if exc.start < len(sample) - 4:  # a cut at the sample's end is not evidence
                continue
            text = sample[: exc.start].decode(name)
        share = _east_asian_share(text)
        if share >= 0.8 and (best is None or share > best[0]):
            best = (share, name)
    return best[1] if best else None


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode ``body``; return ``(text, encoding_used)``.

    >>> decode_body("电影".encode("gbk"), "text/html; charset=utf-8")[1]
    'gb18030'
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(name, "replace"), name
    tried: list[str] = []
    for candidate in (header_charset(content_type), meta_charset(body), "utf-8"):
        if candidate is None or candidate in tried:
            continue
        tried.append(candidate)
        try:
            return body.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    multibyte = _multibyte_guess(body)
    if multibyte is not None:
        return body.decode(multibyte), multibyte
    # Imported here, for the rare page nothing else names: it takes ~60 ms to
    # import, a quarter of the start-up a crawl is allowed.
    import charset_normalizer

    best = charset_normalizer.from_bytes(body[:262144]).best()
    guessed = _normalise(best.encoding) if best is not None else None
    name = guessed or (tried[0] if tried else "utf-8")
    return body.decode(name, "replace"), name
