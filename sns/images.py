"""Pictures: where they are kept, who may use them, and what is left over.

A picture is known by its *name*, ``<time>_<random>.<ext>``, made here and never from the
client's file name. Its objects are ``original/<name>`` and ``thumb/<size>/<name>`` in an
image store: a folder in the data dir (the embedded default) or an S3 bucket. A post
carries at most one name (``posts.img``, unique), and only one its own author uploaded
(``uploads``). Objects that no post uses are orphans: removed once they are older than
``SNS_ORPHAN_HOURS``, by ``python run.py images clean`` or the server's periodic sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from resize import core
from resize.keys import KEY, NAME, name_of_key, original_key, thumb_key, write_atomically
from sns.db import Database, utcnow
from sns.errors import Invalid, ServiceError, TooManyRequests
from sns.ratelimit import MemoryRateLimiter, RateLimiter
from sns.schema import posts, uploads
from sns.workpool import JobTimeout, WorkerDied, WorkPool

log = logging.getLogger("sns.images")

CACHE_CONTROL = "public, max-age=31536000, immutable"


class ImageRefused(ServiceError):
    """An upload we do not take; ``reason`` is resize.core's code (empty, not_image, ...)."""

    status = 400

    def __init__(self, message: str, *, reason: str, status: int = 400, **values: Any) -> None:
        super().__init__(message, **values)
        self.reason = reason
        self.status = status


def new_name(extension: str) -> str:
    """``<UTC time>_<16 random url-safe characters>.<ext>``: sortable, unguessable."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return f"{stamp}_{secrets.token_urlsafe(12)}.{extension}"


def content_type(key: str) -> str:
    return core.CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: float
    """Seconds since the epoch."""


class ImageStore(Protocol):
    """Where the bytes are: a local folder or a bucket; keys are ``original/...``/``thumb/...``."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove the objects; keys that do not exist are no error."""

    def objects(self) -> AsyncIterator[StoredObject]:
        """Every object in the store, in no particular order."""

    async def close(self) -> None: ...


