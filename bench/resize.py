"""Thumbnails: ``resize.core`` against plain Pillow (and optionally sharp), on one core and on all.

Makes its own pictures, the same bytes every run (seeded): JPEGs of 12 and 6 megapixels and
PNG, WebP and GIF pictures with photograph-like content (gradients with texture at three
scales and a little grain; a flat colour would decode and compress unrealistically fast), a
PNG of flat graphics with transparency (shapes and text on a clear ground), a 12-megapixel
HEIC when pillow-heif is importable and a 12-megapixel AVIF when Pillow writes AVIF (both
made into JPEG thumbnails, by sharp too; sharp cannot read the HEIC). Then, in the same run:

1. one core, in this process, for each kind and for 200 px, 1080 px and both sizes of one
   picture (what the site makes per upload), taking turns call by call on the same bytes:
   ``resize.core.thumbnails``; plain Pillow (``Image.open``, ``.resize()`` to each size with
   its default filter, ``.save()`` in the same format); with ``--baseline REV`` the
   ``resize/core.py`` of that git revision; with ``--sharp DIR`` sharp as NodeBird's Lambda
   calls it (``sharp(buf).resize(s, s, {fit: 'inside'}).toFormat(fmt)``, one size per call)
   in a Node process of its own, ``sharp.concurrency(1)``, ``UV_THREADPOOL_SIZE=1``, cache off.
   Times are CPU milliseconds of each call (the median over rounds), of the process doing it:
   on a shared machine other processes stretch wall-clock time, not the work done. Sizes are
   the bytes written; SSIM (numpy) is of the luma against the full picture (decoded at full
   size, composited on mid-grey when it has transparency) scaled to the same size with
   Pillow's Lanczos, 11-tap Gaussian window (sigma 1.5), Wang et al.'s constants;
2. the batch tool (``resize.batch.run``, what ``python -m resize`` runs) over a folder of
   JPEGs and of PNGs with ``--jobs 1`` and ``--jobs N`` (N = the cores), ``--force``.

    .venv/bin/python bench/resize.py                               # Pillow only
    .venv/bin/python bench/resize.py --sharp /tmp/sharp-bench --baseline 84e2e77
    .venv/bin/python bench/resize.py --kinds png-photo,png-flat --rounds 9 --no-batch
    .venv/bin/python bench/resize.py --kinds jpeg-12mp,png-photo --rounds 6 --batch-only

The sharp folder is one where ``npm install sharp`` was run; the project never depends on Node.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import io
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image, ImageDraw, features

try:
    import numpy
    from numpy.lib.stride_tricks import sliding_window_view
except ImportError:  # SSIM needs it: pip install -e '.[bench]'
    numpy = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resize import core  # noqa: E402
from resize.batch import LocalStore, run  # noqa: E402

SIZES = (200, 1080)
TASKS: dict[str, tuple[int, ...]] = {"200": (200,), "1080": (1080,), "both": SIZES}
TARGETS = {"200": 1.0, "1080": 1.0, "both": 1.2}
"""#23's targets, sharp's time over ours: bold in the table where one is not met."""
SHARP_FORMATS = {
    "JPEG": "jpeg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "HEIF": "jpeg",
    "AVIF": "jpeg",
}
"""The format sharp is asked for: the original's, and JPEG for HEIC and AVIF, as ``resize.core``
writes them (sharp's prebuilt libvips reads AVIF but not HEIC: it has no HEVC decoder)."""


# -- pictures -----------------------------------------------------------------------------


