"""resize.core on real pictures of every format, made here with Pillow."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from PIL import Image, ImageDraw

from resize import core
from resize.errors import ImageError
from tests import pictures

SIZES = (200, 1080)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def colour_at(image: Image.Image, x: int, y: int) -> tuple[int, ...]:
    return image.convert("RGB").getpixel((x, y))  # type: ignore[return-value]


def close_to(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def is_mark(pixel: tuple[int, ...]) -> bool:
    red, green, blue = pixel[:3]
    return red > 200 and green < 60 and blue < 60


# -- orientation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "size", "marked_corner"),
    [
        # 6: the camera was turned right; the stored top-left ends up top-right.
        (6, (200, 400), "top-right"),
        # 3: upside down; the stored top-left ends up bottom-right.
        (3, (400, 200), "bottom-right"),
    ],
)
def test_exif_orientation_is_applied_to_the_original_and_thumbnails(
    orientation, size, marked_corner
):
    data = pictures.rotated_jpeg(orientation, 400, 200)
    cleaned = core.clean(data)
    thumbs = core.thumbnails(data, (100,))
    results = [(opened(cleaned.data), size), (opened(thumbs[100]), core.fit(*size, 100))]
    assert (cleaned.width, cleaned.height) == size
    for image, expected in results:
        assert image.size == expected
        assert image.getexif().get(0x0112) in (None, 1)
        width, height = image.size
        corners = {
            "top-left": (2, 2),
            "top-right": (width - 3, 2),
            "bottom-left": (2, height - 3),
            "bottom-right": (width - 3, height - 3),
        }
        for name, (x, y) in corners.items():
            assert is_mark(colour_at(image, x, y)) == (name == marked_corner), (name, image.size)


# -- metadata -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_exif_gps_xmp_and_comments_are_gone_from_the_original_and_thumbnails(fmt):
    data = pictures.with_metadata(fmt)
    assert pictures.SECRET in data
    outputs = [core.clean(data).data, *core.thumbnails(data, (50, 100)).values()]
    for output in outputs:
        image = opened(output)
        assert pictures.SECRET not in output
        assert b"Exif" not in output
        assert not image.getexif()
        assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp", "Comment"} & set(image.info)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_small_icc_profile_stays_in_the_original_and_thumbnails_are_srgb_without_one(fmt):
    data = pictures.with_metadata(fmt)
    profile = pictures.srgb_profile()
    assert opened(core.clean(data).data).info.get("icc_profile") == profile
    for thumb in core.thumbnails(data, SIZES).values():
        assert not opened(thumb).info.get("icc_profile")


def test_a_junk_icc_profile_reaches_neither_the_original_nor_the_thumbnails():
    """#17: a 1200x900 JPEG with a junk profile of several MB gave thumbnails as large."""
    image = pictures.photo(1200, 900)
    plain = pictures.jpeg(image)
    data = pictures.jpeg(image, icc_profile=pictures.junk_profile(2_000_000))
    assert len(data) > 2_000_000
    cleaned = core.clean(data)
    assert not opened(cleaned.data).info.get("icc_profile")
    assert len(cleaned.data) < len(plain) + 10_000
    thumbs = core.thumbnails(data, SIZES)
    assert len(thumbs[200]) < 30_000 and len(thumbs[1080]) < len(plain)
    for thumb in thumbs.values():
        assert not opened(thumb).info.get("icc_profile")


def test_a_large_profile_that_parses_is_applied_to_the_original_and_dropped():
    """Over 64 KiB: the original is converted to sRGB instead of carrying it."""
    image = pictures.marked(300, 200)
    data = pictures.jpeg(image, icc_profile=pictures.padded_profile(100_000))
    cleaned = opened(core.clean(data).data)
    assert not cleaned.info.get("icc_profile")
    assert is_mark(colour_at(cleaned, 2, 2)) and close_to(colour_at(cleaned, 200, 150), (128,) * 3)
    for thumb in core.thumbnails(data, (100,)).values():
        assert not opened(thumb).info.get("icc_profile")
        assert close_to(colour_at(opened(thumb), 60, 40), (128,) * 3)


