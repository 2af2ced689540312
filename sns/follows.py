"""Follows: who follows whom, the counts on profile boxes, and the lists on /profile.

Follows are idempotent (insert-ignore); only people who still have an account are
counted or listed, so a deleted account drops out of everyone's numbers at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    delete,
    func,
    select,
)

from sns.accounts import User, row_to_user
from sns.async_sql import AsyncConnection
from sns.db import Database, utcnow
from sns.errors import Invalid, NotFound, Unauthorized
from sns.notifications import FOLLOW, NotificationService, unread_count_query
from sns.safety import NO_RELATION, Relation, refuse_if_blocked, relation_of
from sns.schema import follows, users
from sns.visible import LIVE_USER, live_user_row, lock_live_users


@dataclass(frozen=True)
class FollowCounts:
    followings: int
    followers: int


@dataclass(frozen=True)
class Person:
    """Someone in a list of followings or followers, and whether the reader follows them."""

    id: int
    nick: str
    followed_by_viewer: bool
    avatar: str | None = None
    avatar_ready: bool = False


@dataclass(frozen=True)
class PeoplePage:
    """A page of a followings or followers list; ``next_before`` is the cursor of the next
    page (the last person's user id), if any."""

    people: list[Person]
    next_before: int | None


PEOPLE_PAGE_SIZE = 50


@dataclass(frozen=True)
class Profile:
    """A user's page header: who, their counts, and whether the reader follows them."""

    user: User
    counts: FollowCounts
    followed_by_viewer: bool
    relation: Relation = NO_RELATION
    """Blocks and mutes between the reader and them (``sns.safety``)."""


def _live_count(
    person: Column[int], owner: Column[int], user_id: int | ColumnElement[int]
) -> ScalarSelect[int]:
    """How many live accounts stand in ``person`` of the follows whose ``owner`` is user_id."""
    return (
        select(func.count())
        .select_from(follows)
        .join(users, users.c.id == person)
        .where(owner == user_id, LIVE_USER)
        .scalar_subquery()
    )


@functools.cache
def _counts_and_unread() -> Select[Any]:
    """``FollowService.counts_and_unread``'s statement, built once (every drawn page of a
    logged-in reader runs it; building it cost more than running it), the user bound."""
    user = bindparam("user", type_=Integer)
    followings = _live_count(follows.c.following_id, follows.c.follower_id, user)
    followers = _live_count(follows.c.follower_id, follows.c.following_id, user)
    return select(followings, followers, unread_count_query(user).scalar_subquery())


async def count_follows(conn: AsyncConnection, user_id: int) -> FollowCounts:
    """Followings and followers that are live accounts, in one query."""
    followings = _live_count(follows.c.following_id, follows.c.follower_id, user_id)
    followers = _live_count(follows.c.follower_id, follows.c.following_id, user_id)
    row = (await conn.execute(select(followings, followers))).one()
    return FollowCounts(followings=row[0], followers=row[1])


class FollowService:
    def __init__(self, db: Database, notifications: NotificationService | None = None) -> None:
        self.db = db
        self.notifications = notifications

    async def follow(self, follower_id: int, following_id: int) -> FollowCounts:
        """Follow someone (again changes nothing); returns the follower's new counts.
        The one followed is told. Across a block, either way: ``Forbidden``."""
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> FollowCounts:
            changed.clear()
            await self._lock_both(conn, follower_id, following_id)
            await refuse_if_blocked(conn, follower_id, following_id)
            added = await conn.execute(
                self.db.insert_ignore(follows).values(
                    follower_id=follower_id, following_id=following_id, created_at=utcnow()
                )
            )
            if added.rowcount == 1 and self.notifications is not None:
                changed.update(
                    await self.notifications.add(
                        conn, user_id=following_id, kind=FOLLOW, actor_id=follower_id
                    )
                )
            return await count_follows(conn, follower_id)

        counts = await self.db.write(work)
        if self.notifications is not None:
            await self.notifications.announce(changed)
        return counts

    async def unfollow(self, follower_id: int, following_id: int) -> FollowCounts:
        """Stop following, and take the follow's notification back."""
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> FollowCounts:
            changed.clear()
            await self._lock_both(conn, follower_id, following_id)
            removed = await conn.execute(
                delete(follows).where(
                    follows.c.follower_id == follower_id, follows.c.following_id == following_id
                )
            )
            if removed.rowcount == 1 and self.notifications is not None:
                changed.update(
                    await self.notifications.take_back(
                        conn, user_id=following_id, kind=FOLLOW, actor_id=follower_id
                    )
                )
            return await count_follows(conn, follower_id)

        counts = await self.db.write(work)
        if self.notifications is not None:
            await self.notifications.announce(changed)
        return counts

    async def _lock_both(self, conn: AsyncConnection, follower_id: int, following_id: int) -> None:
        """Both accounts' rows for share: neither can be deleted while the follow is written,
        so no follow of a deleted account is left behind."""
        if follower_id == following_id:
            raise Invalid("You cannot follow yourself.")
        live = await lock_live_users(conn, [follower_id, following_id])
        if follower_id not in live:
            raise Unauthorized("Please log in first.")
        if following_id not in live:
            raise NotFound("There is no such user.")

    async def counts(self, user_id: int) -> FollowCounts:
        async with self.db.read() as conn:
            return await count_follows(conn, user_id)

    async def following_ids(self, follower_id: int) -> frozenset[int]:
        """Everyone ``follower_id`` follows (a live page of /following counts their posts)."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(follows.c.following_id).where(follows.c.follower_id == follower_id)
            )
            return frozenset(rows.scalars())

    async def counts_and_unread(self, user_id: int) -> tuple[FollowCounts, int]:
        """The sidebar's counts and the header's unread notifications, in one query: what
        every drawn page of a logged-in reader shows."""
        async with self.db.read() as conn:
            row = (await conn.execute(_counts_and_unread(), {"user": user_id})).one()
        return FollowCounts(followings=row[0], followers=row[1]), int(row[2])

    async def profile(self, user_id: int, viewer_id: int | None) -> Profile:
        """Who ``user_id`` is, their counts, and whether the viewer follows them."""
        async with self.db.read() as conn:
            user = row_to_user(await live_user_row(conn, user_id))
            counts = await count_follows(conn, user_id)
            relation = await relation_of(conn, viewer_id, user_id)
        return Profile(
            user=user, counts=counts, followed_by_viewer=relation.following, relation=relation
        )

    async def followings(
        self,
        user_id: int,
        viewer_id: int,
        before: int | None = None,
        limit: int = PEOPLE_PAGE_SIZE,
    ) -> PeoplePage:
        """Whom ``user_id`` follows, the newest accounts first (user ids below ``before``)."""
        return await self._people(
            follows.c.following_id, follows.c.follower_id, user_id, viewer_id, before, limit
        )

    async def followers(
        self,
        user_id: int,
        viewer_id: int,
        before: int | None = None,
        limit: int = PEOPLE_PAGE_SIZE,
    ) -> PeoplePage:
        """Who follows ``user_id``, the newest accounts first (user ids below ``before``)."""
        return await self._people(
            follows.c.follower_id, follows.c.following_id, user_id, viewer_id, before, limit
        )

    async def _people(
        self,
        person_col: Column[int],
        owner_col: Column[int],
        user_id: int,
        viewer_id: int,
        before: int | None,
        limit: int,
    ) -> PeoplePage:
        """A keyset page on the person's user id: the follows primary key (followings) or
        its reverse index (followers) holds each list in that order, so a page reads only
        its own rows however long the list (ordering by the follow's time would sort the
        whole list for every page)."""
        mine = follows.alias("mine")
        query = (
            select(
                users.c.id,
                users.c.nick,
                users.c.avatar,
                users.c.avatar_ready,
                mine.c.follower_id.is_not(None).label("followed"),
            )
            .select_from(follows)
            .join(users, users.c.id == person_col)
            .outerjoin(
                mine,
                and_(mine.c.following_id == users.c.id, mine.c.follower_id == viewer_id),
            )
            .where(owner_col == user_id, LIVE_USER)
            .order_by(person_col.desc())
            .limit(limit + 1)
            .prefix_with("STRAIGHT_JOIN", dialect="mysql")
        )
        if before is not None:
            query = query.where(person_col < before)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        people = [
            Person(
                id=r.id,
                nick=r.nick,
                followed_by_viewer=bool(r.followed),
                avatar=r.avatar,
                avatar_ready=bool(r.avatar_ready),
            )
            for r in rows[:limit]
        ]
        more = len(rows) > limit and people
        return PeoplePage(people, people[-1].id if more else None)
