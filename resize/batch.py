"""The offline batch tool: the missing thumbnails and avatar sizes of a folder or a bucket,
on every core.

``python -m resize SOURCE``, where SOURCE is the app's local image folder
(``<data dir>/images``, holding ``original/`` and ``thumb/<size>/``), ``s3://bucket[/root]``
(the root under which ``original/`` and ``thumb/`` sit; a path reaching into ``original/``,
e.g. ``s3://bucket/original/1732``, only takes the originals starting so), or any other
folder of pictures (a phone's export): its thumbnails go to ``<folder>/thumb/<size>/`` under
the same relative path, a HEIC/HEIF, AVIF or MPO's with ``.jpg`` added (``IMG_1.heic`` ->
``thumb/200/IMG_1.heic.jpg``), as they are JPEG; files with other extensions are left alone.
Avatars (``avatar/original/<name>``) get their missing ``avatar/<size>/<name>`` of
``resize.keys.AVATAR_SIZES`` too, whatever ``--sizes`` says; not with such a part.

The main process lists the originals and the thumbnails that exist (one listing per size, not a
request per picture), then hands each picture that lacks a size to a pool of worker processes,
which read it, make all its missing sizes from one decode, and write them. A picture that
cannot be read is counted as failed and named at the end; the exit status is then 1.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from resize import avatars, core
from resize.errors import ImageError
from resize.keys import (
    AVATAR_ORIGINAL_PREFIX,
    AVATAR_PREFIX,
    AVATAR_SIZES,
    ORIGINAL_PREFIX,
    THUMB_CACHE_CONTROL,
    THUMB_PREFIX,
    avatar_key,
    name_of,
    thumb_key,
    write_atomically,
)
from resize.s3 import S3Options, make_client


class Store(Protocol):
    """Where originals are read and thumbnails written; picklable, for the workers."""

    def describe(self) -> str: ...

    def label(self, name: str) -> str:
        """How a picture is named in messages."""

    def originals(self) -> Iterator[str]:
        """The names of every original (``original/<name>``)."""

    def thumbnails(self, size: int) -> set[str]:
        """The names that have a thumbnail of ``size``."""

    def read(self, name: str) -> bytes: ...

    def write(self, size: int, name: str, data: bytes, content_type: str) -> None: ...

    def avatar_originals(self) -> Iterator[str]:
        """The names of every avatar original (``avatar/original/<name>``)."""

    def avatar_sizes(self, size: int) -> set[str]:
        """The names that have an avatar of ``size``."""

    def read_avatar(self, name: str) -> bytes: ...

    def write_avatar(self, size: int, name: str, data: bytes, content_type: str) -> None: ...


PICTURE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".avif", ".mpo"}
)
"""What a plain folder's pictures are named; its other files are not pictures to us."""
KEPT_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})
"""Names whose thumbnails keep them: the thumbnail is written in the same format."""


def plain_thumb_name(name: str) -> str:
    """A plain folder's thumbnail name: the picture's own, with ``.jpg`` added when the
    thumbnail is a JPEG made from another format (HEIC/HEIF, AVIF, MPO)."""
    return name if Path(name).suffix.lower() in KEPT_SUFFIXES else f"{name}.jpg"


@dataclass(frozen=True)
class LocalStore:
    """A local folder; thumbnails written under a hidden name, then renamed. ``plain``: any
    folder of pictures (thumbnails in ``<root>/thumb/<size>/``), not the app's layout."""

    root: Path
    plain: bool = False

    def describe(self) -> str:
        return str(self.root)

    def label(self, name: str) -> str:
        return name if self.plain else f"{ORIGINAL_PREFIX}{name}"

    def _pictures(self) -> Iterator[str]:
        """A plain folder's pictures, but not its thumbnails nor hidden files."""
        for path in self.root.rglob("*"):
            relative = path.relative_to(self.root)
            if (
                relative.parts[0] == "thumb"
                or any(part.startswith(".") for part in relative.parts)
                or path.suffix.lower() not in PICTURE_SUFFIXES
                or not path.is_file()
            ):
                continue
            yield relative.as_posix()

    def _names(self, folder: Path) -> Iterator[str]:
        if not folder.is_dir():
            return
        for path in folder.rglob("*"):
            relative = path.relative_to(folder).as_posix()
            if path.is_file() and name_of(ORIGINAL_PREFIX + relative) is not None:
                yield relative

    def originals(self) -> Iterator[str]:
        if self.plain:
            return self._pictures()
        return self._names(self.root / "original")

    def thumbnails(self, size: int) -> set[str]:
        if self.plain:
            folder = self.root / "thumb" / str(size)
            return {
                name for name in self._pictures() if (folder / plain_thumb_name(name)).is_file()
            }
        return set(self._names(self.root / "thumb" / str(size)))

    def read(self, name: str) -> bytes:
        return (self.root / name if self.plain else self.root / "original" / name).read_bytes()

    def write(self, size: int, name: str, data: bytes, content_type: str) -> None:
        target = thumb_key(size, plain_thumb_name(name) if self.plain else name)
        write_atomically(self.root / target, data)

    def avatar_originals(self) -> Iterator[str]:
        return self._names(self.root / "avatar" / "original")

    def avatar_sizes(self, size: int) -> set[str]:
        return set(self._names(self.root / "avatar" / str(size)))

    def read_avatar(self, name: str) -> bytes:
        return (self.root / "avatar" / "original" / name).read_bytes()

    def write_avatar(self, size: int, name: str, data: bytes, content_type: str) -> None:
        write_atomically(self.root / avatar_key(size, name), data)


