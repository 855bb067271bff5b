"""Tiny valid JPEG posters, built with the standard library only.

Each poster is one flat colour. A flat 8x8 block has only a DC coefficient, so
the encoder needs no DCT: the DC value of a block of sample ``v`` is
``8 * (v - 128)`` with an all-ones quantisation table, every AC run is a single
end-of-block code, and after the first block every DC difference is zero. The
Huffman tables are custom and minimal (twelve 4-bit DC codes, a 1-bit EOB),
which baseline JPEG allows.
"""

from __future__ import annotations

import struct
from functools import lru_cache

THUMB_SIZE = (64, 96)
POSTER_SIZE = (272, 400)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(max(0, min(255, round(v))) for v in (y, cb, cr))  # type: ignore[return-value]


def _dc_bits(diff: int) -> str:
    """Huffman code (category as 4 bits) plus the magnitude bits of a DC difference."""
    category = abs(diff).bit_length()
    code = format(category, "04b")
    if category == 0:
        return code
    magnitude = diff if diff > 0 else diff + (1 << category) - 1
    return code + format(magnitude, f"0{category}b")


@lru_cache(maxsize=4096)
def jpeg_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A baseline JFIF image of ``width`` x ``height`` (multiples of 8) filled with ``rgb``.

    >>> jpeg_bytes(8, 8, (200, 30, 30))[:2] == b"\\xff\\xd8"
    True
    """
    if width % 8 or height % 8 or width <= 0 or height <= 0:
        raise ValueError("width and height must be positive multiples of 8")
    blocks = (width // 8) * (height // 8)
    eob = "0"
    first = "".join(_dc_bits(8 * (c - 128)) + eob for c in _ycbcr(rgb))
    rest = (_dc_bits(0) + eob) * 3
    bits = first + rest * (blocks - 1)
    bits += "1" * (-len(bits) % 8)  # pad the last byte with ones, as the standard says
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")

    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + b"\x01" * 64
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"".join(
        bytes((component, 0x11, 0)) for component in (1, 2, 3)
    )
    # DC table 0: twelve codes of length 4 for categories 0..11.
    dht_dc = b"\x00" + bytes((0, 0, 0, 12) + (0,) * 12) + bytes(range(12))
    # AC table 0: a single code of length 1 for EOB (symbol 0x00).
    dht_ac = b"\x10" + bytes((1,) + (0,) * 15) + b"\x00"
    sos = b"\x03" + b"".join(bytes((component, 0x00)) for component in (1, 2, 3)) + b"\x00\x3f\x00"
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xE0, jfif),
            _segment(0xDB, dqt),
            _segment(0xC0, sof),
            _segment(0xC4, dht_dc),
            _segment(0xC4, dht_ac),
            _segment(0xDA, sos),
            scan,
            b"\xff\xd9",
        )
    )
