"""Accounts: sign-up, login with throttled failures, and looking users up."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Row, Select, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from sns import text
from sns.async_sql import AsyncConnection
from sns.db import Database, new_id, utcnow
from sns.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from sns.handles import clean_handle, free_handle, handle_row, handle_taken, user_id_by_handle
from sns.metrics import Metrics
from sns.notifications import NotificationService
from sns.passwords import PasswordHasher
from sns.ratelimit import RateLimiter
from sns.reader_safety import ReaderSafety, safety_columns, safety_from_row
from sns.schema import follows, likes, posts, users
from sns.visible import LIVE_USER

LOGIN_FAILED = "The email or password is not right."
SUSPENDED = "This account was suspended by the moderators. It cannot log in."
HANDLE_TAKEN = "That handle is taken. Try another."
JOIN_ATTEMPTS = 3


@dataclass(frozen=True)
class User:
    id: int
    email: str | None
    nick: str
    provider: str
    created_at: datetime
    session_version: int = 0
    moderator: bool = False
    """May use /admin (``python run.py admin grant``)."""
    avatar: str | None = None
    """The avatar's picture name (``sns.profiles``), or None: a generated face."""
    avatar_ready: bool = False
    bio: str | None = None
    handle: str | None = None
    safety: ReaderSafety | None = None
    """Whether they have blocks, mutes, muted words (``sns.reader_safety.reading_as``); None
    when the row was read without them."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validate_join(email: str, nick: str, password: str) -> None:
    """Raise ``Invalid`` naming the first field that cannot be used, with a clear message."""
    if not email:
        raise Invalid("Enter your email address.", field="email")
    if len(email) > text.EMAIL_MAX_CHARS or not text.EMAIL_RE.match(email):
        raise Invalid("That does not look like an email address.", field="email")
    validate_nick(nick)
    validate_password(password)


def validate_nick(nick: str) -> None:
    if not nick:
        raise Invalid("Enter a nickname.", field="nick")
    if len(nick) > text.NICK_MAX_CHARS:
        raise Invalid(
            "The nickname is too long: at most {max} characters.",
            field="nick",
            max=text.NICK_MAX_CHARS,
        )
    if text.has_line_breaks(nick):
        raise Invalid("The nickname cannot contain line breaks.", field="nick")
    if text.has_control_chars(nick) or "\t" in nick:
        raise Invalid("The nickname cannot contain control characters.", field="nick")
    if text.has_bidi_controls(nick):
        raise Invalid("The nickname cannot contain text-direction controls.", field="nick")
    if text.is_invisible(nick):
        raise Invalid("The nickname must have at least one visible character.", field="nick")


def validate_password(password: str) -> None:
    if len(password) < text.PASSWORD_MIN_CHARS:
        raise Invalid(
            "The password is too short: at least {min} characters.",
            field="password",
            min=text.PASSWORD_MIN_CHARS,
        )
    validate_password_bytes(password)


def validate_password_bytes(password: str, field: str = "password") -> None:
    """bcrypt's limit, for a new password and for one typed to be checked alike.

    bcrypt 5 refuses a password over 72 bytes (ValueError) where older releases cut it,
    so checking one at login, password change or account deletion was a 500 (#12).
    """
    if len(password.encode("utf-8")) > text.PASSWORD_MAX_BYTES:
        raise Invalid(
            "The password is too long: at most {max} bytes (a Korean character takes 3).",
            field=field,
            max=text.PASSWORD_MAX_BYTES,
        )


@functools.cache
def _live_user_with_safety() -> Select[Any]:
    """``AccountService.get``'s statement, built once (the user bound as ``user_id``): it
    runs for every reader after every write anywhere, and building its safety columns cost
    more than running them (py-spy, #22)."""
    return select(users, *safety_columns(users.c.id)).where(
        users.c.id == bindparam("user_id", type_=Integer), LIVE_USER
    )


def row_to_user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        nick=row.nick,
        provider=row.provider,
        created_at=row.created_at,
        session_version=row.session_version,
        moderator=bool(row.moderator),
        avatar=row.avatar,
        avatar_ready=bool(row.avatar_ready),
        bio=row.bio,
        handle=row.handle,
        safety=safety_from_row(row),
    )


class AccountService:
    """Users and their credentials. bcrypt runs in a thread, never on the event loop."""

    def __init__(
        self,
        db: Database,
        limiter: RateLimiter,
        *,
        bcrypt_rounds: int = 12,
        bcrypt_concurrency: int = 0,
        bcrypt_wait: float = 5.0,
        max_failures: int = 5,
        max_failures_ip: int = 30,
        failure_window: int = 900,
        metrics: Metrics | None = None,
        notifications: NotificationService | None = None,
    ) -> None:
        self.db = db
        self.notifications = notifications
        self.limiter = limiter
        self.passwords = PasswordHasher(bcrypt_rounds, bcrypt_concurrency, bcrypt_wait, metrics)
        self.max_failures = max_failures
        self.max_failures_ip = max_failures_ip
        self.failure_window = failure_window

    async def hash_password(self, password: str) -> str:
        return await self.passwords.hash(password)

    async def _check_password(self, password: str, hashed: str | None) -> bool:
        return await self.passwords.check(password, hashed)

    async def join(self, email: str, nick: str, password: str, handle: str = "") -> User:
        """A new account. ``handle`` is optional: old clients and scripts send none, and
        get one made from the nick or the e-mail (``sns.handles.free_handle``)."""
        email = normalize_email(email)
        nick = nick.strip()
        validate_join(email, nick, password)
        chosen = clean_handle(handle) if handle.strip() else None
        async with self.db.read() as conn:
            taken = (await conn.execute(select(users.c.id).where(users.c.email == email))).first()
            if not taken and chosen is not None and await handle_taken(conn, chosen):
                raise Conflict(HANDLE_TAKEN, field="handle")
        if taken:
            raise Conflict("That email is already registered. Log in instead?", field="email")
        password_hash = await self.hash_password(password)
        for attempt in range(1, JOIN_ATTEMPTS + 1):
            try:
                async with self.db.transaction() as conn:
                    result = await conn.execute(
                        insert(users).values(
                            email=email,
                            nick=nick,
                            password_hash=password_hash,
                            provider="local",
                            created_at=utcnow(),
                            **handle_row(chosen or await free_handle(conn, nick, email)),
                        )
                    )
                    user_id = new_id(result)
                break
            except IntegrityError:
                # The email or the handle was taken meanwhile: say which; a made-up handle
                # that clashed with another sign-up is simply made again.
                async with self.db.read() as conn:
                    email_taken = (
                        await conn.execute(select(users.c.id).where(users.c.email == email))
                    ).first()
                if email_taken:
                    raise Conflict(
                        "That email is already registered. Log in instead?", field="email"
                    ) from None
                if chosen is not None:
                    raise Conflict(HANDLE_TAKEN, field="handle") from None
                if attempt == JOIN_ATTEMPTS:
                    raise
        user = await self.get(user_id)
        assert user is not None
        return user

    async def change_handle(self, user_id: int, handle: str) -> User:
        """A new handle (any case of one's own is fine); taken by someone else: 409."""
        chosen = clean_handle(handle)
        try:
            async with self.db.transaction() as conn:
                holder = await user_id_by_handle(conn, chosen)
                if holder is not None and holder != user_id:
                    raise Conflict(HANDLE_TAKEN, field="handle")
                await conn.execute(
                    update(users).where(users.c.id == user_id).values(**handle_row(chosen))
                )
        except IntegrityError:
            raise Conflict(HANDLE_TAKEN, field="handle") from None
        user = await self.get(user_id)
        assert user is not None
        return user

    async def id_for_handle(self, handle: str) -> int:
        """The live account holding ``handle`` (any case), or ``NotFound``."""
        async with self.db.read() as conn:
            user_id = await user_id_by_handle(conn, handle)
        if user_id is None:
            raise NotFound("There is no such user.")
        return user_id

    async def authenticate(self, email: str, password: str, client_ip: str) -> User:
        """The user with these credentials, or ``Unauthorized``; too many failures: 429.

        The attempt takes its place under both limits before the password is checked:
        counted only after the check, guesses sent at once all passed the limit (#12).
        A failure keeps its place, a password too long for bcrypt too. A success clears
        the account's failures and gives the address its place back, so that people
        behind one address can keep logging in. An attempt that was never checked (no
        bcrypt turn, a database error) gives both places back.
        """
        email = normalize_email(email)
        account_key = "login:acct:" + hashlib.sha256(email.encode()).hexdigest()
        ip_key = "login:ip:" + client_ip
        await self._reserve_attempt(
            (account_key, self.max_failures), (ip_key, self.max_failures_ip)
        )
        validate_password_bytes(password)
        try:
            user = await self._check_credentials(email, password)
        except Exception:
            for key in (account_key, ip_key):
                await self.limiter.release(key)
            raise
        if user is None:
            raise Unauthorized(LOGIN_FAILED)
        await self.limiter.clear(account_key)
        await self.limiter.release(ip_key)
        return user

    async def _reserve_attempt(self, *limits: tuple[str, int]) -> None:
        """A place under each (key, limit), or none at all and ``TooManyRequests``."""
        taken: list[str] = []
        for key, limit in limits:
            reservation = await self.limiter.reserve(key, limit, self.failure_window)
            if not reservation.granted:
                for earlier in taken:
                    await self.limiter.release(earlier)
                reset_in = reservation.count.reset_in
                raise TooManyRequests(
                    "Too many failed logins. Try again in {minutes} min.",
                    retry_after=reset_in,
                    minutes=max(1, (reset_in + 59) // 60),
                )
            taken.append(key)

    async def _check_credentials(self, email: str, password: str) -> User | None:
        """The live user with this email and password, else None after a full check.

        A suspended account is told so (403), but only with its right password: a guesser
        learns nothing of it.
        """
        row = None
        if email and password:
            async with self.db.read() as conn:
                row = (
                    await conn.execute(
                        select(users).where(users.c.email == email, users.c.deleted_at.is_(None))
                    )
                ).first()
        if row is None:
            await self._check_password(password, None)
            return None
        if await self._check_password(password, row.password_hash):
            if row.suspended_at is not None:
                raise Forbidden(SUSPENDED)
            return row_to_user(row)
        return None

    async def get(self, user_id: int) -> User | None:
        """The live account, with what it has set up for its own safety (one statement):
        the web layer keeps it under the site version, and so learns once per request,
        mostly from memory, which filters the reader's lists need."""
        async with self.db.read() as conn:
            row = (await conn.execute(_live_user_with_safety(), {"user_id": user_id})).first()
        return None if row is None else row_to_user(row)

    async def change_nick(self, user_id: int, nick: str) -> User:
        nick = nick.strip()
        validate_nick(nick)
        async with self.db.transaction() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(nick=nick))
        user = await self.get(user_id)
        assert user is not None
        return user

    async def _password_hash(self, user_id: int) -> str | None:
        async with self.db.read() as conn:
            return (
                await conn.execute(select(users.c.password_hash).where(users.c.id == user_id))
            ).scalar()

    async def has_password(self, user_id: int) -> bool:
        return await self._password_hash(user_id) is not None

    async def change_password(self, user_id: int, current: str, new: str) -> None:
        """A new password, only with the current one (accounts made with Kakao have none)."""
        stored = await self._password_hash(user_id)
        if stored is None:
            raise Invalid("This account logs in with Kakao and has no password.", field="current")
        validate_password_bytes(current, field="current")
        if not await self._check_password(current, stored):
            raise Unauthorized("The current password is not right.", field="current")
        try:
            validate_password(new)
        except Invalid as exc:
            exc.field = "new"
            raise
        new_hash = await self.hash_password(new)
        async with self.db.transaction() as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(password_hash=new_hash, session_version=users.c.session_version + 1)
            )

    async def delete_account(self, user_id: int, password: str, confirmation: str) -> None:
        """Soft delete: the account can no longer log in and its posts leave every page.

        The email and Kakao id are released, so the person can sign up again later;
        likes and follows go (keeping like counts exact), posts and comments stay in the
        database but are shown nowhere.
        """
        stored = await self._password_hash(user_id)
        if stored is not None:
            validate_password_bytes(password)
            if not await self._check_password(password, stored):
                raise Unauthorized("The password is not right.", field="password")
        elif confirmation.strip().lower() != "delete":
            raise Invalid('Type "delete" to confirm.', field="confirmation")

        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> None:
            changed.clear()
            # The account's row first, for update: its likes and follows in flight (which
            # lock it for share) finish before, and later ones find the account gone.
            await conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())
            liked = (
                (await conn.execute(select(likes.c.post_id).where(likes.c.user_id == user_id)))
                .scalars()
                .all()
            )
            if liked:
                await conn.execute(
                    update(posts)
                    .where(posts.c.id.in_(liked))
                    .values(like_count=posts.c.like_count - 1)
                )
                await conn.execute(delete(likes).where(likes.c.user_id == user_id))
            await conn.execute(
                delete(follows).where(
                    or_(follows.c.follower_id == user_id, follows.c.following_id == user_id)
                )
            )
            if self.notifications is not None:
                changed.update(await self.notifications.remove_for_account(conn, user_id))
            # The handle is given back too, like the email.
            await conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(
                    deleted_at=utcnow(),
                    email=None,
                    sns_id=None,
                    password_hash=None,
                    handle=None,
                    handle_key=None,
                )
            )

        await self.db.write(work)
        if self.notifications is not None:
            await self.notifications.announce(changed)
