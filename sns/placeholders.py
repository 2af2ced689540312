"""A picture's placeholder: a 4x3 blurhash, some 28 characters that the page's script draws
as a blurred preview until the picture arrives (#19).

Runs in the image pool (decoding is CPU work), so this module imports only Pillow and
blurhash: the pool's workers load it at start, and a job's time limit never pays for
importing the rest of ``sns``.
"""

from __future__ import annotations

import io

import blurhash  # type: ignore[import-untyped]
from PIL import Image

from resize import core

PLACEHOLDER_SIDE = 32
"""The long side the picture is shrunk to before its blurhash is taken."""


def placeholder(data: bytes) -> tuple[int, int, str]:
    """(width, height, blurhash) of a stored original, upright as stored; in the pool."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        image.draft("RGB", (PLACEHOLDER_SIDE * 2, PLACEHOLDER_SIDE * 2))
        small = image.convert("RGB")
        small.thumbnail((PLACEHOLDER_SIDE, PLACEHOLDER_SIDE))
    return width, height, str(blurhash.encode(small, x_components=4, y_components=3))


def clean_with_placeholder(
    data: bytes, max_pixels: int, *, max_side: int = core.DEFAULT_MAX_SIDE
) -> tuple[core.Cleaned, str]:
    """``resize.core.clean`` and the cleaned picture's blurhash, in one pool job (a job
    more per upload would queue behind thumbnails); a picture whose placeholder cannot
    be made is still taken, without one."""
    cleaned = core.clean(data, max_pixels, max_side)
    try:
        hashed = placeholder(cleaned.data)[2]
    except Exception:
        hashed = ""
    return cleaned, hashed
