"""Pictures in, pictures out: check an upload, clean its original, make its thumbnails.

Pure functions of bytes (no files, no network, no ``sns``), so that the app's process pool,
the Lambda handler and the batch tool all run the same code.

- Checked by decoding, never by name or Content-Type: JPEG (an MPO, a JPEG with a
  multi-picture index, is its first picture), PNG, GIF and WebP, and what phones write:
  HEIC/HEIF (when pillow-heif is installed) and AVIF (when Pillow reads it), with a pixel cap read
  from the header before any pixel is decoded (decompression bombs). An animation gets the
  budget of one still picture: frames x width x height, counted from its blocks before any
  frame is decoded. Whatever Pillow raises on a broken file is an ``ImageError("corrupt")``.
- A still original is re-encoded once by Pillow, which applies the EXIF orientation and drops
  every metadata block (EXIF with its GPS, XMP, IPTC, comments). One larger than ``max_side``
  on its long side is scaled down to it first (a JPEG in the decoder's draft mode as far as
  it goes, so a large photo is never decoded whole when a smaller decode will do; one whose
  half, quarter or eighth is just under ``max_side`` is stored at that size, see
  ``DRAFT_SLACK``). HEIC/HEIF
  and AVIF, which browsers cannot all show, are written as JPEG (``pixels.CONVERTED_QUALITY``),
  converted to sRGB through their ICC profile when they carry one. JPEGs are re-encoded with
  their own quantisation tables and chroma subsampling (what ``quality="keep"`` does, which
  Pillow allows only before any rotation). An ICC profile stays when it parses and is at most
  ``pixels.MAX_KEPT_PROFILE`` bytes; a larger one is applied (the pixels converted to sRGB) and
  dropped, one that does not parse is dropped.
- GIFs and animated WebPs are cleaned block by block instead (comments, XMP, EXIF and other
  application blocks dropped, the frames kept byte for byte): no frame is decoded but the
  first, so an animation costs no more memory than one frame, and nothing is re-compressed.
- Thumbnails fit inside a square of each size, are never enlarged, keep the format of the
  original, and are all made from one decode, each size from the next larger one. For a JPEG
  that decode uses the decoder's draft mode, which scales by 1/2, 3/8, 1/4 or 1/8 inside the
  decoder (never below the largest size asked): most of the speed comes from it. Resizing
  uses what Pillow's own ``thumbnail()`` uses, bicubic with ``reducing_gap=2.0``: after the
  JPEG encoder, Lanczos gave the same picture within 0.02 dB PSNR and cost 1.6 times as much
  (bench/README.md). The EXIF orientation is applied to each thumbnail, not to the full
  picture. Thumbnails are sRGB without a profile (converted through the picture's own
  profile when it has one that parses). Animated GIF and WebP thumbnails keep only the first
  frame; the original keeps them all.
- How the pixels are turned, converted, scaled in the decoder and encoded is
  ``resize.pixels``; the thumbnail encoders were chosen by bench/resize.py against sharp (#23).
"""

from __future__ import annotations

import functools
import importlib
import io
import warnings
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from PIL import Image, ImageFile, JpegImagePlugin, UnidentifiedImageError, features

from resize import pixels
from resize.animation import clean_gif, clean_webp_animation
from resize.errors import DAMAGED, NOT_OURS, ImageError
from resize.sizes import CONTENT_TYPES as CONTENT_TYPES  # what resize's users read here too
from resize.sizes import DEFAULT_MAX_PIXELS as DEFAULT_MAX_PIXELS
from resize.sizes import DEFAULT_MAX_SIDE as DEFAULT_MAX_SIDE
from resize.sizes import MAX_FRAMES as MAX_FRAMES
from resize.sizes import Cleaned as Cleaned
from resize.sizes import fit as fit

CONVERTED = pixels.CONVERTED
"""Formats whose originals become JPEG in sRGB, their profile applied and dropped."""


def _heif_reader() -> bool:
    """Pillow reads HEIC/HEIF once pillow-heif registers its reader (the app installs it;
    the Lambda's zip does without, as the app stores those originals as JPEG)."""
    try:
        import pillow_heif
    except ImportError:
        return False
    # Only the primary picture: no embedded thumbnails, depth maps or auxiliary pictures.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


FORMATS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "GIF": "gif",
    "WEBP": "webp",
    "HEIF": "jpg",
    "AVIF": "jpg",
}
"""Pillow's format name -> the extension our keys use (an MPO is a JPEG with more pictures
after its first: we keep the first; HEIF and AVIF are stored as JPEG)."""

