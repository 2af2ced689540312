"""Pictures as phones take them, made in the test: HEIC (by pillow-heif), AVIF, large JPEGs
with orientation and GPS, and a way to pad a JPEG to an exact size."""

from __future__ import annotations

import io
import random

import pillow_heif
from PIL import ExifTags, Image

from tests import pictures

pillow_heif.register_heif_opener()


def heic(image: Image.Image | None = None, *, orientation: int | None = None) -> bytes:
    """A HEIC as an iPhone writes it: camera EXIF with GPS, turned by ``orientation`` (which
    pillow-heif records as the container's rotation, as phones do)."""
    image = image if image is not None else pictures.marked(400, 300)
    exif = pictures.exif_with_gps(orientation)
    return pictures.encode(image, "HEIF", exif=exif.tobytes(), quality=80)


def avif(image: Image.Image | None = None, *, orientation: int | None = None) -> bytes:
    """An AVIF with camera EXIF and GPS, its orientation in the EXIF."""
    image = image if image is not None else pictures.marked(400, 300)
    exif = pictures.exif_with_gps(orientation)
    return pictures.encode(image, "AVIF", exif=exif.tobytes(), quality=60)


def phone_jpeg(
    width: int = 4608, height: int = 3456, *, orientation: int | None = 6, quality: int = 92
) -> bytes:
    """A phone-sized photo of noise (which compresses as badly as a real one of grass or
    gravel: about 12 MB at 16 MP), with a red block in its stored top-left corner, the
    camera's EXIF, GPS and ``orientation``."""
    rng = random.Random(width * height)
    image = Image.merge(
        "RGB", [Image.frombytes("L", (width, height), rng.randbytes(width * height))] * 3
    )
    image.paste(pictures.MARK, (0, 0, width // 10, height // 10))
    exif = pictures.exif_with_gps(orientation)
    return pictures.encode(image, "JPEG", quality=quality, exif=exif.tobytes())


def padded_jpeg(size: int) -> bytes:
    """A small real JPEG followed by filler up to exactly ``size`` bytes (decoders stop at
    the end-of-image marker; the filler only makes the upload that large)."""
    data = pictures.jpeg(pictures.photo(640, 480))
    assert len(data) < size
    return data + b"\0" * (size - len(data))


def corner(image: Image.Image) -> tuple[str, ...]:
    """Which corners of ``image`` hold the red block (``"top-left"``, ...)."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    spots = {
        "top-left": (2, 2),
        "top-right": (width - 3, 2),
        "bottom-left": (2, height - 3),
        "bottom-right": (width - 3, height - 3),
    }
    return tuple(
        name
        for name, spot in spots.items()
        if _red(rgb.getpixel(spot))  # type: ignore[arg-type]
    )


def _red(pixel: tuple[int, int, int]) -> bool:
    red, green, blue = pixel
    return red > 180 and green < 90 and blue < 90


def no_camera_metadata(data: bytes) -> bool:
    """No EXIF (so no GPS, no camera name) and no XMP in a stored picture."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        return (
            pictures.SECRET not in data
            and ExifTags.IFD.GPSInfo not in exif
            and ExifTags.Base.Make not in exif
            and "xmp" not in image.info
        )
