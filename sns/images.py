"""Pictures: uploads, who may use them, their URLs, and the pool that cleans them.

A picture is known by its *name*, ``<time>_<random>.<ext>``, made here and never from the
client's file name. Its objects are ``original/<name>`` and ``thumb/<size>/<name>``
(``resize.keys``) in an image store (``sns.image_stores``). A post carries up to four
names (``post_pictures``, each name in one post), only ones its own author uploaded
(``uploads``, which also keeps each picture's size, placeholder and whether its thumbnails
exist yet). Objects that no post uses are orphans, for ``sns.orphans`` to remove. How many
an account may upload, and the words of a refusal, are ``sns.upload_limits``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update

from resize import sizes as picture_sizes
from resize.errors import ImageError
from resize.keys import NAME, name_of_key, original_key, thumb_key
from sns import picture_jobs
from sns.async_sql import AsyncConnection
from sns.db import Database, utcnow
from sns.errors import Invalid
from sns.image_stores import ImageStore
from sns.metrics import Metrics
from sns.pictures import Picture
from sns.ratelimit import MemoryRateLimiter, RateLimiter
from sns.schema import post_pictures, posts, uploads
from sns.upload_limits import ImageRefused as ImageRefused  # where its users import it
from sns.upload_limits import UploadBudget, refusal, too_large
from sns.workpool import JobTimeout, WorkerDied, WorkPool

log = logging.getLogger("sns.images")


def new_name(extension: str) -> str:
    """``<UTC time>_<16 random url-safe characters>.<ext>``: sortable, unguessable."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return f"{stamp}_{secrets.token_urlsafe(12)}.{extension}"


@dataclass(frozen=True)
class Uploaded:
    """An accepted upload: its name and the URLs a page or a client shows."""

    name: str
    url: str
    original_url: str
    width: int
    height: int
    placeholder: str = ""