OPENERS = [
    "JPEG",
    "PNG",
    "GIF",
    "WEBP",
    *(["HEIF"] if _heif_reader() else []),
    *(["AVIF"] if features.check("avif") else []),
]
"""The readers Pillow may try; its JPEG reader answers "MPO" for a multi-picture file."""

# Pillow loads its readers on the first open (and the MPO reader on the first JPEG): done
# here, so that a pool worker, which imports this module before it takes jobs, does not
# spend a small picture's job time limit on it.
Image.preinit()
for _reader in OPENERS:
    if _reader not in Image.OPEN:
        Image.init()
importlib.import_module("PIL.MpoImagePlugin")

WRITTEN_AS = {"MPO": "JPEG", "HEIF": "JPEG", "AVIF": "JPEG"}
"""Formats we read but write as another."""

HEIF_BRANDS = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"), "HEIF"),
    **dict.fromkeys((b"avif", b"avis"), "AVIF"),
    b"mif1": "HEIF",
    b"msf1": "HEIF",
}
"""The major brands of an ISO media file (``ftyp`` box) that HEIC/HEIF or AVIF readers take."""

DRAFT_SLACK = 0.05
"""How far under ``max_side`` a JPEG may be stored when the decoder's own scaling gets
there: 4032 instead of 4096 px costs 3% of the width and saves decoding 4 times the pixels."""


ImageFile.LOAD_TRUNCATED_IMAGES = False

P = ParamSpec("P")
R = TypeVar("R")


def _damage_refused(function: Callable[P, R]) -> Callable[P, R]:
    """Whatever else Pillow raises on a broken file (IndexError, struct.error, ...) is
    "damaged": a refusal the caller answers, never a crash of a worker or a 500."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except ImageError:
            raise
        except MemoryError:
            raise ImageError("too_many_pixels", "The picture is too large to read.") from None
        except Exception as exc:
            raise ImageError("corrupt", DAMAGED) from exc

    return wrapper


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open from the header only and refuse anything that is not one of ours, or too big."""
    if not data:
        raise ImageError("empty", "The file is empty.")
    with warnings.catch_warnings():
        # Our own cap below replaces Pillow's warning (its limit is not ours); Pillow still
        # raises DecompressionBombError above twice its limit, which is a refusal too.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=OPENERS)
        except Image.DecompressionBombError:
            raise _too_many_pixels(max_pixels) from None
        except UnidentifiedImageError:
            if _claims_heif(data):
                # A HEIC or AVIF its reader gave up on: cut short on the way, most likely.
                raise ImageError("corrupt", DAMAGED) from None
            raise ImageError("not_image", NOT_OURS) from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise ImageError("corrupt", "The picture is damaged and cannot be read.") from None
    if image.format not in FORMATS:
        raise ImageError("not_image", NOT_OURS)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("corrupt", "The picture is damaged and cannot be read.")
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels, width, height)
    return image


def _claims_heif(data: bytes) -> bool:
    """The file starts as a HEIC/HEIF or AVIF that we read would (its ``ftyp`` box)."""
    return data[4:8] == b"ftyp" and HEIF_BRANDS.get(data[8:12]) in OPENERS


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


def _within_budget(frames: int, width: int, height: int, max_pixels: int) -> None:
    """An animation may have as many pixels in all its frames as one still picture."""
    total = frames * width * height
    if frames > MAX_FRAMES or total > max_pixels:
        raise ImageError(
            "animation_too_large",
            f"The animation has {frames} frames of {width}x{height} pixels, {total:,} in all; "
            f"at most {max_pixels:,} (and {MAX_FRAMES} frames) are allowed.",
            {"frames": frames, "width": width, "height": height, "pixels": total},
        )


@_damage_refused
def inspect(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, int, int]:
    """(extension, width, height) from the header, or ``ImageError``; decodes no pixels."""
    image = _open(data, max_pixels)
    return FORMATS[str(image.format)], image.width, image.height