# -- formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "extension"),
    [
        (pictures.jpeg, "jpg"),
        (pictures.png, "png"),
        (pictures.gif, "gif"),
        (pictures.webp, "webp"),
    ],
)
def test_every_format_keeps_its_format_and_fits_each_size(make, extension):
    data = make(pictures.photo(1600, 1200))
    assert core.inspect(data) == (extension, 1600, 1200)
    cleaned = core.clean(data)
    assert (cleaned.extension, cleaned.width, cleaned.height, cleaned.frames) == (
        extension,
        1600,
        1200,
        1,
    )
    thumbs = core.thumbnails(data, SIZES)
    assert sorted(thumbs) == [200, 1080]
    for size, thumb in thumbs.items():
        image = opened(thumb)
        assert core.FORMATS[str(image.format)] == extension
        assert image.size == core.fit(1600, 1200, size)


def test_a_small_picture_is_never_enlarged():
    thumbs = core.thumbnails(pictures.jpeg(pictures.photo(120, 90)), SIZES)
    assert {size: opened(data).size for size, data in thumbs.items()} == {
        200: (120, 90),
        1080: (120, 90),
    }


def test_a_cmyk_jpeg_is_read_and_its_thumbnails_are_rgb_with_the_right_colour():
    data = pictures.cmyk_jpeg()
    cleaned = core.clean(data)
    assert opened(cleaned.data).mode == "CMYK"
    for thumb in core.thumbnails(data, SIZES).values():
        image = opened(thumb)
        assert (image.format, image.mode) == ("JPEG", "RGB")
        red, green, blue = colour_at(image, 10, 10)
        assert red < 40 and green > 215 and blue > 215  # cyan


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_a_palette_picture_keeps_its_transparency(fmt):
    data = pictures.palette_with_transparency(fmt)
    outputs = [core.clean(data).data, *core.thumbnails(data, (100,)).values()]
    for output in outputs:
        image = opened(output).convert("RGBA")
        width, height = image.size
        assert image.getpixel((2, height // 2))[3] == 0
        assert image.getpixel((width - 3, height // 2)) == (0, 0, 255, 255)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_keeps_its_frames_and_its_thumbnails_show_the_first(fmt):
    data = pictures.animated(fmt)
    cleaned = core.clean(data)
    assert cleaned.frames == 3
    original = Image.open(io.BytesIO(cleaned.data))
    assert original.n_frames == 3
    for index in range(3):
        original.seek(index)
        assert close_to(colour_at(original, 5, 5), pictures.FRAME_COLOURS[index])
        assert original.info.get("duration") == (index + 1) * 100
    for thumb in core.thumbnails(data, (100,)).values():
        image = Image.open(io.BytesIO(thumb))
        assert getattr(image, "n_frames", 1) == 1
        assert image.size == (100, 67)
        assert close_to(colour_at(image, 5, 5), pictures.FRAME_COLOURS[0])


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pictures.png_claiming(100_000, 100_000),
        pictures.jpeg_claiming(65_000, 65_000),
        pictures.gif_claiming(65_535, 65_535),
        pictures.png_claiming(10_000, 6_000),  # 60 Mpx: above our cap, below Pillow's own
    ],
    ids=["png-100000", "jpeg-65000", "gif-65535", "png-60mpx"],
)
def test_huge_dimensions_are_refused_without_allocating_them(data):
    for call in (core.inspect, core.clean, lambda d: core.thumbnails(d, SIZES)):
        tracemalloc.start()
        try:
            with pytest.raises(ImageError) as refused:
                call(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert refused.value.reason == "too_many_pixels"
        assert peak < 5_000_000


def test_the_pixel_cap_is_a_parameter_and_may_exceed_pillows_own_limit():
    data = pictures.png_claiming(10_000, 10_000)  # 100 Mpx, above Pillow's warning level
    assert core.inspect(data, max_pixels=200_000_000) == ("png", 10_000, 10_000)
    with pytest.raises(ImageError, match="at most 1,000"):
        core.inspect(pictures.png(), max_pixels=1000)


def truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello, this is text renamed to photo.jpg\n" * 20, "not_image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "not_image"),
        (truncated(pictures.jpeg(pictures.photo(800, 600))), "corrupt"),
        (truncated(pictures.png(pictures.photo(800, 600))), "corrupt"),
        (truncated(pictures.webp(pictures.photo(800, 600))), "corrupt"),
        (truncated(pictures.gif(pictures.photo(800, 600))), "corrupt"),
        (pictures.encode(pictures.photo(40, 40), "BMP"), "not_image"),
        (pictures.encode(pictures.photo(40, 40), "TIFF"), "not_image"),
    ],
    ids=[
        "empty",
        "text",
        "jpeg-header-only",
        "truncated-jpeg",
        "truncated-png",
        "truncated-webp",
        "truncated-gif",
        "bmp",
        "tiff",
    ],
)
def test_bad_files_are_refused_with_a_reason(data, reason):
    with pytest.raises(ImageError) as cleaned:
        core.clean(data)
    with pytest.raises(ImageError) as thumbs:
        core.thumbnails(data, SIZES)
    assert cleaned.value.reason == thumbs.value.reason == reason
    assert str(cleaned.value)


