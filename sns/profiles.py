"""A person's face and words: the avatar, the bio, and the face drawn for those without one.

An avatar goes through the checks of every upload (``ImageService.checked``: size, the
account's hourly limits, formats, pixels), is cut to its centred square
(``resize.avatars.square``) and stored as ``avatar/original/<name>``; its sizes
(``resize.keys.AVATAR_SIZES``) are ``avatar/<size>/<name>``, made in the picture pool before
the avatar is shown (``inline``), or by the Lambda on the S3 event (``lambda``), which this
process then watches for. ``users.avatar_ready`` says the sizes exist: until then pages show
the original square, so that no page ever asks for a size that is not there.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select, update

from resize.errors import ImageError
from resize.keys import AVATAR_SIZES, avatar_key, avatar_original_key
from sns import picture_jobs, text
from sns.async_sql import AsyncConnection
from sns.db import Database
from sns.errors import Invalid
from sns.images import ImageRefused, ImageService, new_name
from sns.schema import users

log = logging.getLogger("sns.profiles")

BIO_MAX_CHARS = 160
SMALL, LARGE = AVATAR_SIZES[0], AVATAR_SIZES[-1]

FACE_COLOURS = (
    "#8e3b46",
    "#a23b72",
    "#6a3d9a",
    "#3f4b9c",
    "#1f5f8b",
    "#0f6b6b",
    "#2e6b30",
    "#5b6517",
    "#7a5417",
    "#8a4319",
    "#5c4a3d",
    "#48586b",
)
"""Backgrounds of generated faces: white initials on each have a contrast of at least 4.5:1
(WCAG AA; ``tests/test_profiles_http.py`` checks it)."""


@dataclass(frozen=True)
class Face:
    """A generated avatar: initials on a colour drawn from the user id."""

    initials: str
    colour: str


def initials(nick: str) -> str:
    """The letters a generated face shows: a Korean (or other CJK) nick's first syllable;
    else the first letters of its first two words, upper case ("Ada Lovelace" -> "AL")."""
    words = [word for word in unicodedata.normalize("NFC", nick).split() if word]
    if not words:
        return "?"
    first = _first_letter(words[0])
    if _is_wide(first) or len(words) == 1:
        return first.upper()
    second = _first_letter(words[1])
    return (first + ("" if _is_wide(second) else second)).upper()


def _first_letter(word: str) -> str:
    for character in word:
        if character.isalnum():
            return character
    return word[0]


def _is_wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in ("W", "F")


def face(user_id: int, nick: str) -> Face:
    """The generated face of a person: the same for the same id on every page and process
    (a multiplicative hash, not ``hash()``, which differs between processes)."""
    index = (user_id * 2654435761 & 0xFFFFFFFF) % len(FACE_COLOURS)
    return Face(initials(nick), FACE_COLOURS[index])


def clean_bio(bio: str) -> str | None:
    """A bio as stored: NFC, ``\\r\\n`` as ``\\n``, trimmed, at most 160 code points; empty
    means none."""
    bio = unicodedata.normalize("NFC", bio.replace("\r\n", "\n")).strip()
    if not bio:
        return None
    if len(bio) > BIO_MAX_CHARS:
        raise Invalid(
            "A bio is at most {max} characters; this one has {count}.",
            field="bio",
            max=BIO_MAX_CHARS,
            count=len(bio),
        )
    if text.has_control_chars(bio) or not text.is_unicode_text(bio):
        raise Invalid("The bio contains control characters.", field="bio")
    if text.has_bidi_controls(bio):
        raise Invalid("The bio cannot contain text-direction controls.", field="bio")
    return bio


def avatar_keys(name: str) -> list[str]:
    """Every object of an avatar: its original and each size."""
    return [avatar_original_key(name), *(avatar_key(size, name) for size in AVATAR_SIZES)]


class ProfileService:
    """Avatars and bios; the avatar's pictures through the ``ImageService`` and its pool."""

    def __init__(
        self, db: Database, images: ImageService, *, wait: float = 300.0, poll: float = 1.0
    ) -> None:
        self.db = db
        self.images = images
        self.wait = wait
        """How long (seconds) a process watches for the Lambda's sizes of a new avatar."""
        self.poll = poll
        self._watching: set[asyncio.Task[None]] = set()

    def url(self, name: str, ready: bool, size: int = SMALL) -> str:
        """The URL of an avatar of ``size``, or of its original square until the sizes exist."""
        if not ready:
            return self.images.url(avatar_original_key(name))
        return self.images.url(avatar_key(size, name))

    async def set_bio(self, user_id: int, bio: str) -> str | None:
        cleaned = clean_bio(bio)
        async with self.db.transaction() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(bio=cleaned))
        return cleaned

    async def set_avatar(self, user_id: int, data: bytes) -> str:
        """Check, square and store a new avatar, make its sizes (inline), show it, and remove
        the one it replaces; the new avatar's name."""
        square = await self.images.checked(user_id, data, picture_jobs.avatar_square)
        name = new_name(square.extension)
        await self.images.store.put(avatar_original_key(name), square.data)
        ready = False
        if self.images.inline_resize:
            ready = await self._make_sizes(name, square.data)
        old = await self._swap(user_id, name, ready)
        await self.discard(old)
        if not ready and not self.images.inline_resize:
            task = asyncio.ensure_future(self._watch_for_sizes(name))
            self._watching.add(task)
            task.add_done_callback(self._watching.discard)
        return name

    async def _make_sizes(self, name: str, square: bytes) -> bool:
        """The avatar's sizes, made in the pool and stored; False (the original is shown)
        when the picture's own trouble stopped them."""
        try:
            made: dict[int, bytes] = await self.images.in_pool(
                picture_jobs.avatar_sizes, square, self.images.max_pixels
            )
            await asyncio.gather(
                *(
                    self.images.store.put(avatar_key(size, name), data)
                    for size, data in made.items()
                )
            )
        except (ImageError, ImageRefused) as exc:
            log.warning("no avatar sizes of %s (%s); pages show the original", name, exc)
            return False
        return set(made) == set(AVATAR_SIZES)

    async def _swap(self, user_id: int, name: str | None, ready: bool) -> str | None:
        """Put ``name`` in place of the account's avatar; the name it replaced."""
        replaced: list[str | None] = [None]

        async def work(conn: AsyncConnection) -> None:
            replaced[0] = (
                await conn.execute(
                    select(users.c.avatar).where(users.c.id == user_id).with_for_update()
                )
            ).scalar()
            await conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(avatar=name, avatar_ready=ready and name is not None)
            )

        await self.db.write(work)
        return replaced[0]

    async def remove_avatar(self, user_id: int) -> None:
        """Back to the generated face; the avatar's objects leave the store."""
        await self.discard(await self._swap(user_id, None, False))

    async def remove_all_of(self, user_id: int) -> None:
        """A deleted account's avatar leaves the store too (``remove_avatar`` by another name,
        for the account's deletion to read plainly)."""
        await self.remove_avatar(user_id)

    async def discard(self, name: str | None) -> None:
        """After the transaction: remove an avatar's objects. A failure leaves orphans, which
        the sweep removes."""
        if not name:
            return
        try:
            await self.images.store.delete(avatar_keys(name))
        except Exception:
            log.exception("could not remove the objects of avatar %s; the sweep will", name)

    async def _watch_for_sizes(self, name: str) -> None:
        """``lambda`` mode: look for the sizes the trigger makes, and mark the avatar ready
        once all exist (pages then ask for them); give up after ``wait`` seconds, leaving
        the original shown."""
        deadline = time.monotonic() + self.wait
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(self.poll)
                found = await asyncio.gather(
                    *(self.images.store.get(avatar_key(size, name)) for size in AVATAR_SIZES)
                )
                if all(data is not None for data in found):
                    async with self.db.transaction() as conn:
                        await conn.execute(
                            update(users).where(users.c.avatar == name).values(avatar_ready=True)
                        )
                    return
            log.warning("the sizes of avatar %s did not appear; pages show the original", name)
        except Exception:
            log.exception("watching for the sizes of avatar %s failed", name)

    async def close(self) -> None:
        for task in list(self._watching):
            task.cancel()
        if self._watching:
            await asyncio.wait(list(self._watching), timeout=5)
