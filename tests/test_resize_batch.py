"""``python -m resize``: the batch tool on a folder and on a bucket, and the Lambda zip."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from resize import package
from testkit.s3 import keys, new_bucket, s3_client
from tests import pictures

ROOT = Path(__file__).resolve().parent.parent
PICTURES = {
    "1_a.jpg": lambda: pictures.jpeg(pictures.photo(1600, 1200)),
    "2_b.png": lambda: pictures.png(pictures.photo(300, 600)),
    "3_c.gif": lambda: pictures.animated("GIF"),
    "4_d.webp": lambda: pictures.webp(pictures.photo(400, 400)),
}
EXPECTED = {
    "1_a.jpg": {200: (200, 150), 1080: (1080, 810)},
    "2_b.png": {200: (100, 200), 1080: (300, 600)},
    "3_c.gif": {200: (200, 133), 1080: (300, 200)},
    "4_d.webp": {200: (200, 200), 1080: (400, 400)},
}
MARKER = b"an old thumbnail that must stay unless --force"


def resize_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SNS_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "resize", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A data dir's ``images`` folder as the app leaves it: originals, no thumbnails."""
    folder = tmp_path / "data" / "images"
    (folder / "original").mkdir(parents=True)
    for name, make in PICTURES.items():
        (folder / "original" / name).write_bytes(make())
    return folder


def sizes_on_disk(folder: Path) -> dict[str, dict[int, tuple[int, int]]]:
    found: dict[str, dict[int, tuple[int, int]]] = {}
    for path in sorted((folder / "thumb").rglob("*")):
        if path.is_file():
            size = int(path.parent.name)
            with Image.open(path) as image:
                found.setdefault(path.name, {})[size] = image.size
    return found


