"""Posts drawn once and shown to every reader: the fragment cache (#22).

A timeline page is mostly its posts, and a post looks the same to everyone but for a few
places: the heart (liked or not), the buttons beside it (the author's own edit and delete,
or a follow button and the block and mute menu), the report links of comments (not on
one's own), the XSRF token and the page's own address in its forms, and its relative time
("3 minutes ago"). A post is drawn once with every variant of those places and kept as a
``Fragment``: the HTML cut at them. Each reader's page fills them in (``Fragment.fill``)
from what the page's own queries already say about that reader.

A fragment is kept under everything it is drawn from (``post_key``: the post's row, its
author's name, handle and face, the comments shown and their authors, the pictures, the
people its ``@`` names, the language, and whether the reader is logged in): a key that
changes whenever the drawing would, so no write needs to empty anything, and a write
elsewhere leaves it alone. What each reader may see (blocks, mutes, muted words,
moderators' hiding) is decided by the queries that choose the posts and their comments,
before a fragment is looked for; the fragment only says how a post looks.

Markers are random per process, made of letters, digits and ``-`` (which no escaping
changes), so nothing anyone writes can hold one; they never leave the process.
"""

from __future__ import annotations

import operator
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sns.post_views import PostView


def _marker(name: str) -> bytes:
    return f"sns-{name}-{secrets.token_hex(16)}-".encode()


SLOT = _marker("slot")
"""Where a reader's own part goes in a post being drawn, in the order they were drawn."""
TOKEN = _marker("token")
"""Where the reader's XSRF token goes, in a post being drawn."""
HERE = _marker("here")
"""Where the page's own address (the forms' ``next``) goes, in a post being drawn."""

# What decides each slot (``Slot.kind``).
LIKE = 0
"""The like form: variants (not liked, liked)."""
AUTHOR = 1
"""Beside the heart: variants (follow, unfollow, the author's own edit and delete)."""
NOT_MINE = 2
"""Something shown unless the reader is ``Slot.subject`` (a comment's report link, the
post's block, mute and report menu): variants (the reader's own, anyone else's)."""
TIME = 3
"""The relative time of ``Slot.subject`` (a datetime), in the reader's language."""


@dataclass(frozen=True, slots=True)
class Slot:
    """A place in a post that differs per reader, with every way it can look."""

    kind: int
    subject: object = None
    variants: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Fragment:
    """A post as drawn for every reader: ``parts`` around ``slots`` (one part more)."""

    parts: tuple[bytes, ...]
    slots: tuple[Slot, ...]
    size: int

    @classmethod
    def cut(cls, html: bytes, slots: Sequence[Slot]) -> Fragment:
        """Cut a drawn post at its ``SLOT`` markers, which stand for ``slots`` in order."""
        parts = tuple(html.split(SLOT))
        if len(parts) != len(slots) + 1:
            raise ValueError(f"{len(parts) - 1} slot markers for {len(slots)} slots")
        size = len(html) + sum(len(v) for slot in slots for v in slot.variants)
        return cls(parts, tuple(slots), size)

    def fill(
        self,
        out: list[bytes],
        viewer_id: int | None,
        post: PostView,
        when: Callable[[datetime], bytes],
    ) -> None:
        """Append the post as ``viewer_id`` sees it to ``out`` (its token and address
        still markers): their heart, their buttons, their report links, the time now."""
        parts = self.parts
        out.append(parts[0])
        for number, slot in enumerate(self.slots, 1):
            kind = slot.kind
            if kind == TIME:
                out.append(when(slot.subject))  # type: ignore[arg-type]
            elif kind == LIKE:
                out.append(slot.variants[post.liked])
            elif kind == AUTHOR:
                if viewer_id == post.author_id:
                    out.append(slot.variants[2])
                else:
                    out.append(slot.variants[post.author_followed])
            else:
                out.append(slot.variants[viewer_id != slot.subject])
            out.append(parts[number])


READER_FIELDS = frozenset({"liked", "author_followed", "mentions"})
"""What a ``PostView`` holds that is not the post as everyone sees it: the reader's
heart and follow (filled per reader) and the people named (keyed as items, below)."""


def _shared_fields() -> Callable[[PostView], tuple[object, ...]]:
    from sns.post_views import PostView

    names = [f.name for f in fields(PostView) if f.name not in READER_FIELDS]
    return operator.attrgetter(*names)


_shared: Callable[[PostView], tuple[object, ...]] | None = None


def post_key(post: PostView, *context: Hashable) -> tuple[object, ...]:
    """Everything a post's drawing depends on, besides the reader's own parts: every field
    of the post as everyone sees it (with its comments, their authors and its pictures),
    the people its ``@`` name, and ``context`` (language, logged in or not, the size of
    its pictures, the words a search marks)."""
    global _shared
    if _shared is None:
        _shared = _shared_fields()
    return (_shared(post), tuple(post.mentions.items()), context)


class FragmentCache:
    """Fragments by ``post_key``, least recently used out first, at most ``max_bytes`` of
    HTML (plus ``ENTRY_OVERHEAD`` an entry). Nothing in it goes stale: a change to a post
    makes a new key, and the old entry ages out."""

    ENTRY_OVERHEAD = 3072
    """Bytes an entry costs beyond its HTML: the key's tuples and the row's strings and
    dates it holds (measured with tracemalloc: 1.8 KB for a post with three comments), the
    fragment's and its slots' objects (1.1 KB for 15 slots), the dict's slot."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[Hashable, Fragment] = OrderedDict()
        self.used = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Fragment | None:
        if self.max_bytes <= 0:
            return None
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: Hashable, fragment: Fragment) -> None:
        size = fragment.size + self.ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.used -= old.size + self.ENTRY_OVERHEAD
        self.entries[key] = fragment
        self.used += size
        while self.used > self.max_bytes:
            _key, dropped = self.entries.popitem(last=False)
            self.used -= dropped.size + self.ENTRY_OVERHEAD


class RelativeTimes:
    """ "3 minutes ago" for a time and a language, worked out at most once a second: many
    readers of the same posts share it (a page's times are at most a second old)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, limit: int = 5000) -> None:
        self.clock = clock
        self.limit = limit
        self.second = -1
        self.known: dict[tuple[datetime, str], bytes] = {}

    def get(self, when: datetime, language: str, draw: Callable[[datetime], bytes]) -> bytes:
        second = int(self.clock())
        if second != self.second or len(self.known) > self.limit:
            self.known.clear()
            self.second = second
        key = (when, language)
        text = self.known.get(key)
        if text is None:
            text = self.known[key] = draw(when)
        return text