@_damage_refused
def clean(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int = DEFAULT_MAX_SIDE
) -> Cleaned:
    """The original to store: decoded (so a cut-off file is caught), upright, without
    metadata, at most ``max_side`` on its long side. An animation keeps its frames and
    timing, within one picture's pixels; it is never re-encoded, so one larger than
    ``max_side`` is refused rather than scaled frame by frame."""
    image = _open(data, max_pixels)
    fmt = str(image.format)
    cleaner: Callable[[bytes], tuple[bytes, int, int, int]] | None = None
    if fmt == "GIF":
        cleaner = clean_gif
    elif fmt == "WEBP" and getattr(image, "is_animated", False):
        cleaner = functools.partial(clean_webp_animation, keep_profile=pixels.kept_profile)
    if cleaner is not None:
        if max(image.size) > max_side:
            raise ImageError(
                "animation_too_wide",
                f"A GIF or animated WebP may be at most {max_side} pixels on its long side; "
                f"this one is {image.width}x{image.height}.",
                {"width": image.width, "height": image.height, "max_side": max_side},
            )
        cleaned, frames, width, height = cleaner(data)
        _within_budget(frames, width, height, max_pixels)
        _load(image)  # the first frame, which thumbnails show
        return Cleaned(cleaned, FORMATS[fmt], image.width, image.height, frames)
    target = fit(image.width, image.height, max_side)
    if target != image.size and isinstance(image, JpegImagePlugin.JpegImageFile):
        target = _draft_target(image.width, image.height, max_side) or target
        # Scaled by 1/2, 1/4 or 1/8 inside the decoder, never below ``target``: a large
        # photo costs the memory of the smaller decode, not of the whole picture.
        image.draft(image.mode, target)
    _load(image)
    turn = pixels.orientation(image)
    icc = pixels.icc_of(image)
    kept = None if fmt in CONVERTED else pixels.kept_profile(icc)
    working: Image.Image = image
    if target != working.size:
        if working.mode in ("P", "PA", "1", "LA", "I;16", "I", "F"):
            has_alpha = working.mode in ("PA", "LA") or "transparency" in working.info
            working = working.convert("RGBA" if has_alpha else "RGB")
        # Turned after scaling (the long side is the same either way): cheaper.
        working = working.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if turn is not None:
        working = working.transpose(turn)
    if (icc and kept is None) or fmt in CONVERTED:
        working = pixels.to_srgb(working, icc)
    encoded = pixels.save_original(
        working, WRITTEN_AS.get(fmt, fmt), thumbnail=False, source=image, icc=kept
    )
    return Cleaned(encoded, FORMATS[fmt], working.width, working.height, 1)


def _draft_target(width: int, height: int, max_side: int) -> tuple[int, int] | None:
    """The size the JPEG decoder gives at the first of its scales (1/2, 1/4, 1/8) that fits
    ``max_side``, when that is at most ``DRAFT_SLACK`` under it: stored at that size, the
    picture needs no resampling at all (8064x6048, a 48 MP phone photo, -> 4032x3024)."""
    for scale in (2, 4, 8):
        scaled = (-(-width // scale), -(-height // scale))
        if max(scaled) <= max_side:
            return scaled if max(scaled) >= max_side * (1 - DRAFT_SLACK) else None
    return None


@_damage_refused
def thumbnails(
    data: bytes, sizes: Iterable[int], max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict[int, bytes]:
    """Every thumbnail of ``sizes`` from one decode: ``{size: encoded bytes}``, sRGB without
    a profile; an animation's first frame."""
    wanted = sorted(set(sizes), reverse=True)
    if not wanted:
        return {}
    image = _open(data, max_pixels)
    fmt = WRITTEN_AS.get(str(image.format), str(image.format))
    full = image.size  # the sizes come from it, not from the decoder's rounded draft
    largest = fit(*full, wanted[0])
    if fmt == "JPEG":
        # Scaling inside the decoder; the result stays at least as large as asked.
        mode = image.mode if image.mode in ("RGB", "L", "CMYK") else "RGB"
        pixels.draft(image, mode, largest)
    _load(image)  # the first frame: an animation's others are never read here
    # Turned upright after resizing: turning a thumbnail costs far less than the full picture.
    turn = pixels.orientation(image)
    icc = pixels.icc_of(image)
    working = pixels.thumbnail_mode(image)
    results: dict[int, bytes] = {}
    current = working
    for size in wanted:
        target = fit(*full, size)
        if target != current.size:
            resample = pixels.resample(fmt, current.width / target[0])
            current = current.resize(target, resample, reducing_gap=pixels.THUMB_REDUCING_GAP)
        output = pixels.to_srgb(current, icc) if icc or current.mode == "CMYK" else current
        if turn is not None:
            output = output.transpose(turn)
        results[size] = pixels.save_thumbnail(output, fmt, image)
    return results
