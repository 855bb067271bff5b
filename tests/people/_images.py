"""Real, small PNG files made with the standard library (for poster tests)."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def make_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid RGB PNG of one colour with a lighter band, so posters look distinct."""
    rows = []
    for y in range(height):
        colour = rgb if y < height * 2 // 3 else tuple(min(255, c + 80) for c in rgb)
        rows.append(b"\x00" + bytes(colour) * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def poster_png(index: int) -> bytes:
    """A 60x90 poster-shaped PNG whose colour depends on ``index``."""
    hue = (index * 47) % 256
    return make_png(60, 90, (hue, (hue * 3) % 256, 255 - hue))
