"""Pictures in, pictures out: check an upload, clean its original, make its thumbnails.

Pure functions of bytes (no files, no network, no ``sns``), so that the app's process pool,
the Lambda handler and the batch tool all run the same code.

- Checked by decoding, never by name or Content-Type: JPEG, PNG, GIF and WebP only, with a
  pixel cap read from the header before any pixel is decoded (decompression bombs).
- The original is re-encoded once by Pillow, which applies the EXIF orientation and drops
  every metadata block (EXIF with its GPS, XMP, IPTC, comments) while keeping the ICC colour
  profile. JPEGs are re-encoded with their own quantisation tables and chroma subsampling
  (what ``quality="keep"`` does, which Pillow allows only before any rotation).
- Thumbnails fit inside a square of each size, are never enlarged, keep the format of the
  original, and are all made from one decode, each size from the next larger one. For a JPEG
  that decode uses the decoder's draft mode, which scales by 1/2, 1/4 or 1/8 inside the
  decoder (never below the largest size asked): most of the speed comes from it. Resizing
  uses what Pillow's own ``thumbnail()`` uses, bicubic with ``reducing_gap=2.0``: after the
  JPEG encoder, Lanczos gave the same picture within 0.02 dB PSNR and cost 1.6 times as much
  (bench/README.md). The EXIF orientation is applied to each thumbnail, not to the full
  picture. Animated GIF and WebP thumbnails keep only the first frame; the original keeps
  them all.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import (
    ExifTags,
    Image,
    ImageCms,
    ImageFile,
    ImageOps,
    JpegImagePlugin,
    UnidentifiedImageError,
)

FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
"""Pillow's format name -> the extension our keys use."""

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}

DEFAULT_MAX_PIXELS = 50_000_000
MAX_FRAMES = 500
JPEG_THUMB_QUALITY = 85
WEBP_THUMB_QUALITY = 80

ImageFile.LOAD_TRUNCATED_IMAGES = False

KEPT_INFO = ("transparency", "duration", "loop", "background")
"""What of ``Image.info`` may reach an encoder: Pillow's JPEG and GIF writers take a comment
(and GIF every other string key) from ``info`` when the caller passes none, so everything
else (comments, EXIF, XMP) is removed before saving."""

_SRGB = ImageCms.createProfile("sRGB")