def test_a_cut_animation_is_refused_but_its_first_frame_still_makes_thumbnails():
    data = truncated(pictures.animated("GIF"))
    with pytest.raises(ImageError, match="cut short"):
        core.clean(data)
    thumb = opened(core.thumbnails(data, (100,))[100])
    assert colour_at(thumb, 5, 5) == pictures.FRAME_COLOURS[0]


def test_a_gif_cut_inside_a_frame_is_damaged_and_its_first_frame_still_makes_thumbnails():
    """#17: Pillow raised IndexError on it, which the upload answered with a 500."""
    data = pictures.cut_in_last_frame(pictures.animated("GIF"))
    with pytest.raises(ImageError) as refused:
        core.clean(data)
    assert refused.value.reason == "corrupt"
    thumb = opened(core.thumbnails(data, (100,))[100])
    assert colour_at(thumb, 5, 5) == pictures.FRAME_COLOURS[0]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "JPEG"])
def test_whatever_pillow_raises_on_a_cut_file_is_damaged(fmt):
    """Every cut of a small file: an ``ImageError`` or a result, never another exception
    (those became 500s in the app and tracebacks in the pool, the Lambda and the batch)."""
    if fmt in ("GIF", "WEBP"):
        frames = [pictures.photo(40, 24, seed=i) for i in range(3)]
        whole = pictures.encode(
            frames[0] if fmt == "WEBP" else frames[0].convert("P"),
            fmt,
            save_all=True,
            append_images=frames[1:] if fmt == "WEBP" else [f.convert("P") for f in frames[1:]],
            duration=50,
        )
    else:
        whole = pictures.encode(pictures.photo(40, 24), fmt)
    calls = (core.inspect, core.clean, lambda data: core.thumbnails(data, (16,)))
    for cut in range(1, len(whole), 4):
        for call in calls:
            try:
                call(whole[:cut])
            except ImageError as refused:
                assert refused.reason in ("corrupt", "not_image", "empty"), (cut, refused)


# -- animations ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_gets_the_pixel_budget_of_one_still_picture(fmt):
    """Frames x width x height at most ``max_pixels``: 30 frames of 64x64 are 122,880."""
    data = pictures.moving_square(30, (64, 64), fmt)
    with pytest.raises(ImageError) as refused:
        core.clean(data, max_pixels=100_000)
    assert refused.value.reason == "animation_too_large"
    assert "30 frames" in str(refused.value)
    cleaned = core.clean(data, max_pixels=123_000)
    assert cleaned.frames == 30
    assert Image.open(io.BytesIO(cleaned.data)).n_frames == 30