class ImageService:
    """Uploads, their owners and their URLs; thumbnails made in a process pool."""

    def __init__(
        self,
        db: Database,
        store: ImageStore,
        *,
        sizes: tuple[int, ...],
        max_pixels: int,
        max_bytes: int,
        inline_resize: bool,
        max_side: int = picture_sizes.DEFAULT_MAX_SIDE,
        public_url: str = "",
        pool_size: int = 0,
        job_seconds: float = 30.0,
        limiter: RateLimiter | None = None,
        uploads_per_hour: int = 100,
        upload_bytes_per_hour: int = 200 * 2**20,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.sizes = tuple(sorted(sizes))
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.max_side = max_side
        self.inline_resize = inline_resize
        self.public_url = public_url.rstrip("/")
        self._pool_size = pool_size or min(2, os.cpu_count() or 1)
        self.job_seconds = job_seconds
        self._pool: WorkPool | None = None
        self.budget = UploadBudget(
            limiter or MemoryRateLimiter(), uploads_per_hour, upload_bytes_per_hour
        )
        self._background: set[asyncio.Task[None]] = set()
        self.metrics = metrics or Metrics()
        self._looked_at: dict[str, float] = {}
        self._watching: set[asyncio.Task[None]] = set()

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
            self._pool = WorkPool(
                self._pool_size,
                self.job_seconds,
                preload=picture_jobs.PRELOAD,
                metrics=self.metrics,
            )
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

    async def check_upload_budget(self, user_id: int) -> None:
        """Before an upload's body is read: an account already at one of its hourly limits
        is refused at once (``checked`` takes the place itself, atomically)."""
        await self.budget.check(user_id)

    def too_large(self) -> ImageRefused:
        """The refusal of an upload over ``max_bytes`` (413), naming the limit in MiB."""
        return too_large(self.max_bytes)

    async def upload(self, user_id: int, data: bytes) -> Uploaded:
        """Check and clean a picture, store its original, and record who uploaded it.

        Thumbnails follow off the request path: in this process's pool (``inline``) or by
        the S3 trigger (``lambda``); pages fall back to the original until they exist.
        """
        cleaned, hashed = await self.checked(user_id, data, picture_jobs.clean_with_placeholder)
        name = new_name(cleaned.extension)
        await self.store.put(original_key(name), cleaned.data)
        async with self.db.transaction() as conn:
            await conn.execute(
                insert(uploads).values(
                    name=name,
                    user_id=user_id,
                    bytes=len(cleaned.data),
                    created_at=utcnow(),
                    width=cleaned.width,
                    height=cleaned.height,
                    placeholder=hashed,
                )
            )
        if self.inline_resize:
            self._spawn(self._make_thumbnails(name, cleaned.data))
        else:
            self._spawn(self._watch_thumbnails(name), watch=True)
        return Uploaded(
            name=name,
            url=self.thumb_url(name),
            original_url=self.original_url(name),
            width=cleaned.width,
            height=cleaned.height,
            placeholder=hashed,
        )

    async def checked(self, user_id: int, data: bytes, clean: Callable[..., Any]) -> Any:
        """The checks of every upload, post picture or avatar: its size, the account's hourly
        limits, then ``clean`` (a job of ``sns.picture_jobs``: a post picture's or an
        avatar's) in the pool, whose refusals become ``ImageRefused``
        with a message for people; what ``clean`` returns."""
        if len(data) > self.max_bytes:
            raise self.too_large()
        await self.budget.take(user_id, len(data))
        try:
            cleaned = await self._in_pool(
                functools.partial(clean, max_side=self.max_side), data, self.max_pixels
            )
        except ImageError as exc:
            raise refusal(exc, max_pixels=self.max_pixels, max_side=self.max_side) from None
        return cleaned

    async def in_pool(self, function: Any, *args: Any) -> Any:
        """A job in the picture pool for another service (avatars), with the same time limit
        and refusals as the uploads' own."""
        return await self._in_pool(function, *args)

    def _spawn(self, work: Any, *, watch: bool = False) -> None:
        """Run ``work`` off the request path; ``watch``: a look that stopping may cut short
        (``settle`` waits only for thumbnails being made)."""
        tasks = self._watching if watch else self._background
        task = asyncio.ensure_future(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _make_thumbnails(self, name: str, original: bytes) -> None:
        try:
            made: dict[int, bytes] = await self._in_pool(
                picture_jobs.thumbnails, original, self.sizes, self.max_pixels
            )
            await asyncio.gather(
                *(self.store.put(thumb_key(size, name), data) for size, data in made.items())
            )
            await self._mark_thumbnails(name)
        except (ImageError, ImageRefused) as exc:
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

    async def claim(self, conn: AsyncConnection, user_id: int, name: str) -> Picture:
        """Inside a post's transaction: ``name`` must be this user's upload; its size and
        placeholder come back for the post to keep."""
        row = (
            await conn.execute(
                select(
                    uploads.c.user_id,
                    uploads.c.width,
                    uploads.c.height,
                    uploads.c.placeholder,
                    uploads.c.thumbnails,
                )
                .where(uploads.c.name == name)
                .with_for_update()
            )
        ).first()
        if row is None or row.user_id != user_id:
            raise Invalid("Attach a picture uploaded here.", field="url")
        return Picture(
            name=name,
            width=row.width,
            height=row.height,
            placeholder=row.placeholder,
            thumbnails=bool(row.thumbnails),
        )

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
            theirs = select(posts.c.id).where(posts.c.user_id == user_id)
            posted = await conn.execute(
                select(post_pictures.c.name).where(post_pictures.c.post_id.in_(theirs))
            )
            pending = await conn.execute(select(uploads.c.name).where(uploads.c.user_id == user_id))
            names.extend({*posted.scalars(), *pending.scalars()})
            await conn.execute(delete(post_pictures).where(post_pictures.c.post_id.in_(theirs)))
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

    async def _mark_thumbnails(self, name: str) -> None:
        """Every size of ``name`` exists: pages may ask for thumbnails from now on."""
        async with self.db.transaction() as conn:
            await conn.execute(
                update(uploads)
                .where(uploads.c.name == name, uploads.c.thumbnails == 0)
                .values(thumbnails=1)
            )

    async def _thumbnails_exist(self, name: str) -> bool:
        for size in self.sizes:
            if await self.store.get(thumb_key(size, name)) is None:
                return False
        return True

    async def _watch_thumbnails(self, name: str, wait: float = 60.0) -> None:
        """Lambda mode: look for the trigger's thumbnails for a while after an upload;
        a page that shows the picture later looks again (``look_again``)."""
        delay, waited = 0.25, 0.0
        try:
            while waited < wait:
                await asyncio.sleep(delay)
                waited += delay
                if await self._thumbnails_exist(name):
                    await self._mark_thumbnails(name)
                    return
                delay = min(delay * 2, 8.0)
        except Exception:
            log.exception("could not look for the thumbnails of %s", name)

    def look_again(self, pictures: Iterable[Picture], every: float = 30.0) -> None:
        """Pictures a page shows whose thumbnails are not known yet (Lambda mode, a
        restart during the pool's work) or whose size is unknown (posted before sizes
        were kept): find out off the request path, at most every ``every`` seconds."""
        now = time.monotonic()
        for picture in pictures:
            if picture.thumbnails and picture.width:
                continue
            if now - self._looked_at.get(picture.name, -every) < every:
                continue
            if len(self._looked_at) > 10_000:
                self._looked_at.clear()
            self._looked_at[picture.name] = now
            self._spawn(self._look(picture), watch=True)

    async def _look(self, picture: Picture) -> None:
        name = picture.name
        try:
            if not picture.width:
                data = await self.store.get(original_key(name))
                if data is not None:
                    width, height, hashed = await self._in_pool(picture_jobs.placeholder, data)
                    async with self.db.transaction() as conn:
                        sizes = {"width": width, "height": height, "placeholder": hashed}
                        await conn.execute(
                            update(uploads).where(uploads.c.name == name).values(**sizes)
                        )
                        await conn.execute(
                            update(post_pictures)
                            .where(post_pictures.c.name == name)
                            .values(**sizes)
                        )
            if not picture.thumbnails and await self._thumbnails_exist(name):
                await self._mark_thumbnails(name)
        except Exception as exc:
            log.warning("could not look at %s again (%s)", name, exc)

    async def close(self) -> None:
        await self.settle()
        for task in list(self._watching):
            task.cancel()  # a look still waiting: the next page after a start looks again
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        await self.store.close()


def build_image_service(
    settings: Any,
    db: Database,
    store: ImageStore,
    limiter: RateLimiter | None = None,
    metrics: Metrics | None = None,
) -> ImageService:
    """The image service the settings describe, over ``store``."""
    return ImageService(
        db,
        store,
        sizes=settings.thumb_sizes,
        max_pixels=settings.image_max_pixels,
        max_bytes=settings.image_max_bytes,
        max_side=settings.image_max_side,
        inline_resize=settings.resize == "inline",
        public_url=settings.s3_public_url if settings.s3_bucket else "",
        job_seconds=settings.image_job_seconds,
        limiter=limiter,
        uploads_per_hour=settings.uploads_per_hour,
        upload_bytes_per_hour=settings.upload_bytes_per_hour,
        metrics=metrics,
    )
