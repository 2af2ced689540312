"""The picture pool's jobs, named here so that a serving process hands them to its pool
without loading Pillow, pillow-heif or blurhash itself (about 12 MB a worker, #22).

A job is sent to a pool process by its name; each one imports what it runs there, where the
pool has already loaded it (``WorkPool(preload=...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resize.sizes import Cleaned

PRELOAD = ("sns.picture_jobs", "resize.core", "resize.avatars", "sns.placeholders")
"""What the pool's processes load when they start: a job's first run must not pay for an
import (a job has ``SNS_IMAGE_JOB_SECONDS``). What a job returns is plain values or
``resize.sizes.Cleaned``, so that reading its answer loads no picture library here."""


def clean_with_placeholder(data: bytes, max_pixels: int, *, max_side: int) -> tuple[Cleaned, str]:
    """A post picture's upload: ``resize.core.clean`` and its blurhash, in one job."""
    from sns.placeholders import clean_with_placeholder as job

    return job(data, max_pixels, max_side=max_side)


def thumbnails(data: bytes, sizes: tuple[int, ...], max_pixels: int) -> dict[int, bytes]:
    from resize.core import thumbnails as job

    return job(data, sizes, max_pixels)


def placeholder(data: bytes) -> Any:
    """(width, height, blurhash) of a stored picture (older posts' pictures)."""
    from sns.placeholders import placeholder as job

    return job(data)


def avatar_square(data: bytes, max_pixels: int, *, max_side: int) -> Cleaned:
    from resize.avatars import square

    return square(data, max_pixels, max_side=max_side)


def avatar_sizes(square: bytes, max_pixels: int) -> dict[int, bytes]:
    from resize.avatars import sizes

    return sizes(square, max_pixels)