class LocalImageStore:
    """Files under one folder; each written to a temporary name, then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not KEY.fullmatch(key):
            raise ValueError(f"not an image key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(write_atomically, self._path(key), data)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(read)

    async def delete(self, keys: Iterable[str]) -> None:
        paths = [self._path(key) for key in keys]

        def remove() -> None:
            for path in paths:
                path.unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    async def objects(self) -> AsyncIterator[StoredObject]:
        def walk() -> list[StoredObject]:
            found = []
            for path in self.root.rglob("*"):
                key = path.relative_to(self.root).as_posix()
                if path.is_file() and KEY.fullmatch(key):
                    stat = path.stat()
                    found.append(StoredObject(key, stat.st_size, stat.st_mtime))
            return found

        for item in await asyncio.to_thread(walk):
            yield item

    async def close(self) -> None:
        return None


class S3ImageStore:
    """A bucket on S3 or any S3-compatible store, through aiobotocore.

    No ACL header is ever sent (R2, B2 and MinIO refuse them; buckets stay private).
    Credentials come from the usual AWS chain (environment, profile, instance role).
    """

    def __init__(
        self, bucket: str, *, region: str = "", endpoint_url: str = "", path_style: bool = False
    ) -> None:
        self.bucket = bucket
        self.region = region or None
        self.endpoint_url = endpoint_url or None
        self.path_style = path_style
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
                    from aiobotocore.session import get_session  # type: ignore[import-untyped]

                    config = AioConfig(
                        s3={"addressing_style": "path" if self.path_style else "auto"},
                        connect_timeout=5,
                        read_timeout=30,
                        retries={"max_attempts": 3, "mode": "standard"},
                    )
                    self._client = await self._stack.enter_async_context(
                        get_session().create_client(
                            "s3",
                            region_name=self.region,
                            endpoint_url=self.endpoint_url,
                            config=config,
                        )
                    )
        return self._client

    async def put(self, key: str, data: bytes) -> None:
        s3 = await self._s3()
        await s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type(key),
            CacheControl=CACHE_CONTROL,
        )

    async def get(self, key: str) -> bytes | None:
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        async with answer["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, keys: Iterable[str]) -> None:
        s3 = await self._s3()
        batch = list(keys)
        for start in range(0, len(batch), 1000):
            objects = [{"Key": key} for key in batch[start : start + 1000]]
            await s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    async def objects(self) -> AsyncIterator[StoredObject]:
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        for prefix in ("original/", "thumb/"):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(
                        item["Key"], int(item["Size"]), item["LastModified"].timestamp()
                    )

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None


@dataclass
class Usage:
    """What the store holds, by kind; orphans are objects no post uses."""

    originals: int = 0
    original_bytes: int = 0
    thumbnails: int = 0
    thumbnail_bytes: int = 0
    orphans: int = 0
    orphan_bytes: int = 0
    removable: int = 0
    removable_bytes: int = 0
    other: int = 0
    other_bytes: int = 0
    removable_keys: list[str] = field(default_factory=list, repr=False)

    @property
    def objects(self) -> int:
        return self.originals + self.thumbnails + self.other

    @property
    def bytes(self) -> int:
        return self.original_bytes + self.thumbnail_bytes + self.other_bytes

    def as_dict(self) -> dict[str, int]:
        return {
            "objects": self.objects,
            "bytes": self.bytes,
            "originals": self.originals,
            "original_bytes": self.original_bytes,
            "thumbnails": self.thumbnails,
            "thumbnail_bytes": self.thumbnail_bytes,
            "orphans": self.orphans,
            "orphan_bytes": self.orphan_bytes,
            "removable": self.removable,
            "removable_bytes": self.removable_bytes,
        }


@dataclass(frozen=True)
class Uploaded:
    """An accepted upload: its name and the URLs a page or a client shows."""

    name: str
    url: str
    original_url: str
    width: int
    height: int


UPLOAD_WINDOW = 3600
"""Uploads per account are counted over an hour."""


class ImageService:
    """Uploads, their owners, their URLs, and the sweep of what no post uses."""

    def __init__(
        self,
        db: Database,
        store: ImageStore,
        *,
        sizes: tuple[int, ...],
        max_pixels: int,
        max_bytes: int,
        inline_resize: bool,
        public_url: str = "",
        orphan_age: timedelta = timedelta(hours=24),
        pool_size: int = 0,
        job_seconds: float = 30.0,
        limiter: RateLimiter | None = None,
        uploads_per_hour: int = 100,
        upload_bytes_per_hour: int = 200 * 2**20,
    ) -> None:
        self.db = db
        self.store = store
        self.sizes = tuple(sorted(sizes))
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.inline_resize = inline_resize
        self.public_url = public_url.rstrip("/")
        self.orphan_age = orphan_age
        self._pool_size = pool_size or min(2, os.cpu_count() or 1)
        self.job_seconds = job_seconds
        self._pool: WorkPool | None = None
        self.limiter: RateLimiter = limiter or MemoryRateLimiter()
        self.uploads_per_hour = uploads_per_hour
        self.upload_bytes_per_hour = upload_bytes_per_hour
        self._background: set[asyncio.Task[None]] = set()

    @property
    def small(self) -> int:
        return self.sizes[0]

    @property
    def large(self) -> int:
        return self.sizes[-1]

    def url(self, key: str) -> str:
        if self.public_url:
            return f"{self.public_url}/{key}"
        return f"/img/{key}"

    def thumb_url(self, name: str, size: int | None = None) -> str:
        return self.url(thumb_key(size or self.small, name))

    def original_url(self, name: str) -> str:
        return self.url(original_key(name))

    def urls(self, name: str | None) -> tuple[str | None, str | None]:
        """(small thumbnail URL, original URL) of a post's picture, or (None, None)."""
        if not name:
            return None, None
        return self.thumb_url(name), self.original_url(name)

    @property
    def origin(self) -> str | None:
        """The origin pictures come from when it is not this site (for the CSP)."""
        if not self.public_url:
            return None
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def _workers(self) -> WorkPool:
        if self._pool is None:
            self._pool = WorkPool(self._pool_size, self.job_seconds, preload=["resize.core"])
        return self._pool

    async def _in_pool(self, function: Any, *args: Any) -> Any:
        """Run in the process pool, within the job time limit: past it, or when the worker
        dies under the picture (out of memory), the picture is refused (413)."""
        try:
            return await self._workers().run(function, *args)
        except JobTimeout:
            raise ImageRefused(
                "The picture took too long to process (over {seconds:g} s). "
                "Try a smaller one, or one with fewer frames.",
                reason="too_slow",
                status=413,
                seconds=self.job_seconds,
            ) from None
        except WorkerDied:
            log.warning("an image worker died under a picture; a new one takes its place")
            raise ImageRefused(
                "The picture is too large to process. Try a smaller one.",
                reason="too_heavy",
                status=413,
            ) from None

    def _upload_keys(self, user_id: int) -> tuple[str, str]:
        return f"upload:count:{user_id}", f"upload:bytes:{user_id}"

    def _over_count(self, reset_in: int) -> TooManyRequests:
        return TooManyRequests(
            "At most {limit} pictures an hour may be uploaded. Try again in {minutes} min.",
            retry_after=max(1, reset_in),
            minutes=_minutes(reset_in),
            limit=self.uploads_per_hour,
        )

    def _over_bytes(self, reset_in: int) -> TooManyRequests:
        return TooManyRequests(
            "At most {limit} MiB of pictures an hour may be uploaded. Try again in {minutes} min.",
            retry_after=max(1, reset_in),
            minutes=_minutes(reset_in),
            limit=round(self.upload_bytes_per_hour / 2**20, 1),
        )

    async def check_upload_budget(self, user_id: int) -> None:
        """Before an upload's body is read: an account already at one of its hourly limits
        is refused at once (``upload`` takes the place itself, atomically)."""
        count_key, bytes_key = self._upload_keys(user_id)
        count = await self.limiter.peek(count_key)
        if count.hits >= self.uploads_per_hour:
            raise self._over_count(count.reset_in)
        volume = await self.limiter.peek(bytes_key)
        if volume.hits >= self.upload_bytes_per_hour:
            raise self._over_bytes(volume.reset_in)

    async def _take_upload_budget(self, user_id: int, size: int) -> None:
        """One upload and its bytes under the account's hourly limits, counted now (a
        picture never posted counts too), or ``TooManyRequests`` and nothing counted."""
        count_key, bytes_key = self._upload_keys(user_id)
        taken = await self.limiter.reserve(count_key, self.uploads_per_hour, UPLOAD_WINDOW)
        if not taken.granted:
            raise self._over_count(taken.count.reset_in)
        volume = await self.limiter.reserve(
            bytes_key, self.upload_bytes_per_hour, UPLOAD_WINDOW, amount=size
        )
        if not volume.granted:
            await self.limiter.release(count_key)
            raise self._over_bytes(volume.count.reset_in)

    async def upload(self, user_id: int, data: bytes) -> Uploaded:
        """Check and clean a picture, store its original, and record who uploaded it.

        Thumbnails follow off the request path: in this process's pool (``inline``) or by
        the S3 trigger (``lambda``); pages fall back to the original until they exist.
        """
        if len(data) > self.max_bytes:
            raise ImageRefused(
                "The picture is larger than {limit} MiB.",
                reason="too_large",
                status=413,
                limit=round(self.max_bytes / 2**20, 1),
            )
        await self._take_upload_budget(user_id, len(data))
        try:
            cleaned: core.Cleaned = await self._in_pool(core.clean, data, self.max_pixels)
        except core.ImageError as exc:
            raise ImageRefused(
                _MESSAGES.get(exc.reason, "The picture cannot be read."),
                reason=exc.reason,
                **{"max_pixels": self.max_pixels, "max_frames": core.MAX_FRAMES, **exc.values},
            ) from None
        name = new_name(cleaned.extension)
        await self.store.put(original_key(name), cleaned.data)
        async with self.db.transaction() as conn:
            await conn.execute(
                insert(uploads).values(
                    name=name, user_id=user_id, bytes=len(cleaned.data), created_at=utcnow()
                )
            )
        if self.inline_resize:
            self._spawn(self._make_thumbnails(name, cleaned.data))
        return Uploaded(
            name=name,
            url=self.thumb_url(name),
            original_url=self.original_url(name),
            width=cleaned.width,
            height=cleaned.height,
        )

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _make_thumbnails(self, name: str, original: bytes) -> None:
        try:
            made: dict[int, bytes] = await self._in_pool(
                core.thumbnails, original, self.sizes, self.max_pixels
            )
            await asyncio.gather(
                *(self.store.put(thumb_key(size, name), data) for size, data in made.items())
            )
        except (core.ImageError, ImageRefused) as exc:
            # The picture's own trouble (damaged, too slow): no traceback, no crash.
            log.warning("no thumbnails of %s (%s); pages show the original", name, exc)
        except Exception:
            log.exception("thumbnails of %s failed; pages show the original", name)

    async def settle(self, wait: float = 10.0) -> None:
        """Wait (bounded) for thumbnails still being made, e.g. before the process stops."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=wait)

    def name_from_reference(self, reference: str) -> str | None:
        """The picture name in what a form sent back (a URL ``/post/img`` returned, or the
        bare name); '' means no picture. Anything else, an outside URL included, is refused."""
        reference = reference.strip()
        if not reference:
            return None
        path = reference
        if self.public_url and reference.startswith(self.public_url + "/"):
            path = reference[len(self.public_url) + 1 :]
        elif reference.startswith("/img/"):
            path = reference[len("/img/") :]
        name = name_of_key(path) if "/" in path else path
        if name is None or not NAME.fullmatch(name):
            raise Invalid("Attach a picture uploaded here.", field="url")
        return name

    async def claim(self, conn: AsyncConnection, user_id: int, name: str) -> None:
        """Inside a post's transaction: ``name`` must be this user's upload."""
        owner = (
            await conn.execute(
                select(uploads.c.user_id).where(uploads.c.name == name).with_for_update()
            )
        ).scalar()
        if owner != user_id:
            raise Invalid("Attach a picture uploaded here.", field="url")

    async def forget(self, conn: AsyncConnection, name: str) -> None:
        """Inside a transaction: the picture is leaving its post and goes with it."""
        await conn.execute(delete(uploads).where(uploads.c.name == name))

    def keys_of(self, name: str) -> list[str]:
        return [original_key(name), *(thumb_key(size, name) for size in self.sizes)]

    async def discard(self, name: str | None) -> None:
        """After the transaction: remove a picture's objects. A failure leaves orphans,
        which the sweep removes; the post's change stands."""
        if not name:
            return
        try:
            await self.store.delete(self.keys_of(name))
        except Exception:
            log.exception("could not remove the objects of %s; the sweep will", name)

    async def remove_all_of(self, user_id: int) -> int:
        """A deleted account's pictures leave the store: its hidden posts keep their text,
        but a picture link someone kept must stop working. Returns how many went."""
        names: list[str] = []

        async def work(conn: AsyncConnection) -> None:
            names.clear()
            posted = await conn.execute(
                select(posts.c.img).where(posts.c.user_id == user_id, posts.c.img.is_not(None))
            )
            pending = await conn.execute(select(uploads.c.name).where(uploads.c.user_id == user_id))
            names.extend({*posted.scalars(), *pending.scalars()})
            await conn.execute(
                update(posts)
                .where(posts.c.user_id == user_id, posts.c.img.is_not(None))
                .values(img=None)
            )
            await conn.execute(delete(uploads).where(uploads.c.user_id == user_id))

        await self.db.write(work)
        for name in names:
            await self.discard(name)
        return len(names)

    async def usage(self, now: float | None = None) -> Usage:
        """List the store and sort every object: original, thumbnail, orphan, removable."""
        now = time.time() if now is None else now
        age = self.orphan_age.total_seconds()
        listed = [item async for item in self.store.objects()]
        names = {name for item in listed if (name := name_of_key(item.key))}
        used: set[str] = set()
        uploaded_at: dict[str, float] = {}
        batch = sorted(names)
        async with self.db.read() as conn:
            for start in range(0, len(batch), 500):
                chunk = batch[start : start + 500]
                used.update(
                    (
                        await conn.execute(select(posts.c.img).where(posts.c.img.in_(chunk)))
                    ).scalars()
                )
                rows = await conn.execute(
                    select(uploads.c.name, uploads.c.created_at).where(uploads.c.name.in_(chunk))
                )
                for name, created_at in rows:
                    uploaded_at[name] = created_at.replace(tzinfo=UTC).timestamp()
        usage = Usage()
        for item in listed:
            name = name_of_key(item.key)
            if name is None:
                usage.other += 1
                usage.other_bytes += item.size
                continue
            if item.key.startswith("original/"):
                usage.originals += 1
                usage.original_bytes += item.size
            else:
                usage.thumbnails += 1
                usage.thumbnail_bytes += item.size
            if name in used:
                continue
            usage.orphans += 1
            usage.orphan_bytes += item.size
            # The upload's own time when we have it; else the object's (a leftover).
            if now - uploaded_at.get(name, item.modified) > age:
                usage.removable += 1
                usage.removable_bytes += item.size
                usage.removable_keys.append(item.key)
        return usage

    async def clean(self, *, dry_run: bool = False) -> Usage:
        """Remove orphans older than the orphan age (uploads never posted, leftovers of
        deleted posts, thumbnails of sizes no longer configured)."""
        usage = await self.usage()
        if dry_run or not usage.removable_keys:
            return usage
        names = sorted({n for key in usage.removable_keys if (n := name_of_key(key))})
        keep: set[str] = set()

        async def work(conn: AsyncConnection) -> None:
            keep.clear()
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                # Lock the upload rows, then look again: a post made since the listing
                # keeps its picture.
                await conn.execute(
                    select(uploads.c.name).where(uploads.c.name.in_(chunk)).with_for_update()
                )
                keep.update(
                    (
                        await conn.execute(select(posts.c.img).where(posts.c.img.in_(chunk)))
                    ).scalars()
                )
                gone = [name for name in chunk if name not in keep]
                if gone:
                    await conn.execute(delete(uploads).where(uploads.c.name.in_(gone)))

        await self.db.write(work)
        doomed = [key for key in usage.removable_keys if name_of_key(key) not in keep]
        await self.store.delete(doomed)
        return usage

    async def sweep_forever(self, interval: float = 3600.0) -> None:
        """The server's periodic clean; errors are logged, never fatal."""
        while True:
            await asyncio.sleep(interval)
            try:
                usage = await self.clean()
                if usage.removable:
                    log.info(
                        "removed %d orphan objects (%d bytes)",
                        usage.removable,
                        usage.removable_bytes,
                    )
            except Exception:
                log.exception("the orphan sweep failed; it runs again in %s s", interval)

    async def close(self) -> None:
        await self.settle()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        await self.store.close()


