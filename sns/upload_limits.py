"""What an upload may be, and how one is refused: the account's hourly budget of pictures
and bytes, and the words of every refusal (``ImageRefused``), so that the image service,
the avatars and the API say the same thing the same way."""

from __future__ import annotations

from typing import Any

from resize import sizes as picture_sizes
from resize.errors import ImageError
from sns.errors import ServiceError, TooManyRequests
from sns.ratelimit import RateLimiter

UPLOAD_WINDOW = 3600
"""Uploads per account are counted over an hour."""


class ImageRefused(ServiceError):
    """An upload we do not take; ``reason`` is resize.core's code (empty, not_image, ...)."""

    status = 400

    def __init__(self, message: str, *, reason: str, status: int = 400, **values: Any) -> None:
        super().__init__(message, **values)
        self.reason = reason
        self.status = status


_MESSAGES = {
    "empty": "The file is empty.",
    "not_image": "This is not a picture we can read: send a JPEG, PNG, GIF, WebP, HEIC or "
    "AVIF picture.",
    "corrupt": "The picture is damaged or cut short.",
    "too_many_pixels": "The picture has too many pixels (at most {max_pixels:,}).",
    "animation_too_wide": "A GIF or animated WebP may be at most {max_side} pixels on its long "
    "side; this one is {width}x{height}.",
    "animation_too_large": "The animation has {frames} frames of {width}x{height} pixels, "
    "{pixels:,} in all; at most {max_pixels:,} pixels (and {max_frames} frames) are allowed.",
}


def refusal(exc: ImageError, *, max_pixels: int, max_side: int) -> ImageRefused:
    """``resize``'s refusal of a picture in words for people, with the limits it names."""
    return ImageRefused(
        _MESSAGES.get(exc.reason, "The picture cannot be read."),
        reason=exc.reason,
        **{
            "max_pixels": max_pixels,
            "max_frames": picture_sizes.MAX_FRAMES,
            "max_side": max_side,
            **exc.values,
        },
    )


def too_large(max_bytes: int) -> ImageRefused:
    """The refusal of an upload over ``max_bytes`` (413), naming the limit in MiB."""
    return ImageRefused(
        "The picture is larger than {limit} MiB.",
        reason="too_large",
        status=413,
        limit=mib(max_bytes),
    )


def mib(size: int) -> str:
    """``size`` bytes in MiB as a person reads it: ``20``, ``5.5``."""
    return f"{size / 2**20:.1f}".removesuffix(".0")


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


class UploadBudget:
    """How many pictures, and how many bytes of them, an account may upload an hour, in
    ``limiter`` (Redis when configured, so shared by every process)."""

    def __init__(self, limiter: RateLimiter, per_hour: int, bytes_per_hour: int) -> None:
        self.limiter = limiter
        self.per_hour = per_hour
        self.bytes_per_hour = bytes_per_hour

    def _keys(self, user_id: int) -> tuple[str, str]:
        return f"upload:count:{user_id}", f"upload:bytes:{user_id}"

    def _over_count(self, reset_in: int) -> TooManyRequests:
        return TooManyRequests(
            "At most {limit} pictures an hour may be uploaded. Try again in {minutes} min.",
            retry_after=max(1, reset_in),
            minutes=_minutes(reset_in),
            limit=self.per_hour,
        )

    def _over_bytes(self, reset_in: int) -> TooManyRequests:
        return TooManyRequests(
            "At most {limit} MiB of pictures an hour may be uploaded. Try again in {minutes} min.",
            retry_after=max(1, reset_in),
            minutes=_minutes(reset_in),
            limit=round(self.bytes_per_hour / 2**20, 1),
        )

    async def check(self, user_id: int) -> None:
        """Before an upload's body is read: an account already at one of its hourly limits
        is refused at once (``take`` takes the place itself, atomically)."""
        count_key, bytes_key = self._keys(user_id)
        count = await self.limiter.peek(count_key)
        if count.hits >= self.per_hour:
            raise self._over_count(count.reset_in)
        volume = await self.limiter.peek(bytes_key)
        if volume.hits >= self.bytes_per_hour:
            raise self._over_bytes(volume.reset_in)

    async def take(self, user_id: int, size: int) -> None:
        """One upload and its bytes under the account's hourly limits, counted now (a
        picture never posted counts too), or ``TooManyRequests`` and nothing counted."""
        count_key, bytes_key = self._keys(user_id)
        taken = await self.limiter.reserve(count_key, self.per_hour, UPLOAD_WINDOW)
        if not taken.granted:
            raise self._over_count(taken.count.reset_in)
        volume = await self.limiter.reserve(
            bytes_key, self.bytes_per_hour, UPLOAD_WINDOW, amount=size
        )
        if not volume.granted:
            await self.limiter.release(count_key)
            raise self._over_bytes(volume.count.reset_in)
