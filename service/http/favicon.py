"""``/favicon.ico``: a tiny icon, so that a browser's automatic request is not a 404.

Drawn here (a 16x16 ICO: a blue disc with a white centre) rather than shipped as a
binary file: ~1 KB, made once at import.
"""

from __future__ import annotations

import struct

from flask import Flask, Response

SIZE = 16
MEDIA_TYPE = "image/x-icon"
BLUE, WHITE = (0xA8, 0x5F, 0x1F, 0xFF), (0xFF, 0xFF, 0xFF, 0xFF)  # BGRA
CLEAR = (0, 0, 0, 0)


def _pixel(x: int, y: int) -> tuple[int, int, int, int]:
    distance = ((x - 7.5) ** 2 + (y - 7.5) ** 2) ** 0.5
    return WHITE if distance < 3 else BLUE if distance < 7.5 else CLEAR


def icon() -> bytes:
    """The icon: one 32-bit BMP image in an ICO container."""
    # A BMP's rows run bottom to top; the AND mask (all zero: alpha decides) follows.
    pixels = b"".join(bytes(_pixel(x, y)) for y in reversed(range(SIZE)) for x in range(SIZE))
    mask = bytes(SIZE * 4)  # 16 bits a row, padded to 32
    header = struct.pack("<IiiHHIIiiII", 40, SIZE, 2 * SIZE, 1, 32, 0, 0, 0, 0, 0, 0)
    image = header + pixels + mask
    directory = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + directory + image


FAVICON = icon()


def init_app(app: Flask) -> None:
    """Serve the icon at ``/favicon.ico`` (outside the API and its spec)."""

    def favicon() -> Response:
        response = Response(FAVICON, mimetype=MEDIA_TYPE)
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response

    app.add_url_rule("/favicon.ico", "favicon", favicon)