# -- MPO ----------------------------------------------------------------------------------


def test_an_mpo_is_taken_as_a_jpeg_of_its_first_picture():
    data = pictures.mpo()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert core.inspect(data) == ("jpg", 400, 300)
    cleaned = core.clean(data)
    assert (cleaned.extension, cleaned.width, cleaned.height, cleaned.frames) == (
        "jpg",
        400,
        300,
        1,
    )
    outputs = [opened(cleaned.data), *(opened(t) for t in core.thumbnails(data, SIZES).values())]
    for image in outputs:
        assert image.format == "JPEG" and getattr(image, "n_frames", 1) == 1
        assert is_mark(colour_at(image, 2, 2))  # the first picture, not the blue second
        assert close_to(colour_at(image, image.width // 2, image.height // 2), (128,) * 3)


def test_no_sizes_make_no_thumbnails():
    assert core.thumbnails(pictures.jpeg(), ()) == {}


def test_fit_keeps_the_aspect_and_never_enlarges():
    assert core.fit(4000, 3000, 1080) == (1080, 810)
    assert core.fit(3000, 4000, 200) == (150, 200)
    assert core.fit(100, 50, 200) == (100, 50)
    assert core.fit(10000, 1, 200) == (200, 1)


# -- thumbnails: every orientation, transparency, no metadata (#23) --------------------------


UPRIGHT_CORNER = {
    # Where the stored top-left corner of a 400x200 picture ends up once upright.
    1: "top-left",
    2: "top-right",
    3: "bottom-right",
    4: "bottom-left",
    5: "top-left",
    6: "top-right",
    7: "bottom-right",
    8: "bottom-left",
}


def marked_corner(image: Image.Image) -> list[str]:
    width, height = image.size
    corners = {
        "top-left": (2, 2),
        "top-right": (width - 3, 2),
        "bottom-left": (2, height - 3),
        "bottom-right": (width - 3, height - 3),
    }
    return [name for name, (x, y) in corners.items() if is_mark(colour_at(image, x, y))]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_thumbnail_is_upright_for_each_of_the_eight_exif_orientations(orientation):
    data = pictures.rotated_jpeg(orientation, 400, 200)
    upright = (200, 400) if orientation >= 5 else (400, 200)
    for size, thumb in core.thumbnails(data, (100, 300)).items():
        image = opened(thumb)
        assert image.size == core.fit(*upright, size)
        assert image.getexif().get(0x0112) in (None, 1)
        assert marked_corner(image) == [UPRIGHT_CORNER[orientation]], (size, image.size)
        assert close_to(colour_at(image, image.width // 2, image.height // 2), (128,) * 3)


def half_clear(fmt: str) -> bytes:
    """400x200, left half fully transparent, right half opaque blue, as RGBA (PNG, WebP)."""
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (200, 0, 400, 200))
    return pictures.encode(image, fmt, **({"lossless": True} if fmt == "WEBP" else {}))


@pytest.mark.parametrize(
    "data",
    [
        half_clear("PNG"),
        half_clear("WEBP"),
        pictures.palette_with_transparency("PNG"),
        pictures.palette_with_transparency("GIF"),
    ],
    ids=["png-rgba", "webp-rgba", "png-palette", "gif-palette"],
)
def test_transparency_is_kept_in_thumbnails_of_every_size(data):
    for size, thumb in core.thumbnails(data, (40, 100, 300)).items():
        image = opened(thumb).convert("RGBA")
        width, height = image.size
        assert image.size == core.fit(*Image.open(io.BytesIO(data)).size, size)
        assert image.getpixel((1, height // 2))[3] == 0, size
        assert image.getpixel((width - 2, height // 2)) == (0, 0, 255, 255), size


def test_a_gif_keeps_its_opaque_pixels_opaque_when_the_clear_entry_has_their_colour():
    """The thumbnail is mapped onto the original's palette: a pixel the colour of the
    transparent entry (black here) must not become transparent."""
    image = Image.new("P", (300, 200), 0)
    image.putpalette([0, 0, 0, 0, 0, 0, 255, 255, 255])  # 0 clear black, 1 opaque black, 2 white
    ImageDraw.Draw(image).rectangle((100, 0, 199, 199), fill=1)
    ImageDraw.Draw(image).rectangle((200, 0, 299, 199), fill=2)
    data = pictures.encode(image, "GIF", transparency=0)
    thumb = opened(core.thumbnails(data, (150,))[150]).convert("RGBA")
    assert thumb.getpixel((10, 50))[3] == 0
    assert thumb.getpixel((75, 50)) == (0, 0, 0, 255)
    assert thumb.getpixel((140, 50)) == (255, 255, 255, 255)


def test_an_rgb_png_with_a_transparent_colour_keeps_it_transparent():
    image = Image.new("RGB", (400, 200), (255, 0, 255))
    image.paste((0, 0, 255), (200, 0, 400, 200))
    data = pictures.encode(image, "PNG", transparency=(255, 0, 255))
    thumb = opened(core.thumbnails(data, (100,))[100]).convert("RGBA")
    assert thumb.getpixel((2, 25))[3] == 0
    assert thumb.getpixel((97, 25)) == (0, 0, 255, 255)


def test_a_gif_thumbnail_stays_close_to_the_original_colours():
    """Mapped onto the original's palette without dithering: a flat area keeps its colour."""
    image = Image.new("RGB", (600, 400), (200, 30, 40))
    image.paste((20, 160, 90), (300, 0, 600, 400))
    data = pictures.encode(image.convert("P", palette=Image.Palette.ADAPTIVE), "GIF")
    thumb = opened(core.thumbnails(data, (200,))[200])
    assert colour_at(thumb, 20, 60) == (200, 30, 40)
    assert colour_at(thumb, 180, 60) == (20, 160, 90)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_no_metadata_is_left_in_thumbnails_of_every_size(fmt):
    image = pictures.photo(1600, 1200)
    if fmt == "GIF":
        data = pictures.encode(image.convert("P"), "GIF", comment=pictures.SECRET)
    else:
        data = pictures.encode(
            image,
            fmt,
            exif=pictures.exif_with_gps(6).tobytes(),
            icc_profile=pictures.srgb_profile(),
            **({"xmp": pictures.XMP} if fmt in ("JPEG", "WEBP") else {}),
        )
    assert pictures.SECRET in data
    for thumb in core.thumbnails(data, SIZES).values():
        image = opened(thumb)
        assert pictures.SECRET not in thumb and b"Exif" not in thumb and b"xmpmeta" not in thumb
        assert not image.getexif()
        assert not {"exif", "xmp", "comment", "icc_profile", "XML:com.adobe.xmp"} & set(image.info)


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_large_jpeg_scaled_in_the_decoder_gives_exact_upright_thumbnails(orientation):
    """4000x3000: the 1080 comes from a 3/8 decode (1500x1125), the 200 from it."""
    data = pictures.rotated_jpeg(orientation, 4000, 3000)
    upright = (3000, 4000) if orientation == 6 else (4000, 3000)
    for size, thumb in core.thumbnails(data, SIZES).items():
        image = opened(thumb)
        assert image.size == core.fit(*upright, size)
        assert marked_corner(image) == [UPRIGHT_CORNER[orientation]]
        assert close_to(colour_at(image, image.width // 2, image.height // 2), (128,) * 3)


@pytest.mark.parametrize("size", [(2701, 2027), (4003, 2999), (1351, 1013), (3999, 7)])
def test_thumbnail_sizes_come_from_the_full_picture_not_the_decoders_rounding(size):
    """The decoder rounds a scaled size up (2701 / 2 = 1351); the thumbnail must still be
    exactly what ``fit`` says for the picture's own size."""
    data = pictures.jpeg(pictures.photo(*size))
    for wanted, thumb in core.thumbnails(data, (200, 1080)).items():
        assert opened(thumb).size == core.fit(*size, wanted)
