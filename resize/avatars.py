"""Avatars: an upload made into a centred square, and that square's sizes.

Pure functions of bytes, like ``resize.core``, so that the app's pool, the Lambda and the
batch tool make the same faces. The upload goes through ``core.clean`` first (the checks of
every picture: formats, pixels, damage; upright, no metadata), then is cropped to the
centred square of its short side, scaled down to ``AVATAR_ORIGINAL_SIDE`` at most, and
stored as the avatar's original. Its sizes are ``core.thumbnails`` of that square: squares
too, never enlarged.
"""

from __future__ import annotations

import io

from PIL import Image

from resize import core, pixels
from resize.errors import DAMAGED, ImageError
from resize.keys import AVATAR_ORIGINAL_SIDE, AVATAR_SIZES

SAVED_AS = {"jpg": ("JPEG", "jpg"), "png": ("PNG", "png"), "gif": ("PNG", "png")}
"""The extension of the cleaned upload -> (Pillow format, extension) of the square: a GIF
becomes a still PNG (a face does not move); anything else not listed is saved as WebP."""


def _square_of(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    short = min(width, height)
    left, top = (width - short) // 2, (height - short) // 2
    box = (left, top, left + short, top + short)
    target = min(short, side)
    return image.resize((target, target), Image.Resampling.BICUBIC, box=box, reducing_gap=2.0)


def square(
    data: bytes,
    max_pixels: int = core.DEFAULT_MAX_PIXELS,
    side: int = AVATAR_ORIGINAL_SIDE,
    *,
    max_side: int = core.DEFAULT_MAX_SIDE,
) -> core.Cleaned:
    """The avatar's original: the upload's centred square, at most ``side`` pixels, sRGB
    without a profile or any metadata; an animation's first frame. ``ImageError`` for
    anything ``core.clean`` refuses."""
    cleaned = core.clean(data, max_pixels, max_side)
    fmt, extension = SAVED_AS.get(cleaned.extension, ("WEBP", "webp"))
    try:
        with Image.open(io.BytesIO(cleaned.data)) as image:
            image.load()
            icc = image.info.get("icc_profile")
            working: Image.Image = image
            if working.mode not in ("RGB", "RGBA", "L"):
                has_alpha = working.mode in ("PA", "LA") or "transparency" in working.info
                working = working.convert("RGBA" if has_alpha else "RGB")
            if isinstance(icc, bytes) and icc:
                working = pixels.to_srgb(working, icc)
            squared = _square_of(working, side)
        if fmt == "JPEG" and squared.mode != "L":
            squared = squared.convert("RGB")
        out = io.BytesIO()
        options: dict[str, object] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
        squared.save(out, format=fmt, **options)
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError("corrupt", DAMAGED) from error
    return core.Cleaned(out.getvalue(), extension, squared.width, squared.height, 1)


def sizes(
    data: bytes, max_pixels: int = core.DEFAULT_MAX_PIXELS, wanted: tuple[int, ...] = AVATAR_SIZES
) -> dict[int, bytes]:
    """Every avatar size of a square original: ``{size: encoded bytes}``."""
    return core.thumbnails(data, wanted, max_pixels)
