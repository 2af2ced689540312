"""What is done to a picture's pixels once decoded, the same for originals and thumbnails:
turned upright by its EXIF orientation, converted to sRGB through its profile, scaled inside
the JPEG decoder, and encoded without any metadata (``resize.core`` checks and decodes, and
says what to make).

Thumbnail encoders, chosen by bench/resize.py against sharp (#23): PNG with zlib's run-length
strategy (as small or smaller than the default and ~40% faster), GIF mapped onto the
original's own palette without dithering (a new median-cut palette cost 0.5-0.9 s at 1080 px;
this 15 ms, and is closer to the original), JPEG quality 85 with optimised Huffman tables
(1.5-8% smaller), WebP quality 80 at the default method (faster methods gave larger files at
the same SSIM).
"""

from __future__ import annotations

import io

from PIL import ExifTags, Image, ImageCms, ImageFile, JpegImagePlugin, features

from resize.errors import ImageError

CONVERTED = frozenset({"HEIF", "AVIF"})
"""Formats whose originals become JPEG in sRGB, their profile applied and dropped."""
CONVERTED_QUALITY = 90
"""JPEG quality of a HEIC/HEIF or AVIF original turned into JPEG: no visible loss at about
half the bytes of 95."""
MAX_KEPT_PROFILE = 64 * 1024
"""The largest ICC profile an original keeps (a real one is 0.5 to 4 KiB; 64 KiB allows
lookup-table profiles); a larger one is applied to the pixels and dropped."""
JPEG_THUMB_QUALITY = 85
WEBP_THUMB_QUALITY = 80
PNG_THUMB_STRATEGY = 3
"""zlib's Z_RLE (Pillow's ``compress_type``), for thumbnails."""
THUMB_RESAMPLE = Image.Resampling.BICUBIC
THUMB_REDUCING_GAP = 2.0
DRAFT_MARGIN = 1.25
"""A JPEG is decoded at 3/8 only if that leaves this much to resample (at 1.04 the
thumbnail came out softer than from 1/2)."""


KEPT_INFO = ("transparency", "duration", "loop", "background")
"""What of ``Image.info`` may reach an encoder: Pillow's JPEG and GIF writers take a comment
(and GIF every other string key) from ``info`` when the caller passes none, so everything
else (comments, EXIF, XMP) is removed before saving."""

_SRGB = ImageCms.createProfile("sRGB")


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


def orientation(image: Image.Image) -> Image.Transpose | None:
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageError("corrupt", "The picture is damaged or cut short.") from None
    return _TURNS.get(value) if isinstance(value, int) else None


def icc_of(image: Image.Image) -> bytes | None:
    profile = image.info.get("icc_profile")
    return profile if isinstance(profile, bytes) and profile else None


def _parsed(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def kept_profile(icc: bytes | None) -> bytes | None:
    """The profile an original may carry: one that parses and is small."""
    if icc and len(icc) <= MAX_KEPT_PROFILE and _parsed(icc) is not None:
        return icc
    return None


def _bare(image: Image.Image) -> Image.Image:
    """``image`` with nothing in ``info`` but what encoders need (see ``KEPT_INFO``)."""
    image.info = {key: value for key, value in image.info.items() if key in KEPT_INFO}
    return image


def to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """The pixels as sRGB, which browsers assume when there is no profile: converted
    through ``icc`` when it parses and fits the picture's mode; else as they are (a CMYK
    picture by Pillow's plain conversion to RGB)."""
    source = _parsed(icc) if icc else None
    if source is not None and image.mode in ("RGB", "RGBA", "CMYK"):
        output = "RGB" if image.mode == "CMYK" else image.mode
        try:
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=output)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None
        if isinstance(converted, Image.Image):
            converted.info = dict(image.info)
            return converted
    return image.convert("RGB") if image.mode == "CMYK" else image


