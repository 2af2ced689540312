"""Upload to thumbnails: ``bench/upload.py``, phone photos through the running server.

Starts SNS (``testkit``: SQLite, pictures in the local folder, ``SNS_RESIZE=inline``), logs in,
then for each kind of picture uploads it ``--rounds`` times through ``POST /post/img`` and
times, from just before the request is sent:

- *answer*: until the upload's answer arrives (body sent, the picture checked and cleaned in
  the pool, the original stored);
- *thumbnails*: until both thumbnails (``thumb/200/`` and ``thumb/1080/``) exist in the folder
  (polled every 5 ms), which the pool makes right after the answer.

Each kind gets a fresh server, so that the peak resident memory (``VmHWM`` in
``/proc/<pid>/status``) of its picture pool's processes belongs to that kind alone. A small
warm-up upload starts the pool first; the peak is then reset (``/proc/<pid>/clear_refs``)
where the kernel allows it, so the figure is what the pictures cost on top of a worker at rest,
which is given too.

The pictures are made here, photograph-like (gradients, blotches and grain; not a flat
colour, which would decode unrealistically fast, nor pure noise): a 12 MP JPEG (4000x3000,
turned by EXIF, with GPS), a 12 MP HEIC (4032x3024, as an iPhone takes it, by pillow-heif)
and a 48 MP JPEG (8064x6048, stored at 4032x3024 by the JPEG decoder's own scaling).

    .venv/bin/python bench/upload.py                 # about two minutes on two cores
    .venv/bin/python bench/upload.py --rounds 10 --kinds jpeg12 heic12
"""

from __future__ import annotations

import argparse
import io
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pillow_heif
from PIL import ExifTags, Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.sns import Client, SnsServer

pillow_heif.register_heif_opener()


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """Gradients with texture at three scales: compresses like a photograph (about 4 MB
    for 12 MP at JPEG quality 90)."""
    rng = random.Random(seed)

    def noise(w: int, h: int) -> Image.Image:
        return Image.frombytes("L", (w, h), rng.randbytes(w * h)).resize(
            (width, height), Image.Resampling.BICUBIC
        )

    red = Image.linear_gradient("L").resize((width, height))
    green = red.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    blue = Image.radial_gradient("L").resize((width, height))
    texture = [noise(width // 64, height // 64), noise(width // 8, height // 8)]
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    channels = []
    for channel in (red, green, blue):
        for layer, weight in zip([*texture, grain], (0.3, 0.2, 0.12), strict=True):
            channel = Image.blend(channel, layer, weight)
        channels.append(channel)
    return Image.merge("RGB", channels)


def camera_exif() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (37.0, 33.0, 59.0)
    return exif.tobytes()


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, exif=camera_exif(), **options)
    return out.getvalue()


KINDS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "jpeg12": ("12 MP JPEG, 4000x3000", lambda: encoded(photo(4000, 3000), "JPEG", quality=92)),
    "heic12": ("12 MP HEIC, 4032x3024", lambda: encoded(photo(4032, 3024), "HEIF", quality=80)),
    "jpeg48": ("48 MP JPEG, 8064x6048", lambda: encoded(photo(8064, 6048), "JPEG", quality=90)),
}


def descendants(pid: int) -> dict[int, int]:
    """``{pid: parent pid}`` of every process under ``pid``."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: dict[int, int] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = parent
                frontier.append(child)
    return found


def pool_workers(server_pid: int) -> list[int]:
    """The picture pool's workers: forked by the forkserver, a child of the server, so the
    server's grandchildren."""
    tree = descendants(server_pid)
    return sorted(pid for pid, parent in tree.items() if parent != server_pid)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def upload(client: Client, data: bytes) -> dict:
    response = client.http.post(
        client.base_url + "/post/img",
        files={"img": ("photo", data, "application/octet-stream")},
        headers={"X-XSRFToken": client.xsrf(), "Accept": "application/json"},
        timeout=120,
    )
    response.raise_for_status()
    return dict(response.json())


def measure(kind: str, data: bytes, rounds: int, base: Path) -> dict[str, object]:
    server = SnsServer(base / kind, {"SNS_RESIZE": "inline"})
    server.start()
    try:
        client = server.client()
        client.join()
        thumbs = server.data_dir / "images" / "thumb"
        warm = upload(client, encoded(photo(64, 48), "JPEG"))
        while not (thumbs / "1080" / warm["name"]).exists():
            time.sleep(0.01)
        workers = pool_workers(server.process.pid)  # type: ignore[union-attr]
        rest = max(status_kib(pid, "VmRSS") for pid in workers)
        reset = all(reset_peak(pid) for pid in workers)
        answers, done = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            answer = upload(client, data)
            answered = time.perf_counter()
            small, large = thumbs / "200" / answer["name"], thumbs / "1080" / answer["name"]
            while not (small.exists() and large.exists()):
                if time.perf_counter() - started > 120:
                    raise RuntimeError(f"no thumbnails of {answer['name']}:\n{server.output()}")
                time.sleep(0.005)
            done.append(time.perf_counter() - started)
            answers.append(answered - started)
        workers = pool_workers(server.process.pid)  # type: ignore[union-attr]
        peak = max(status_kib(pid, "VmHWM") for pid in workers)
        stored = Image.open(server.data_dir / "images" / "original" / answer["name"])
        return {
            "answers": answers,
            "done": done,
            "rest": rest,
            "peak": peak,
            "reset": reset,
            "workers": len(workers),
            "stored": f"{stored.format} {stored.width}x{stored.height}",
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="uploads per kind (%(default)s)")
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=list(KINDS))
    args = parser.parse_args()
    print(f"{platform.python_version()} on {platform.machine()}, {args.rounds} uploads per kind")
    print(
        "| picture | upload | stored | answer median (max) s | both thumbnails median (max) s "
        "| pool peak RSS MiB (at rest) |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="sns-bench-upload-") as base:
        for kind in args.kinds:
            label, make = KINDS[kind]
            data = make()
            result = measure(kind, data, args.rounds, Path(base))
            answers, done = result["answers"], result["done"]
            assert isinstance(answers, list) and isinstance(done, list)
            peak = int(result["peak"]) / 1024  # type: ignore[call-overload]
            rest = int(result["rest"]) / 1024  # type: ignore[call-overload]
            note = "" if result["reset"] else " (peak not reset: includes start-up)"
            print(
                f"| {label} | {len(data) / 2**20:.1f} MiB | {result['stored']} "
                f"| {statistics.median(answers):.2f} ({max(answers):.2f}) "
                f"| {statistics.median(done):.2f} ({max(done):.2f}) "
                f"| {peak:.0f} ({rest:.0f}){note} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
