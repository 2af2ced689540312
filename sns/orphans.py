"""Objects no post or avatar uses (orphans), and their removal once older than
``SNS_ORPHAN_HOURS``.

Orphans are uploads never posted, leftovers of deleted or edited posts, of replaced or
removed avatars, and thumbnails of sizes no longer configured. ``python run.py images
usage|clean`` and the server's periodic sweep both go through ``OrphanSweep``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from sqlalchemy import delete, select

from resize.keys import name_of_key
from sns.async_sql import AsyncConnection
from sns.db import Database
from sns.image_stores import ImageStore
from sns.schema import post_pictures, uploads, users

log = logging.getLogger("sns.orphans")


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


async def names_in_use(conn: AsyncConnection, names: list[str]) -> set[str]:
    """Which of ``names`` a post's picture or a person's avatar is (an avatar's name is
    never an upload's: each is made new)."""
    pictures = select(post_pictures.c.name).where(post_pictures.c.name.in_(names))
    used = set((await conn.execute(pictures)).scalars())
    avatars = await conn.execute(select(users.c.avatar).where(users.c.avatar.in_(names)))
    used.update(avatars.scalars())
    return used


class OrphanSweep:
    """Lists an image store against the posts and uploads, and removes what nothing uses."""

    def __init__(
        self, db: Database, store: ImageStore, *, orphan_age: timedelta = timedelta(hours=24)
    ) -> None:
        self.db = db
        self.store = store
        self.orphan_age = orphan_age

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
                used.update(await names_in_use(conn, chunk))
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
            if item.key.startswith(("original/", "avatar/original/")):
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
                keep.update(await names_in_use(conn, chunk))
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