def save_original(
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
        elif (
            isinstance(source, JpegImagePlugin.JpegImageFile)
            and source.quantization
            and image.mode == source.mode
        ):
            options.update(
                qtables=source.quantization,
                subsampling=JpegImagePlugin.get_sampling(source),
            )
        elif source.format in CONVERTED:
            options.update(quality=CONVERTED_QUALITY)
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


def draft(image: Image.Image, mode: str, largest: tuple[int, int]) -> None:
    """Let the JPEG decoder scale: Pillow's ``draft`` offers 1/2, 1/4 and 1/8; where it
    takes 1/2 and 3/8 still leaves ``DRAFT_MARGIN`` times the size asked, 3/8 instead
    (libjpeg-turbo scales by any eighth). A 12 Mpx photo's 1080 px thumbnail then resamples
    1500x1125 instead of 2000x1500: 10 ms less, and closer to the full picture (SSIM 0.916
    against 0.914; bench/README.md). Pillow's ``draft`` sets the tile, size and decoder
    scale; this sets them the same way for 3/8 (the decoder's denominator 3 means 3/8)."""
    full = image.size
    image.draft(mode, largest)
    if not isinstance(image, ImageFile.ImageFile) or image.decoderconfig != (2, 0):
        return
    if not features.check_feature("libjpeg_turbo"):
        return
    width, height = (-(-side * 3 // 8) for side in full)  # as libjpeg rounds: up
    if width < largest[0] * DRAFT_MARGIN or height < largest[1] * DRAFT_MARGIN:
        return
    decoder, _, offset, args = image.tile[0]
    image.tile = [ImageFile._Tile(decoder, (0, 0, width, height), offset, args)]
    image._size = (width, height)
    image.decoderconfig = (3, 0)


def resample(fmt: str, factor: float) -> Image.Resampling:
    """Bicubic, as Pillow's ``thumbnail()``; a GIF, whose thumbnail ends as 256 colours,
    bilinear for a reduction under 2x (fewer in-between colours: a smaller file, closer to
    the original) and Lanczos above (bench/README.md: both smaller and closer than bicubic)."""
    if fmt == "GIF":
        return Image.Resampling.BILINEAR if factor < 2 else Image.Resampling.LANCZOS
    return THUMB_RESAMPLE


def thumbnail_mode(image: Image.Image) -> Image.Image:
    """A mode the resampler takes and every encoder writes: a palette, grey with alpha or
    16-bit picture as RGB or RGBA; a transparent palette entry or colour becomes alpha."""
    has_alpha = image.mode in ("PA", "LA", "RGBA") or "transparency" in image.info
    if image.mode in ("RGBA", "CMYK") or (image.mode in ("RGB", "L") and not has_alpha):
        return image
    return image.convert("RGBA" if has_alpha else "RGB")


def save_thumbnail(image: Image.Image, fmt: str, source: Image.Image) -> bytes:
    """Encode a thumbnail with no metadata and no profile, as small as today's or smaller
    at the same quality, and fast (bench/README.md measures each choice)."""
    out = io.BytesIO()
    options: dict[str, object] = {}
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        # Optimised Huffman tables: 1.5-8% smaller for the same pixels, 4.5 ms at 1080 px.
        options.update(quality=JPEG_THUMB_QUALITY, optimize=True)
    elif fmt == "PNG":
        # Run-length matching only: after the row filters a photograph has few long matches
        # and flat graphics have runs, so the file is as small or smaller, and ~40% faster.
        options.update(compress_type=PNG_THUMB_STRATEGY)
    elif fmt == "WEBP":
        options.update(quality=WEBP_THUMB_QUALITY)
    elif fmt == "GIF":
        image = _gif_palette(image, source)
    image.info = {key: value for key, value in image.info.items() if key == "transparency"}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _gif_palette(image: Image.Image, source: Image.Image) -> Image.Image:
    """The thumbnail mapped onto the original's own palette, without dithering: 15 ms where
    making a new palette (median cut) took 0.5-0.9 s at 1080 px, and closer to it. A
    transparent entry is kept for the pixels that are mostly transparent, and only for them."""
    if image.mode == "L":
        return image
    palette = source.getpalette() if source.mode == "P" else None
    if not palette:
        return image.convert("P", palette=Image.Palette.ADAPTIVE)
    colours = [tuple(palette[i : i + 3]) for i in range(0, len(palette), 3)]
    clear = source.info.get("transparency") if image.mode == "RGBA" else None
    if isinstance(clear, int) and 0 <= clear < len(colours) and len(colours) > 1:
        opaque = [colour for index, colour in enumerate(colours) if index != clear]
        mapped = _quantized(image.convert("RGB"), opaque)
        mapped.putpalette([*(v for colour in opaque for v in colour), *colours[clear]])
        mask = image.getchannel("A").point(lambda alpha: 255 if alpha < 128 else 0)
        mapped.paste(len(opaque), mask=mask)
        mapped.info["transparency"] = len(opaque)
        return mapped
    return _quantized(image.convert("RGB"), colours)


def _quantized(image: Image.Image, colours: list[tuple[int, ...]]) -> Image.Image:
    holder = Image.new("P", (1, 1))
    holder.putpalette([v for colour in colours for v in colour])
    return image.quantize(palette=holder, dither=Image.Dither.NONE)
