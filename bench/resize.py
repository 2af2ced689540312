"""Thumbnails per second: ``resize.core`` against plain Pillow, on one core and on all cores.

Makes its own pictures: 12-megapixel JPEGs (4000x3000) and 2-megapixel PNGs (1732x1155) with
photograph-like content (gradients and noise; a flat colour would decode and compress
unrealistically fast). Then, in the same run:

1. one core, in this process: ``resize.core.thumbnails(data, sizes)`` against the plain way,
   ``Image.open(data)`` then ``.resize()`` to each size and ``.save()`` in the same format,
   alternating the two on the same pictures, timed in CPU seconds of this process (on a shared
   machine other processes stretch wall-clock time, not the work done);
2. the batch tool (``resize.batch.run``, what ``python -m resize`` runs) over a folder of
   those pictures with ``--jobs 1`` and ``--jobs N`` (N = the cores), ``--force``.

    .venv/bin/python bench/resize.py                  # about a minute on two cores
    .venv/bin/python bench/resize.py --jpegs 6 --batch 48 --rounds 5
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resize import core
from resize.batch import LocalStore, run

SIZES = (200, 1080)


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


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def plain(data: bytes, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """What one writes without thinking: open, resize to each size, save."""
    image = Image.open(io.BytesIO(data))
    results = {}
    for size in sizes:
        thumb = image.resize(core.fit(image.width, image.height, size))
        out = io.BytesIO()
        thumb.save(out, format=image.format, **({"quality": 85} if image.format == "JPEG" else {}))
        results[size] = out.getvalue()
    return results


def ours(data: bytes, sizes: tuple[int, ...]) -> dict[int, bytes]:
    return core.thumbnails(data, sizes)


def one_core(pictures: list[bytes], rounds: int) -> dict[str, float]:
    """Thumbnails per CPU second of each way, alternating them picture by picture."""
    ways: dict[str, Callable[[bytes, tuple[int, ...]], dict[int, bytes]]] = {
        "plain": plain,
        "resize.core": ours,
    }
    spent = {name: 0.0 for name in ways}
    for name, way in ways.items():  # warm up (imports, plugin registration)
        way(pictures[0], SIZES)
        spent[name] = 0.0
    made = 0
    for _ in range(rounds):
        for data in pictures:
            for name, way in ways.items():
                started = time.process_time()
                way(data, SIZES)
                spent[name] += time.process_time() - started
            made += len(SIZES)
    return {name: made / seconds for name, seconds in spent.items()}


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


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Pillow {Image.__version__}; load average before the run {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jpegs", type=int, default=4, help="distinct 12 Mpx JPEGs")
    parser.add_argument("--pngs", type=int, default=4, help="distinct 2 Mpx PNGs")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the pictures")
    parser.add_argument("--batch", type=int, default=32, help="files in the batch folder")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    print(machine())
    kinds = {
        "JPEG 4000x3000": [encoded(photo(4000, 3000, seed), "JPEG") for seed in range(args.jpegs)],
        "PNG 1732x1155": [encoded(photo(1732, 1155, seed), "PNG") for seed in range(args.pngs)],
    }
    for kind, pictures in kinds.items():
        average = sum(map(len, pictures)) / len(pictures) / 1e6
        print(f"{kind}: {len(pictures)} pictures, {average:.1f} MB on average")
    print(f"sizes {SIZES}; thumbnails per CPU second (higher is better)\n")
    print("| pictures | plain Pillow, 1 core | resize.core, 1 core | ratio |")
    print("|---|---|---|---|")
    for kind, pictures in kinds.items():
        rates = one_core(pictures, args.rounds)
        ratio = rates["resize.core"] / rates["plain"]
        print(f"| {kind} | {rates['plain']:.1f} | {rates['resize.core']:.1f} | {ratio:.2f}x |")

    print(
        "\nbatch tool (python -m resize --force), images per wall-clock second, start-up included\n"
    )
    print(
        f"| pictures | --jobs 1 | --jobs {args.jobs} | ratio | CPU s per image, 1 / {args.jobs} |"
    )
    print("|---|---|---|---|---|")
    for kind, pictures in kinds.items():
        folder = Path(tempfile.mkdtemp(prefix="sns-bench-resize-"))
        try:
            (folder / "original").mkdir()
            extension = "jpg" if kind.startswith("JPEG") else "png"
            for index in range(args.batch):
                data = pictures[index % len(pictures)]
                (folder / "original" / f"{index:04d}.{extension}").write_bytes(data)
            rates = batch(folder, (1, args.jobs), args.rounds)
            (single, single_cpu), (many, many_cpu) = rates[1], rates[args.jobs]
        finally:
            shutil.rmtree(folder)
        print(
            f"| {kind} x{args.batch} | {single:.2f} | {many:.2f} | {many / single:.2f}x "
            f"| {single_cpu:.3f} / {many_cpu:.3f} |"
        )
    ceiling = free_cores(args.jobs, args.rounds)
    print(f"\na pure CPU loop on {args.jobs} processes did {ceiling:.2f}x the work of one")
    print(f"load average after the run {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
