"""Real pictures made with Pillow for the tests: every format, rotated, with metadata, broken.

Shared by the resize tests and usable by the app's upload tests.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import ExifTags, Image, ImageCms, ImageDraw

MARK = (255, 0, 0)
"""The colour of the corner block that orientation tests follow."""

SECRET = b"Secret Camera 3000"
"""Text hidden in the EXIF, XMP and comments of ``with_metadata`` pictures."""


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def marked(width: int, height: int) -> Image.Image:
    """Grey picture with a red block in its stored top-left corner (a tenth of each side)."""
    image = Image.new("RGB", (width, height), (128, 128, 128))
    ImageDraw.Draw(image).rectangle((0, 0, width // 10, height // 10), fill=MARK)
    return image


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """Photograph-like content: gradients with noise, which compress like real photos do
    (a flat colour compresses unrealistically well)."""
    rng = random.Random(seed)
    noise = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    red = Image.linear_gradient("L").resize((width, height))
    green = red.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    blue = Image.radial_gradient("L").resize((width, height))
    channels = [Image.blend(channel, noise, 0.25) for channel in (red, green, blue)]
    return Image.merge("RGB", channels)


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = SECRET.decode()
    exif[ExifTags.Base.Model] = SECRET.decode()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (37.0, 33.0, 59.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (126.0, 58.0, 41.0)
    return exif


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Make="'
    + SECRET
    + b'"/></rdf:RDF></x:xmpmeta>'
)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def jpeg(image: Image.Image | None = None, **options: object) -> bytes:
    return encode(image if image is not None else photo(64, 48), "JPEG", quality=90, **options)


def rotated_jpeg(orientation: int, width: int = 400, height: int = 200) -> bytes:
    """A JPEG whose stored pixels must be turned by its EXIF ``orientation`` to be upright."""
    return jpeg(marked(width, height), exif=exif_with_gps(orientation).tobytes())


def with_metadata(fmt: str) -> bytes:
    """A picture carrying EXIF with GPS, XMP, a comment and an sRGB ICC profile."""
    image = photo(120, 80)
    icc = srgb_profile()
    exif = exif_with_gps().tobytes()
    if fmt == "JPEG":
        return encode(image, "JPEG", exif=exif, xmp=XMP, comment=SECRET, icc_profile=icc)
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        text = PngInfo()
        text.add_text("Comment", SECRET.decode())
        text.add_itxt("XML:com.adobe.xmp", XMP.decode())
        return encode(image, "PNG", exif=exif, pnginfo=text, icc_profile=icc)
    if fmt == "WEBP":
        return encode(image, "WEBP", exif=exif, xmp=XMP, icc_profile=icc)
    if fmt == "GIF":
        return encode(image.convert("P"), "GIF", comment=SECRET)
    raise ValueError(fmt)


def cmyk_jpeg(colour: tuple[int, int, int, int] = (255, 0, 0, 0)) -> bytes:
    """A CMYK JPEG, by default pure cyan."""
    return encode(Image.new("CMYK", (300, 200), colour), "JPEG", quality=95)


def palette_with_transparency(fmt: str = "PNG") -> bytes:
    """300x200 palette picture: left half transparent (index 0), right half opaque blue."""
    image = Image.new("P", (300, 200), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    ImageDraw.Draw(image).rectangle((150, 0, 299, 199), fill=1)
    return encode(image, fmt, transparency=0)


FRAME_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def animated(fmt: str = "GIF", size: tuple[int, int] = (300, 200)) -> bytes:
    """Three frames, red then green then blue."""
    frames = [Image.new("RGB", size, colour) for colour in FRAME_COLOURS]
    if fmt == "GIF":
        frames = [frame.convert("P") for frame in frames]
    return encode(
        frames[0], fmt, save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0
    )


def webp(image: Image.Image | None = None) -> bytes:
    return encode(image if image is not None else photo(300, 200), "WEBP", quality=90)


def png(image: Image.Image | None = None) -> bytes:
    return encode(image if image is not None else photo(300, 200), "PNG")


def gif(image: Image.Image | None = None) -> bytes:
    return encode((image if image is not None else photo(300, 200)).convert("P"), "GIF")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is rewritten to claim ``width`` x ``height``."""
    data = bytearray(jpeg(photo(16, 16)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(gif(photo(16, 16)))
    struct.pack_into("<HH", data, 6, width, height)
    return bytes(data)


def moving_square(frames: int, size: tuple[int, int], fmt: str = "GIF") -> bytes:
    """An animation of ``frames`` different frames (a small square moving over grey): cheap
    to make and small on disk at any frame count, since each frame differs only a little."""
    width, height = size
    sequence = []
    for index in range(frames):
        frame = Image.new("RGB", size, (128, 128, 128))
        x, y = (index * 7) % max(1, width - 8), (index * 3) % max(1, height - 8)
        ImageDraw.Draw(frame).rectangle((x, y, x + 7, y + 7), fill=MARK)
        sequence.append(frame.convert("P") if fmt == "GIF" else frame)
    return encode(sequence[0], fmt, save_all=True, append_images=sequence[1:], duration=40, loop=0)


def cut_in_last_frame(gif: bytes) -> bytes:
    """An animated GIF cut off inside its last frame, right after the frame's descriptor
    (and colour table), before its pixel data: a download cut short."""
    start = gif.rindex(b"\x21\xf9\x04") + 8  # the last frame's control block, 8 bytes
    assert gif[start] == 0x2C, "an image descriptor follows the control block"
    flags = gif[start + 9]
    table = 3 << ((flags & 7) + 1) if flags & 0x80 else 0
    return gif[: start + 10 + table]


def mpo(first: Image.Image | None = None, second: Image.Image | None = None) -> bytes:
    """A JPEG with a multi-picture index and two pictures, as some phones and cameras write."""
    first = first if first is not None else marked(400, 300)
    second = second if second is not None else Image.new("RGB", (400, 300), (0, 0, 255))
    return encode(first, "MPO", save_all=True, append_images=[second], quality=90)


def junk_profile(size: int) -> bytes:
    """``size`` bytes that claim to be an ICC profile and are not one."""
    return random.Random(size).randbytes(size)


def padded_profile(size: int) -> bytes:
    """A real sRGB profile (it parses) padded to ``size`` bytes, its header saying so."""
    profile = bytearray(srgb_profile())
    profile.extend(b"\x00" * (size - len(profile)))
    struct.pack_into(">I", profile, 0, len(profile))
    return bytes(profile)