def test_a_folder_gets_every_missing_thumbnail(images: Path):
    done = resize_cli(str(images), "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert "done 4, skipped 0, failed 0; 8 thumbnails" in done.stdout
    assert "images per second" in done.stdout
    assert sizes_on_disk(images) == EXPECTED
    assert not [path for path in images.rglob(".*")], "no temporary file is left"


def test_existing_thumbnails_are_skipped_unless_forced(images: Path):
    assert resize_cli(str(images)).returncode == 0
    kept = images / "thumb" / "1080" / "1_a.jpg"
    kept.write_bytes(MARKER)
    (images / "thumb" / "200" / "2_b.png").unlink()

    again = resize_cli(str(images), "--jobs", "1")
    assert again.returncode == 0, again.stderr
    assert "done 1, skipped 3, failed 0; 1 thumbnails" in again.stdout
    assert kept.read_bytes() == MARKER
    assert (images / "thumb" / "200" / "2_b.png").is_file()

    forced = resize_cli(str(images), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "done 4, skipped 0, failed 0; 8 thumbnails" in forced.stdout
    assert kept.read_bytes() != MARKER
    assert sizes_on_disk(images) == EXPECTED


def test_a_corrupt_file_fails_alone_and_sets_the_exit_status(images: Path):
    (images / "original" / "5_text.jpg").write_bytes(b"text renamed to .jpg\n" * 50)
    (images / "original" / "6_cut.png").write_bytes(pictures.png(pictures.photo(600, 400))[:3000])
    (images / "original" / "7_empty.webp").write_bytes(b"")
    done = resize_cli(str(images))
    assert done.returncode == 1
    assert "done 4, skipped 0, failed 3" in done.stdout
    assert "failed: original/5_text.jpg: This is not a JPEG" in done.stderr
    assert "failed: original/6_cut.png: The picture is damaged" in done.stderr
    assert "failed: original/7_empty.webp: The file is empty. (empty)" in done.stderr
    assert sizes_on_disk(images) == EXPECTED


def test_the_data_dir_sizes_and_pixel_cap_can_be_given(images: Path):
    done = resize_cli(str(images.parent), "--sizes", "64,128", "--max-pixels", "1000000", "--quiet")
    assert done.returncode == 1
    assert "failed: original/1_a.jpg" in done.stderr and "too_many_pixels" in done.stderr
    assert sorted(path.name for path in (images / "thumb").iterdir()) == ["128", "64"]


def test_sizes_default_to_the_apps_setting(images: Path):
    done = resize_cli(str(images), env={"SNS_THUMB_SIZES": "100"})
    assert done.returncode == 0, done.stderr
    assert [path.name for path in (images / "thumb").iterdir()] == ["100"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/folder"], "no such folder"),
        (["{images}", "--sizes", "200,x"], "--sizes: 'x' is not a whole number"),
        (["{images}", "--sizes", "8"], "sizes must be between 16 and 8192"),
        (["{images}", "--jobs", "0"], "--jobs must be at least 1"),
        (["s3://"], "no bucket"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(images: Path, args, message):
    done = resize_cli(*[arg.format(images=images) for arg in args])
    assert done.returncode == 2
    assert message in done.stderr
    assert not (images / "thumb").exists()


# -- a bucket -----------------------------------------------------------------------------


def fill_bucket(endpoint: str, bucket: str, root: str = "") -> None:
    client = s3_client(endpoint)
    for name, make in PICTURES.items():
        client.put_object(Bucket=bucket, Key=f"{root}original/{name}", Body=make())


def test_a_bucket_gets_every_missing_thumbnail_skips_and_forces(moto_s3: str):
    bucket = new_bucket(moto_s3)
    fill_bucket(moto_s3, bucket)
    client = s3_client(moto_s3)
    client.put_object(Bucket=bucket, Key="original/5_bad.jpg", Body=b"not a picture")

    done = resize_cli(f"s3://{bucket}", "--endpoint-url", moto_s3, "--jobs", "2")
    assert done.returncode == 1
    assert "done 4, skipped 0, failed 1; 8 thumbnails" in done.stdout
    assert "failed: original/5_bad.jpg" in done.stderr
    assert keys(moto_s3, bucket, "thumb/") == sorted(
        f"thumb/{size}/{name}" for name in PICTURES for size in (200, 1080)
    )
    response = client.get_object(Bucket=bucket, Key="thumb/200/4_d.webp")
    assert response["ContentType"] == "image/webp"
    assert Image.open(io.BytesIO(response["Body"].read())).size == (200, 200)

    client.delete_object(Bucket=bucket, Key="original/5_bad.jpg")
    client.put_object(Bucket=bucket, Key="thumb/1080/1_a.jpg", Body=MARKER)
    again = resize_cli(f"s3://{bucket}", "--endpoint-url", moto_s3)
    assert again.returncode == 0, again.stderr
    assert "done 0, skipped 4, failed 0" in again.stdout
    marker = client.get_object(Bucket=bucket, Key="thumb/1080/1_a.jpg")["Body"].read()
    assert marker == MARKER

    forced = resize_cli(f"s3://{bucket}", "--force", env={"SNS_S3_ENDPOINT_URL": moto_s3})
    assert forced.returncode == 0, forced.stderr
    assert "done 4, skipped 0, failed 0" in forced.stdout
    remade = client.get_object(Bucket=bucket, Key="thumb/1080/1_a.jpg")["Body"].read()
    assert Image.open(io.BytesIO(remade)).size == (1080, 810)


def test_a_missing_bucket_is_a_clear_error(moto_s3: str):
    done = resize_cli("s3://no-such-bucket-here", "--endpoint-url", moto_s3)
    assert done.returncode == 2
    assert "python -m resize: s3://no-such-bucket-here/" in done.stderr
    assert ": cannot list: " in done.stderr
    assert "NoSuchBucket" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bucket_root_and_a_part_of_original(moto_s3: str):
    bucket = new_bucket(moto_s3)
    fill_bucket(moto_s3, bucket, root="site/")
    done = resize_cli(f"s3://{bucket}/site/original/1_", "--endpoint-url", moto_s3)
    assert done.returncode == 0, done.stderr
    assert "done 1, skipped 0, failed 0" in done.stdout
    assert keys(moto_s3, bucket, "site/thumb/") == [
        "site/thumb/1080/1_a.jpg",
        "site/thumb/200/1_a.jpg",
    ]
    rest = resize_cli(f"s3://{bucket}/site", "--endpoint-url", moto_s3)
    assert "done 3, skipped 1, failed 0" in rest.stdout


# -- the Lambda zip -----------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_the_lambda_zip_builds_with_the_handler_and_linux_pillow(tmp_path: Path):
    """Downloads Pillow's Linux wheel from the package index once (then from the cache)."""
    output = tmp_path / "lambda.zip"
    done = resize_cli("package", "--output", str(output), "--bucket", "photos")
    assert done.returncode == 0, done.stderr
    names = set(zipfile.ZipFile(output).namelist())
    handler = {f"resize/{module}" for module in package.HANDLER_MODULES}
    assert handler <= names
    assert "resize/batch.py" not in names and not [n for n in names if n.startswith("tqdm/")]
    assert "PIL/__init__.py" in names
    assert [name for name in names if name.startswith("PIL/_imaging.cpython-312-x86_64")]
    assert [name for name in names if name.startswith("pillow.libs/libjpeg")]
    assert "def handler(" in zipfile.ZipFile(output).read("resize/lambda_handler.py").decode()
    # What the zip holds of resize/ is enough for the handler to import (with this Pillow).
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(output) as archive:
        archive.extractall(unpacked, [name for name in names if name.startswith("resize/")])
    # -S: no .pth files, so this checkout's editable install cannot lend missing modules.
    site_packages = Path(Image.__file__).parent.parent
    imported = subprocess.run(
        [sys.executable, "-S", "-c", "import resize.lambda_handler as h; print(h.__file__)"],
        cwd=unpacked,
        env={**os.environ, "PYTHONPATH": f"{unpacked}{os.pathsep}{site_packages}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().startswith(str(unpacked))
    assert "--handler resize.lambda_handler.handler" in done.stdout
    assert "arn:aws:s3:::photos/original/*" in done.stdout
    assert '"Name":"prefix","Value":"original/"' in done.stdout


def test_avatars_in_a_folder_and_a_bucket_get_their_missing_sizes(tmp_path: Path, moto_s3: str):
    """Avatars (#19): every ``avatar/original/<name>`` gets ``avatar/96/`` and ``avatar/320/``
    (squares), beside the thumbnails of the post pictures; a bad one is named by its key."""
    folder = tmp_path / "images"
    (folder / "avatar" / "original").mkdir(parents=True)
    (folder / "original").mkdir()
    (folder / "original" / "1_a.jpg").write_bytes(PICTURES["1_a.jpg"]())
    (folder / "avatar" / "original" / "2_b.png").write_bytes(pictures.png(pictures.photo(400, 400)))
    (folder / "avatar" / "original" / "3_c.jpg").write_bytes(b"not a picture")
    done = resize_cli(str(folder), "--jobs", "2")
    assert done.returncode == 1
    assert "done 2, skipped 0, failed 1; 4 thumbnails" in done.stdout
    assert "failed: avatar/original/3_c.jpg" in done.stderr
    for size in (96, 320):
        with Image.open(folder / "avatar" / str(size) / "2_b.png") as image:
            assert image.size == (size, size)

    bucket = new_bucket(moto_s3)
    client = s3_client(moto_s3)
    client.put_object(
        Bucket=bucket, Key="avatar/original/9_z.jpg", Body=pictures.jpeg(pictures.photo(300, 300))
    )
    made = resize_cli(f"s3://{bucket}", "--endpoint-url", moto_s3, "--jobs", "1")
    assert made.returncode == 0, made.stderr
    assert keys(moto_s3, bucket, "avatar/") == [
        "avatar/320/9_z.jpg",
        "avatar/96/9_z.jpg",
        "avatar/original/9_z.jpg",
    ]
    again = resize_cli(f"s3://{bucket}", "--endpoint-url", moto_s3, "--jobs", "1")
    assert "done 0, skipped 1, failed 0" in again.stdout