_MESSAGES = {
    "empty": "The file is empty.",
    "not_image": "This is not a JPEG, PNG, GIF or WebP picture.",
    "corrupt": "The picture is damaged or cut short.",
    "too_many_pixels": "The picture has too many pixels (at most {max_pixels:,}).",
    "animation_too_large": "The animation has {frames} frames of {width}x{height} pixels, "
    "{pixels:,} in all; at most {max_pixels:,} pixels (and {max_frames} frames) are allowed.",
}


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


def build_image_service(
    settings: Any, db: Database, limiter: RateLimiter | None = None
) -> ImageService:
    """The configured store (S3 when a bucket is set, else ``<data dir>/images``)."""
    store: ImageStore
    if settings.s3_bucket:
        store = S3ImageStore(
            settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            path_style=settings.s3_path_style,
        )
    else:
        store = LocalImageStore(settings.data_dir / "images")
    return ImageService(
        db,
        store,
        sizes=settings.thumb_sizes,
        max_pixels=settings.image_max_pixels,
        max_bytes=settings.image_max_bytes,
        inline_resize=settings.resize == "inline",
        public_url=settings.s3_public_url if settings.s3_bucket else "",
        orphan_age=timedelta(hours=settings.orphan_hours),
        job_seconds=settings.image_job_seconds,
        limiter=limiter,
        uploads_per_hour=settings.uploads_per_hour,
        upload_bytes_per_hour=settings.upload_bytes_per_hour,
    )