def photo(width: int, height: int, seed: int) -> Image.Image:
    """Gradients with texture at three scales (broad blotches, detail, sensor grain): compresses
    like a photograph, about 4 MB for 12 Mpx at quality 90. Pure per-pixel noise would
    be a worst case (a very high ISO), a flat colour an unrealistically easy one."""
    rng = random.Random(seed)

    def noise(w: int, h: int) -> Image.Image:
        return Image.frombytes("L", (w, h), rng.randbytes(w * h)).resize(
            (width, height), Image.Resampling.BICUBIC
        )

    red = Image.linear_gradient("L").resize((width, height))
    green = red.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    blue = Image.radial_gradient("L").resize((width, height))
    grain = noise(width, height)
    channels = []
    for channel in (red, green, blue):
        broad = Image.blend(channel, noise(width // 16, height // 16), 0.4)
        detailed = Image.blend(broad, noise(width // 3, height // 3), 0.25)
        channels.append(Image.blend(detailed, grain, 0.05))
    return Image.merge("RGB", channels)


def graphics(width: int, height: int, seed: int) -> Image.Image:
    """Flat graphics on a transparent ground: rectangles, ellipses and rounded boxes in solid
    and half-transparent colours, with text, as a logo, a chart or a screenshot's cut-out."""
    rng = random.Random(seed)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    shapes = (draw.rectangle, draw.ellipse, draw.rounded_rectangle)
    for index in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        box = (x, y, x + rng.randrange(width // 40, width // 4), y + rng.randrange(20, height // 4))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shapes[index % 3](box, fill=(*colour, rng.choice((255, 255, 200, 128))))
    for _ in range(30):
        position = (rng.randrange(width * 9 // 10), rng.randrange(height * 9 // 10))
        draw.text(position, "Hello, SNS", fill=(0, 0, 0, 255), font_size=rng.randrange(20, 90))
    return image


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def heif_available() -> bool:
    try:
        import pillow_heif  # type: ignore[import-not-found]
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def kinds(wanted: set[str] | None, cache: Path | None) -> dict[str, bytes]:
    """The pictures of each kind, made here (or read from ``cache``, where they are kept
    once made); the same bytes every run."""
    makers: dict[str, Callable[[], bytes]] = {
        "jpeg-12mp": lambda: encoded(photo(4000, 3000, 1), "JPEG", quality=90),
        "jpeg-6mp": lambda: encoded(photo(3000, 2000, 2), "JPEG", quality=90),
        "png-photo": lambda: encoded(photo(2000, 1500, 3), "PNG"),
        "png-flat": lambda: encoded(graphics(2000, 1500, 6), "PNG"),
        "webp": lambda: encoded(photo(2000, 1500, 4), "WEBP", quality=85),
        "gif": lambda: encoded(
            photo(1200, 900, 5).convert("P", palette=Image.Palette.ADAPTIVE), "GIF"
        ),
    }
    if heif_available():
        makers["heic-12mp"] = lambda: encoded(photo(4032, 3024, 7), "HEIF", quality=50)
    if features.check("avif"):
        makers["avif-12mp"] = lambda: encoded(photo(4032, 3024, 8), "AVIF", quality=50)
    pictures = {}
    for name, make in makers.items():
        if wanted and name not in wanted:
            continue
        kept = cache / name if cache else None
        if kept is not None and kept.exists():
            pictures[name] = kept.read_bytes()
            continue
        pictures[name] = make()
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(pictures[name])
    return pictures


# -- the ways compared --------------------------------------------------------------------

Way = Callable[[bytes, tuple[int, ...]], dict[int, bytes]]


def plain(data: bytes, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """What one writes without thinking: open, resize to each size, save."""
    image = Image.open(io.BytesIO(data))
    fmt = "JPEG" if image.format in ("MPO", "HEIF", "AVIF") else str(image.format)
    results = {}
    for size in sizes:
        thumb = image.resize(core.fit(image.width, image.height, size))
        out = io.BytesIO()
        thumb.save(out, format=fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        results[size] = out.getvalue()
    return results


def baseline(revision: str) -> ModuleType:
    """``resize/core.py`` as it was at ``revision``, as a module of its own."""
    source = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "show", f"{revision}:resize/core.py"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader(f"core_at_{revision}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(source, f"{revision}:resize/core.py", "exec"), module.__dict__)  # noqa: S102
    return module


SHARP_WORKER = r"""
const sharp = require('sharp');
const readline = require('readline');
sharp.concurrency(1);
sharp.cache(false);
const files = new Map();
const lines = readline.createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const job = JSON.parse(line);
  if (!files.has(job.path)) files.set(job.path, require('fs').readFileSync(job.path));
  const buf = files.get(job.path);
  const out = {};
  let cpu = 0;
  try {
    for (const size of job.sizes) {
      const before = process.cpuUsage();
      const made = await sharp(buf)
        .resize(size, size, { fit: 'inside' })
        .toFormat(job.fmt)
        .toBuffer();
      const spent = process.cpuUsage(before);
      cpu += (spent.user + spent.system) / 1000;
      out[size] = made.toString('base64');
    }
    process.stdout.write(JSON.stringify({ cpu, out }) + '\n');
  } catch (error) {
    const last = String(error.message).trim().split('\n').pop();
    process.stdout.write(JSON.stringify({ error: last }) + '\n');
  }
});
"""


class Sharp:
    """sharp in a Node process of its own, one job per line; its own CPU time per job."""

    def __init__(self, folder: Path) -> None:
        env = dict(os.environ, UV_THREADPOOL_SIZE="1", NODE_PATH=str(folder / "node_modules"))
        self.process = subprocess.Popen(  # noqa: S603
            ["node", "-e", SHARP_WORKER],  # noqa: S607
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=folder,
        )
        self.folder = Path(tempfile.mkdtemp(prefix="sns-bench-sharp-"))
        self.files: dict[int, Path] = {}
        version = "require('sharp').versions.sharp + ' (libvips ' + require('sharp').versions.vips"
        self.version = subprocess.run(  # noqa: S603
            ["node", "-p", version + " + ')'"],  # noqa: S607
            capture_output=True,
            text=True,
            env=env,
            cwd=folder,
            check=False,
        ).stdout.strip()

    def __call__(self, data: bytes, sizes: tuple[int, ...]) -> tuple[float, dict[int, bytes]]:
        path = self.files.get(id(data))
        if path is None:
            path = self.folder / f"{len(self.files)}"
            path.write_bytes(data)
            self.files[id(data)] = path
        fmt = SHARP_FORMATS[str(Image.open(io.BytesIO(data)).format)]
        assert self.process.stdin is not None and self.process.stdout is not None
        job = {"path": str(path), "sizes": list(sizes), "fmt": fmt}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["cpu"] / 1000, {int(k): base64.b64decode(v) for k, v in answer["out"].items()}

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- quality ------------------------------------------------------------------------------


def luma(image: Image.Image) -> Any:
    """The picture's luma as floats, composited on mid-grey when it has transparency."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        ground = Image.new("RGBA", image.size, (128, 128, 128, 255))
        image = Image.alpha_composite(ground, image)
    return numpy.asarray(image.convert("L"), dtype=numpy.float64)


def ssim(a: Any, b: Any) -> float:
    """Mean SSIM of two luma arrays (Wang et al. 2004: Gaussian window 11, sigma 1.5)."""
    taps = numpy.exp(-((numpy.arange(11) - 5) ** 2) / (2 * 1.5**2))
    taps /= taps.sum()

    def blur(x: Any) -> Any:
        x = sliding_window_view(x, 11, axis=0) @ taps
        return sliding_window_view(x, 11, axis=1) @ taps

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    top = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    bottom = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((top / bottom).mean())


def references(data: bytes) -> dict[int, Any]:
    """The luma of the full picture scaled to each size with Lanczos, the yardstick."""
    image = Image.open(io.BytesIO(data))
    image.load()
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = image.mode in ("LA", "PA", "RGBA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    return {
        size: luma(image.resize(core.fit(*image.size, size), Image.Resampling.LANCZOS))
        for size in SIZES
    }


def quality(made: dict[int, bytes], refs: dict[int, Any]) -> dict[int, float]:
    scores = {}
    for size, data in made.items():
        image = Image.open(io.BytesIO(data))
        image.load()
        scores[size] = ssim(luma(image), refs[size])
    return scores


# -- one core -----------------------------------------------------------------------------


def timed(way: Way) -> Callable[[bytes, tuple[int, ...]], tuple[float, dict[int, bytes]]]:
    def call(data: bytes, sizes: tuple[int, ...]) -> tuple[float, dict[int, bytes]]:
        started = time.process_time()
        made = way(data, sizes)
        return time.process_time() - started, made

    return call


def one_core(
    pictures: dict[str, bytes],
    ways: dict[str, Callable[[bytes, tuple[int, ...]], tuple[float, dict[int, bytes]]]],
    rounds: int,
) -> None:
    """For each kind: the median CPU ms of each way for each task, its bytes and its SSIM."""
    with_ssim = numpy is not None
    if not with_ssim:
        print("(no SSIM: numpy is missing; pip install -e '.[bench]')")
    names = list(ways)
    for kind, data in pictures.items():
        image = Image.open(io.BytesIO(data))
        spent: dict[tuple[str, str], list[float]] = {}
        made: dict[str, dict[int, bytes]] = {}
        skipped: set[str] = set()
        for name, way in ways.items():  # warm up; a way that cannot read the kind is left out
            try:
                made[name] = way(data, SIZES)[1]
            except Exception as exc:
                print(f"{kind}: {name} cannot make it ({type(exc).__name__}: {exc})")
                skipped.add(name)
        for _ in range(rounds):
            for task, sizes in TASKS.items():
                for name, way in ways.items():
                    if name not in skipped:
                        spent.setdefault((name, task), []).append(way(data, sizes)[0] * 1000)
        live = [name for name in names if name not in skipped]
        scores = {}
        if with_ssim:
            refs = references(data)
            scores = {name: quality(made[name], refs) for name in live}
        print(
            f"\n### {kind}: {image.format} {image.width}x{image.height} {image.mode}, "
            f"{len(data) / 1e6:.2f} MB\n"
        )
        ratio = "sharp" in live and "resize.core" in live
        header = [f"{name} ms" for name in live] + (["sharp / resize.core"] if ratio else [])
        print("| thumbnails | " + " | ".join(header) + " |")
        print("|---" * (len(header) + 1) + "|")
        for task in TASKS:
            ms = {name: statistics.median(spent[(name, task)]) for name in live}
            cells = [f"{ms[name]:.1f}" for name in live]
            if ratio:
                times = ms["sharp"] / ms["resize.core"]
                unmet = times < TARGETS[task]
                cells.append(f"**{times:.2f}x**" if unmet else f"{times:.2f}x")
            print(f"| {task} | " + " | ".join(cells) + " |")
        for size in SIZES:
            cells = [f"{len(made[name][size]) / 1000:.1f} kB" for name in live]
            if with_ssim:
                cells = [
                    f"{c}, SSIM {scores[n][size]:.4f}" for c, n in zip(cells, live, strict=True)
                ]
            print(
                f"| {size} px: bytes, SSIM | " + " | ".join(cells) + (" |" if not ratio else " | |")
            )
        sys.stdout.flush()


# -- all cores ----------------------------------------------------------------------------


def batch(folder: Path, jobs: tuple[int, ...], rounds: int) -> dict[int, tuple[float, float]]:
    """For each number of processes: the median images per second (wall clock) of the batch
    tool, worker start-up included, as a user sees it, and the CPU seconds per image of all
    its processes. The settings take turns, so that other load falls on each alike."""
    rates: dict[int, list[float]] = {count: [] for count in jobs}
    cpu: dict[int, list[float]] = {count: [] for count in jobs}
    for _ in range(rounds):
        for count in jobs:
            before = cpu_seconds()
            summary = run(LocalStore(folder), SIZES, jobs=count, force=True, progress=False)
            assert not summary.failed, summary.failed
            rates[count].append(summary.per_second)
            cpu[count].append((cpu_seconds() - before) / summary.done)
    return {
        count: (statistics.median(rates[count]), statistics.median(cpu[count])) for count in jobs
    }


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def spin(count: int) -> int:
    total = 0
    for number in range(count):
        total += number * number
    return total


def free_cores(jobs: int, rounds: int) -> float:
    """How many times one process's work ``jobs`` processes get done on this machine right
    now (a pure CPU loop, no I/O): the ceiling for the batch tool's ratio while others run."""
    context = multiprocessing.get_context("spawn")
    rates: dict[int, list[float]] = {1: [], jobs: []}
    for _ in range(rounds):
        for count in (1, jobs):
            with ProcessPoolExecutor(count, mp_context=context) as pool:
                list(pool.map(spin, [10_000] * count))  # started
                started = time.perf_counter()
                list(pool.map(spin, [3_000_000] * 4 * jobs))
                rates[count].append(4 * jobs / (time.perf_counter() - started))
    return statistics.median(rates[jobs]) / statistics.median(rates[1])


def all_cores(pictures: dict[str, bytes], files: int, jobs: int, rounds: int) -> None:
    print(
        "\nbatch tool (python -m resize --force), images per wall-clock second, start-up included\n"
    )
    print(f"| pictures | --jobs 1 | --jobs {jobs} | ratio | CPU s per image, 1 / {jobs} |")
    print("|---|---|---|---|---|")
    for kind in ("jpeg-12mp", "png-photo"):
        if kind not in pictures:
            continue
        data = pictures[kind]
        folder = Path(tempfile.mkdtemp(prefix="sns-bench-resize-"))
        try:
            (folder / "original").mkdir()
            extension = "jpg" if kind.startswith("jpeg") else "png"
            for index in range(files):
                (folder / "original" / f"{index:04d}.{extension}").write_bytes(data)
            rates = batch(folder, (1, jobs), rounds)
            (single, single_cpu), (many, many_cpu) = rates[1], rates[jobs]
        finally:
            shutil.rmtree(folder)
        print(
            f"| {kind} x{files} | {single:.2f} | {many:.2f} | {many / single:.2f}x "
            f"| {single_cpu:.3f} / {many_cpu:.3f} |"
        )
    ceiling = free_cores(jobs, rounds)
    print(f"\na pure CPU loop on {jobs} processes did {ceiling:.2f}x the work of one")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Pillow {Image.__version__}; load average before the run {load()}"
    )


def load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the pictures")
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--sharp", type=Path, help="a folder where `npm install sharp` was run")
    parser.add_argument("--baseline", help="a git revision whose resize/core.py to compare too")
    parser.add_argument("--cache", type=Path, help="a folder to keep the pictures in")
    parser.add_argument("--batch", type=int, default=32, help="files in the batch folder")
    parser.add_argument("--no-batch", action="store_true", help="one core only")
    parser.add_argument("--batch-only", action="store_true", help="the batch tool only")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    print(machine())
    pictures = kinds({kind for kind in args.kinds.split(",") if kind} or None, args.cache)
    ways = {"plain": timed(plain)}
    if args.baseline:
        ways[args.baseline] = timed(baseline(args.baseline).thumbnails)
    ways["resize.core"] = timed(core.thumbnails)
    sharp = Sharp(args.sharp) if args.sharp else None
    if sharp is not None:
        ways["sharp"] = sharp
        print(f"sharp {sharp.version}")
    try:
        if not args.batch_only:
            print(f"sizes {SIZES}; CPU ms per call, median of {args.rounds} rounds (lower: faster)")
            one_core(pictures, ways, args.rounds)
    finally:
        if sharp is not None:
            sharp.close()
    if not args.no_batch:
        all_cores(pictures, args.batch, args.jobs, max(1, args.rounds // 2))
    print(f"\nload average after the run {load()}")


if __name__ == "__main__":
    main()