_s3_clients: dict[S3Options, Any] = {}


@dataclass(frozen=True)
class S3Store:
    """A bucket; ``root`` is the prefix holding ``original/`` and ``thumb/`` ("" or "x/"),
    ``only`` narrows the originals to names starting with it."""

    bucket: str
    root: str = ""
    only: str = ""
    options: S3Options = field(default_factory=S3Options)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.root}{ORIGINAL_PREFIX}{self.only}"

    def label(self, name: str) -> str:
        return f"{ORIGINAL_PREFIX}{name}"

    @property
    def client(self) -> Any:
        """One client per process (clients are not shared across a fork)."""
        if self.options not in _s3_clients:
            _s3_clients[self.options] = make_client(self.options)
        return _s3_clients[self.options]

    def _keys(self, prefix: str) -> Iterator[str]:
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(prefix) :]
        except Exception as error:  # no bucket, no credentials, no network: say which
            raise SourceError(f"s3://{self.bucket}/{prefix}: cannot list: {error}") from error

    def originals(self) -> Iterator[str]:
        prefix = f"{self.root}{ORIGINAL_PREFIX}"
        for rest in self._keys(prefix + self.only):
            name = name_of(ORIGINAL_PREFIX + self.only + rest)
            if name is not None:
                yield name

    def thumbnails(self, size: int) -> set[str]:
        return set(self._keys(f"{self.root}{THUMB_PREFIX}{size}/"))

    def read(self, name: str) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=f"{self.root}original/{name}")
        with response["Body"] as body:
            return bytes(body.read())

    def write(self, size: int, name: str, data: bytes, content_type: str) -> None:
        # No ACL: private buckets, and stores that refuse ACLs, both work.
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.root + thumb_key(size, name),
            Body=data,
            ContentType=content_type,
            CacheControl=THUMB_CACHE_CONTROL,
        )

    def avatar_originals(self) -> Iterator[str]:
        if self.only:  # a part of original/ was asked for, not the avatars
            return
        for rest in self._keys(f"{self.root}{AVATAR_ORIGINAL_PREFIX}"):
            if "/" not in rest and not rest.startswith("."):
                yield rest

    def avatar_sizes(self, size: int) -> set[str]:
        return set(self._keys(f"{self.root}{AVATAR_PREFIX}{size}/"))

    def read_avatar(self, name: str) -> bytes:
        key = f"{self.root}{AVATAR_ORIGINAL_PREFIX}{name}"
        response = self.client.get_object(Bucket=self.bucket, Key=key)
        with response["Body"] as body:
            return bytes(body.read())

    def write_avatar(self, size: int, name: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.root + avatar_key(size, name),
            Body=data,
            ContentType=content_type,
            CacheControl=THUMB_CACHE_CONTROL,
        )


class SourceError(ValueError):
    """SOURCE names nothing we can work on."""


def open_store(source: str, options: S3Options) -> Store:
    """``s3://bucket[/root]``, a local folder holding ``original/`` (or a data dir holding
    ``images/original/``), or any other folder, taken as a plain folder of pictures."""
    if source.startswith("s3://"):
        bucket, _, path = source[len("s3://") :].partition("/")
        if not bucket:
            raise SourceError(f"{source!r}: no bucket; use s3://bucket or s3://bucket/root")
        root, marker, only = path.partition(ORIGINAL_PREFIX)
        if not marker:
            root, only = path, ""
            if root and not root.endswith("/"):
                root += "/"
        if root and (root.startswith("/") or not root.endswith("/")):
            raise SourceError(f"{source!r}: the root must be a prefix like s3://bucket/sns/")
        return S3Store(bucket, root, only, options)
    folder = Path(source)

    def holds_pictures(place: Path) -> bool:
        return (place / "original").is_dir() or (place / "avatar" / "original").is_dir()

    if not holds_pictures(folder) and holds_pictures(folder / "images"):
        folder = folder / "images"  # the data dir was given
    if not holds_pictures(folder):
        if not folder.is_dir():
            raise SourceError(f"{source}: no such folder")
        return LocalStore(folder, plain=True)
    return LocalStore(folder)


@dataclass(frozen=True)
class Job:
    name: str
    sizes: tuple[int, ...]
    avatar: bool = False


