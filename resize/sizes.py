"""The numbers, the geometry and the result type that the app shares with ``resize.core``,
without Pillow: a serving process reads them, and unpickles a pool job's ``Cleaned``, without
ever loading the picture libraries, which only the picture pool's processes need (#22: about
12 MB a worker)."""

from __future__ import annotations

from dataclasses import dataclass

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}

DEFAULT_MAX_PIXELS = 50_000_000
"""Above a 48 MP phone photo (8064 x 6048 = 48.8 million)."""
DEFAULT_MAX_SIDE = 4096
"""The long side of a stored original; larger stills are scaled down to it on upload."""
MAX_FRAMES = 500
"""The most frames an animation may have."""


def fit(width: int, height: int, size: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` picture fitted inside ``size`` x ``size``,
    never enlarged."""
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass(frozen=True)
class Cleaned:
    """An original fit to serve: no metadata, upright; ``extension`` names its format."""

    data: bytes
    extension: str
    width: int
    height: int
    frames: int
