"""Phone photos in ``resize`` (#19): HEIC/HEIF and AVIF become upright sRGB JPEGs without
camera metadata, originals are scaled to ``max_side``, 48 MP fits the pixel budget; the Lambda
zip is built for the runtime docs/deploy.md names; the batch tool takes a plain folder."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from resize import core, package
from resize.errors import ImageError
from tests import phone_pictures, pictures

ROOT = Path(__file__).resolve().parent.parent


# Pillow 11.3 and later (setup.cfg) read AVIF themselves.
PHONE_FORMATS = pytest.mark.parametrize(
    "make", [phone_pictures.heic, phone_pictures.avif], ids=["heic", "avif"]
)


def stored(cleaned: core.Cleaned) -> Image.Image:
    return Image.open(io.BytesIO(cleaned.data))


@PHONE_FORMATS
def test_a_heic_or_avif_is_stored_as_an_upright_jpeg_without_gps(make) -> None:
    cleaned = core.clean(make(orientation=6))
    picture = stored(cleaned)
    assert cleaned.extension == "jpg" and picture.format == "JPEG"
    assert picture.size == (cleaned.width, cleaned.height) == (300, 400)
    assert phone_pictures.corner(picture) == ("top-right",)  # turned a quarter clockwise
    assert phone_pictures.no_camera_metadata(cleaned.data)
    assert core.CONTENT_TYPES[cleaned.extension] == "image/jpeg"


@PHONE_FORMATS
def test_thumbnails_of_a_heic_or_avif_are_upright_jpegs_without_metadata(make) -> None:
    """The Lambda and the batch tool may meet a HEIC or AVIF original (a bucket filled by
    something else than the app): its thumbnails are JPEGs, turned upright, nothing kept."""
    made = core.thumbnails(make(orientation=6), [200, 100])
    assert sorted(made) == [100, 200]
    for size, data in made.items():
        thumb = Image.open(io.BytesIO(data))
        assert thumb.format == "JPEG"
        assert thumb.size == (size * 3 // 4, size)  # 400x300 turned a quarter
        assert phone_pictures.corner(thumb) == ("top-right",)
        assert phone_pictures.no_camera_metadata(data)
        assert "icc_profile" not in thumb.info


def test_a_heic_with_a_colour_profile_is_stored_as_srgb_without_it() -> None:
    """The profile is applied to the pixels and dropped: browsers take a JPEG without one as
    sRGB. (Pillow makes only an sRGB RGB profile, so the colours stay here.)"""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    green = Image.new("RGB", (64, 48), (0, 200, 0))
    tagged = core.clean(pictures.encode(green, "HEIF", icc_profile=srgb, quality=90))
    assert "icc_profile" not in stored(tagged).info
    assert stored(tagged).getpixel((32, 24)) == pytest.approx((0, 200, 0), abs=8)


def test_a_large_jpeg_is_scaled_to_the_long_side_in_draft_mode_and_turned() -> None:
    data = phone_pictures.phone_jpeg(8192, 4096, orientation=8, quality=70)
    cleaned = core.clean(data, max_side=2048)
    picture = stored(cleaned)
    # 8192 -> 2048 is a quarter: the decoder's own scaling, then no resampling left.
    assert picture.size == (1024, 2048)
    assert phone_pictures.corner(picture) == ("bottom-left",)  # turned a quarter anticlockwise
    assert phone_pictures.no_camera_metadata(cleaned.data)


def test_a_48_megapixel_jpeg_is_stored_at_half_size_by_the_decoder_alone() -> None:
    """8064x6048 at 1/2 is 4032x3024, just under 4096: no resampling, a quarter of the
    memory of the full decode."""
    big = pictures.marked(8064, 6048)
    cleaned = core.clean(pictures.jpeg(big, exif=pictures.exif_with_gps(6).tobytes()))
    picture = stored(cleaned)
    assert picture.size == (cleaned.width, cleaned.height) == (3024, 4032)
    assert phone_pictures.corner(picture) == ("top-right",)
    assert phone_pictures.no_camera_metadata(cleaned.data)


@pytest.mark.parametrize(
    ("fmt", "make"),
    [
        ("PNG", lambda: pictures.png(pictures.photo(5000, 1000))),
        ("WEBP", lambda: pictures.webp(pictures.photo(5000, 1000))),
        ("PNG", lambda: pictures.palette_with_transparency("PNG")),
    ],
    ids=["png", "webp", "palette-png"],
)
def test_a_large_still_keeps_its_format_when_scaled(fmt: str, make) -> None:
    data = make()
    width, height = Image.open(io.BytesIO(data)).size
    side = min(1000, max(width, height) // 2)
    cleaned = core.clean(data, max_side=side)
    assert stored(cleaned).format == fmt
    assert max(cleaned.width, cleaned.height) == side


def test_a_picture_within_the_side_is_not_scaled() -> None:
    cleaned = core.clean(pictures.jpeg(pictures.photo(4096, 100)))
    assert (cleaned.width, cleaned.height) == (4096, 100)


def test_a_gif_over_the_side_is_refused_not_scaled_frame_by_frame() -> None:
    with pytest.raises(ImageError) as refused:
        core.clean(pictures.animated("GIF", (600, 200)), max_side=500)
    assert refused.value.reason == "animation_too_wide"
    assert "600x200" in str(refused.value) and "500 pixels" in str(refused.value)


def test_a_48_megapixel_phone_photo_fits_the_default_pixel_budget() -> None:
    assert 8064 * 6048 <= core.DEFAULT_MAX_PIXELS
    assert core.inspect(pictures.jpeg_claiming(8064, 6048)) == ("jpg", 8064, 6048)
    with pytest.raises(ImageError, match="at most 50,000,000"):
        core.inspect(pictures.jpeg_claiming(10000, 8000))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"ftypheic" * 20, "not_image"),
        (phone_pictures.heic()[:400], "corrupt"),
        (b"\0\0\0\x1cftypheic\0\0\0\0mif1heic" + b"\0" * 64, "corrupt"),
    ],
    ids=["text-with-a-heic-word", "cut-heic", "heic-header-only"],
)
def test_a_broken_heic_is_refused_in_words(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError) as refused:
        core.clean(data)
    assert refused.value.reason == reason
    assert str(refused.value).endswith(".")


# -- the Lambda zip and docs/deploy.md -------------------------------------------------------


def test_the_deploy_guide_names_the_runtime_and_architecture_the_zip_is_built_for() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    runtimes = set(re.findall(r"--runtime (\S+)", guide))
    architectures = set(re.findall(r"--architectures (\S+)", guide))
    assert runtimes == {package.LAMBDA_RUNTIME}, runtimes
    assert architectures == {package.LAMBDA_ARCHITECTURE}, architectures
    printed = package.instructions(Path("x.zip"), "b", "f")
    assert f"--runtime {package.LAMBDA_RUNTIME} " in printed
    assert f"--architectures {package.LAMBDA_ARCHITECTURE} " in printed
    assert package.LAMBDA_ARCHITECTURE in package.PLATFORMS
    help_text = subprocess.run(
        [sys.executable, "-m", "resize", "package", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"({package.LAMBDA_PYTHON})" in help_text


# -- the batch tool on a plain folder -----------------------------------------------------


def test_a_plain_folder_of_pictures_gets_thumbnails_in_its_thumb_folder(tmp_path: Path) -> None:
    folder = tmp_path / "trip"
    (folder / "day 2").mkdir(parents=True)
    (folder / "IMG_0001.JPG").write_bytes(pictures.rotated_jpeg(6, 400, 200))
    (folder / "day 2" / "IMG_0002.heic").write_bytes(phone_pictures.heic(orientation=6))
    (folder / "notes.txt").write_text("not a picture")
    (folder / ".hidden.jpg").write_bytes(b"half a picture")
    command = [sys.executable, "-m", "resize", str(folder), "--sizes", "100", "--jobs", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "done 2, skipped 0, failed 0; 2 thumbnails" in done.stdout
    made = sorted(p.relative_to(folder).as_posix() for p in (folder / "thumb").rglob("*.*"))
    assert made == ["thumb/100/IMG_0001.JPG", "thumb/100/day 2/IMG_0002.heic.jpg"]
    for name in made:
        with Image.open(folder / name) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) == 100
            assert thumb.size[0] < thumb.size[1]  # both turned upright
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "done 0, skipped 2, failed 0" in again.stdout, again.stdout + again.stderr
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    failed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert "failed: broken.png: " in failed.stderr