@dataclass(frozen=True)
class Outcome:
    name: str
    made: int
    reason: str = ""
    message: str = ""
    avatar: bool = False

    @property
    def key(self) -> str:
        return (AVATAR_ORIGINAL_PREFIX if self.avatar else ORIGINAL_PREFIX) + self.name


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: list[Outcome] = field(default_factory=list)
    thumbnails: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"done {self.done}, skipped {self.skipped}, failed {len(self.failed)}; "
            f"{self.thumbnails} thumbnails in {self.seconds:.1f} s, "
            f"{self.per_second:.1f} images per second"
        )


_worker_store: Store | None = None
_worker_max_pixels = core.DEFAULT_MAX_PIXELS


def _start_worker(store: Store, max_pixels: int) -> None:
    global _worker_store, _worker_max_pixels
    _worker_store, _worker_max_pixels = store, max_pixels


def make_job(job: Job) -> Outcome:
    """In a worker: read one original, write its missing thumbnails."""
    store = _worker_store
    assert store is not None, "the worker was not started with a store"
    try:
        if job.avatar:
            return make_avatar_job(store, job)
        data = store.read(job.name)
        extension, _, _ = core.inspect(data, _worker_max_pixels)
        thumbs = core.thumbnails(data, job.sizes, _worker_max_pixels)
        for size, encoded in thumbs.items():
            store.write(size, job.name, encoded, core.CONTENT_TYPES[extension])
    except ImageError as error:
        return Outcome(job.name, 0, error.reason, str(error), job.avatar)
    except Exception as error:  # one picture's trouble (I/O, S3) must not stop the run
        return Outcome(job.name, 0, type(error).__name__, str(error), job.avatar)
    return Outcome(job.name, len(thumbs))


def make_avatar_job(store: Store, job: Job) -> Outcome:
    """In a worker: read one avatar original, write its missing avatar sizes."""
    data = store.read_avatar(job.name)
    extension, _, _ = core.inspect(data, _worker_max_pixels)
    made = avatars.sizes(data, _worker_max_pixels, job.sizes)
    for size, encoded in made.items():
        store.write_avatar(size, job.name, encoded, core.CONTENT_TYPES[extension])
    return Outcome(job.name, len(made), avatar=True)


def plan(store: Store, sizes: Iterable[int], force: bool) -> tuple[list[Job], int]:
    """The jobs (each original with the sizes it lacks) and how many need nothing."""
    wanted = tuple(sorted(set(sizes)))
    existing = {size: set() if force else store.thumbnails(size) for size in wanted}
    jobs, skipped = [], 0
    for name in sorted(store.originals()):
        missing = tuple(size for size in wanted if name not in existing[size])
        if missing:
            jobs.append(Job(name, missing))
        else:
            skipped += 1
    have = {size: set() if force else store.avatar_sizes(size) for size in AVATAR_SIZES}
    for name in sorted(store.avatar_originals()):
        missing = tuple(size for size in AVATAR_SIZES if name not in have[size])
        if missing:
            jobs.append(Job(name, missing, avatar=True))
        else:
            skipped += 1
    return jobs, skipped


def run(
    store: Store,
    sizes: Iterable[int],
    *,
    jobs: int,
    force: bool = False,
    max_pixels: int = core.DEFAULT_MAX_PIXELS,
    progress: bool | None = None,
) -> Summary:
    """Make every missing thumbnail with ``jobs`` worker processes; the counts.

    ``progress``: None shows the bar only on a terminal."""
    todo, skipped = plan(store, sizes, force)
    summary = Summary(skipped=skipped)
    started = time.perf_counter()
    if todo:
        # spawn, not fork: the caller may hold threads (a test's S3 server, a client's pool).
        context = multiprocessing.get_context("spawn")
        with (
            ProcessPoolExecutor(
                max_workers=max(1, jobs),
                mp_context=context,
                initializer=_start_worker,
                initargs=(store, max_pixels),
            ) as pool,
            tqdm(
                total=len(todo), unit="img", disable=None if progress is None else not progress
            ) as bar,
        ):
            for outcome in _bounded(pool, todo, window=max(1, jobs) * 4):
                if outcome.reason:
                    summary.failed.append(outcome)
                else:
                    summary.done += 1
                    summary.thumbnails += outcome.made
                bar.update()
    summary.seconds = time.perf_counter() - started
    return summary


def _bounded(pool: ProcessPoolExecutor, todo: list[Job], window: int) -> Iterator[Outcome]:
    """Submit at most ``window`` jobs ahead, so a bucket of millions costs little memory."""
    pending: set[Future[Outcome]] = set()
    queue = iter(todo)
    for job in queue:
        pending.add(pool.submit(make_job, job))
        if len(pending) >= window:
            break
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            yield future.result()
            following = next(queue, None)
            if following is not None:
                pending.add(pool.submit(make_job, following))


def report(summary: Summary, store: Store, out: Any = sys.stdout, err: Any = sys.stderr) -> int:
    """Print the failures and the summary; the exit status."""
    for outcome in summary.failed:
        label = outcome.key if outcome.avatar else store.label(outcome.name)
        print(f"failed: {label}: {outcome.message} ({outcome.reason})", file=err)
    print(f"{store.describe()}: {summary.line()}", file=out)
    return 1 if summary.failed else 0