class ImageError(ValueError):
    """The bytes are not a picture we take; ``reason`` is a stable code for messages."""

    def __init__(self, reason: str, message: str) -> None:
        # Both in ``args``, so that the error crosses a process pool intact.
        super().__init__(reason, message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Cleaned:
    """An original fit to serve: no metadata, upright; ``extension`` names its format."""

    data: bytes
    extension: str
    width: int
    height: int
    frames: int


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open from the header only and refuse anything that is not one of ours, or too big."""
    if not data:
        raise ImageError("empty", "The file is empty.")
    with warnings.catch_warnings():
        # Our own cap below replaces Pillow's warning (its limit is not ours); Pillow still
        # raises DecompressionBombError above twice its limit, which is a refusal too.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except Image.DecompressionBombError:
            raise _too_many_pixels(max_pixels) from None
        except UnidentifiedImageError:
            raise ImageError("not_image", "This is not a JPEG, PNG, GIF or WebP picture.") from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise ImageError("corrupt", "The picture is damaged and cannot be read.") from None
    if image.format not in FORMATS:
        raise ImageError("not_image", "This is not a JPEG, PNG, GIF or WebP picture.")
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("corrupt", "The picture is damaged and cannot be read.")
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels, width, height)
    return image


def _too_many_pixels(max_pixels: int, width: int = 0, height: int = 0) -> ImageError:
    size = f"{width}x{height} pixels" if width else "too many pixels"
    return ImageError(
        "too_many_pixels", f"The picture has {size}; at most {max_pixels:,} are allowed."
    )


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageError("corrupt", "The picture is damaged or cut short.") from None


def _frame_count(image: Image.Image, max_pixels: int) -> int:
    try:
        frames = int(getattr(image, "n_frames", 1))
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageError("corrupt", "The animation is damaged or cut short.") from None
    if frames > MAX_FRAMES or frames * image.width * image.height > 4 * max_pixels:
        raise ImageError(
            "too_many_pixels", f"The animation is too large ({frames} frames of {image.size})."
        )
    return frames


def _upright(image: Image.Image) -> Image.Image:
    """The image turned the way its EXIF orientation says (a copy when it must turn)."""
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageError("corrupt", "The picture is damaged or cut short.") from None


_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation -> the turn that makes the picture upright (as ``ImageOps.exif_transpose``)."""


def _orientation(image: Image.Image) -> Image.Transpose | None:
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageError("corrupt", "The picture is damaged or cut short.") from None
    return _TURNS.get(value) if isinstance(value, int) else None


def _icc(image: Image.Image) -> bytes | None:
    profile = image.info.get("icc_profile")
    return profile if isinstance(profile, bytes) and profile else None


def _bare(image: Image.Image) -> Image.Image:
    """``image`` with nothing in ``info`` but what encoders need (see ``KEPT_INFO``)."""
    image.info = {key: value for key, value in image.info.items() if key in KEPT_INFO}
    return image


def _to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """A CMYK picture as RGB for browsers: through its own profile when it has one (the
    result is sRGB, which browsers assume), else Pillow's plain conversion."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None
        if isinstance(converted, Image.Image):
            return converted, None
    return image.convert("RGB"), None


def _save(
    image: Image.Image, fmt: str, *, thumbnail: bool, source: Image.Image, icc: bytes | None
) -> bytes:
    """Encode without any metadata but the colour profile ``icc``."""
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        if thumbnail:
            options.update(quality=JPEG_THUMB_QUALITY)
        elif isinstance(source, JpegImagePlugin.JpegImageFile) and source.quantization:
            options.update(
                qtables=source.quantization,
                subsampling=JpegImagePlugin.get_sampling(source),
            )
        else:
            options.update(quality=95)
    elif fmt == "WEBP":
        lossless = bool(source.info.get("lossless")) if not thumbnail else False
        options.update(quality=WEBP_THUMB_QUALITY if thumbnail else 90, lossless=lossless)
    elif fmt == "GIF":
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
    _bare(image).save(out, format=fmt, **options)
    return out.getvalue()


def inspect(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, int, int]:
    """(extension, width, height) from the header, or ``ImageError``; decodes no pixels."""
    image = _open(data, max_pixels)
    return FORMATS[str(image.format)], image.width, image.height


def clean(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Cleaned:
    """The original to store: fully decoded (so a cut-off file is caught), upright, without
    metadata. An animation keeps its frames and timing."""
    image = _open(data, max_pixels)
    fmt = str(image.format)
    frames = _frame_count(image, max_pixels)
    _load(image)
    out = io.BytesIO()
    if frames > 1:
        sequence = []
        durations = []
        try:
            for index in range(frames):
                image.seek(index)
                sequence.append(_bare(image.copy()))
                durations.append(int(image.info.get("duration", 100)))
        except Image.DecompressionBombError:
            raise _too_many_pixels(max_pixels) from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise ImageError("corrupt", "The animation is damaged or cut short.") from None
        image.seek(0)
        first = sequence[0]
        options: dict[str, object] = {
            "save_all": True,
            "append_images": sequence[1:],
            "duration": durations,
            "loop": int(image.info.get("loop", 0)),
        }
        if fmt == "GIF":
            options["disposal"] = 2
        icc = _icc(image)
        if icc:
            options["icc_profile"] = icc
        first.save(out, format=fmt, **options)
        width, height = first.size
        return Cleaned(out.getvalue(), FORMATS[fmt], width, height, frames)
    upright = _upright(image)
    encoded = _save(upright, fmt, thumbnail=False, source=image, icc=_icc(image))
    return Cleaned(encoded, FORMATS[fmt], upright.width, upright.height, 1)


def fit(width: int, height: int, size: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` picture fitted inside ``size`` x ``size``,
    never enlarged."""
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def thumbnails(
    data: bytes, sizes: Iterable[int], max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict[int, bytes]:
    """Every thumbnail of ``sizes`` from one decode: ``{size: encoded bytes}``."""
    wanted = sorted(set(sizes), reverse=True)
    if not wanted:
        return {}
    image = _open(data, max_pixels)
    fmt = str(image.format)
    largest = fit(image.width, image.height, wanted[0])
    if fmt == "JPEG":
        # Scaling inside the decoder; the result stays at least as large as asked.
        mode = image.mode if image.mode in ("RGB", "L", "CMYK") else "RGB"
        image.draft(mode, largest)
    _load(image)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    # Turned upright after resizing: turning a thumbnail costs far less than the full picture.
    turn = _orientation(image)
    icc = _icc(image)
    working: Image.Image = image
    if working.mode in ("P", "PA", "1", "LA", "I;16", "I", "F"):
        has_alpha = working.mode in ("PA", "LA") or "transparency" in working.info
        working = working.convert("RGBA" if has_alpha else "RGB")
    results: dict[int, bytes] = {}
    current = working
    for size in wanted:
        target = fit(working.width, working.height, size)
        if target != current.size:
            current = current.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
        output, output_icc = current, icc
        if output.mode == "CMYK":
            output, output_icc = _to_rgb(output, icc)
        if turn is not None:
            output = output.transpose(turn)
        results[size] = _save(output, fmt, thumbnail=True, source=image, icc=output_icc)
    return results
