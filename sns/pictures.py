"""A post's pictures (#19): up to four, in order, each with alt text, its size and a
blurhash placeholder; read for a page of posts in one query, whatever its size.
Each picture's blurhash placeholder is made in the image pool (``sns.placeholders``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select

from sns.async_sql import AsyncConnection
from sns.errors import Invalid
from sns.schema import post_pictures, uploads

MAX_PICTURES = 4
ALT_MAX_CHARS = 1500


@dataclass(frozen=True)
class Picture:
    """One picture of a post as pages and the API show it."""

    name: str
    alt: str = ""
    width: int = 0
    height: int = 0
    placeholder: str = ""
    thumbnails: bool = False
    """Whether every thumbnail size exists: until then pages show the original."""


@dataclass(frozen=True)
class Chosen:
    """A picture a form or a client asks a post to carry: its upload's name and alt text."""

    name: str
    alt: str = ""


def check_choice(chosen: Sequence[Chosen]) -> list[Chosen]:
    """At most four pictures, each once, each alt text within 1,500 characters."""
    if len(chosen) > MAX_PICTURES:
        raise Invalid(
            "A post can have at most {max} pictures; this one has {count}.",
            field="url",
            max=MAX_PICTURES,
            count=len(chosen),
        )
    names = [picture.name for picture in chosen]
    if len(set(names)) != len(names):
        raise Invalid("The same picture is attached twice.", field="url")
    cleaned = []
    for picture in chosen:
        alt = picture.alt.replace("\r\n", "\n").strip()
        if len(alt) > ALT_MAX_CHARS:
            raise Invalid(
                "A picture's description can have at most {max} characters; one has {count}.",
                field="alt",
                max=ALT_MAX_CHARS,
                count=len(alt),
            )
        cleaned.append(Chosen(picture.name, alt))
    return cleaned


@functools.cache
def _pictures_of() -> Select[Any]:
    """``pictures_of``'s statement, built once (the ids are one expanding parameter)."""
    return (
        select(
            post_pictures.c.post_id,
            post_pictures.c.name,
            post_pictures.c.alt,
            post_pictures.c.width,
            post_pictures.c.height,
            post_pictures.c.placeholder,
            uploads.c.thumbnails,
        )
        .select_from(post_pictures)
        .outerjoin(uploads, uploads.c.name == post_pictures.c.name)
        .where(post_pictures.c.post_id.in_(bindparam("post_ids", expanding=True)))
        .order_by(post_pictures.c.post_id, post_pictures.c.position)
    )


async def pictures_of(
    conn: AsyncConnection, post_ids: Iterable[int]
) -> dict[int, tuple[Picture, ...]]:
    """The pictures of these posts, in order: one query for a whole page (an empty page
    too, so that a page's cost does not depend on what it holds)."""
    rows = await conn.execute(_pictures_of(), {"post_ids": list(post_ids)})
    found: dict[int, list[Picture]] = {}
    for row in rows:
        found.setdefault(row.post_id, []).append(
            Picture(
                name=row.name,
                alt=row.alt,
                width=row.width,
                height=row.height,
                placeholder=row.placeholder,
                thumbnails=bool(row.thumbnails),
            )
        )
    return {post_id: tuple(pictures) for post_id, pictures in found.items()}
