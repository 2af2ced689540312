"""Limits against floods (#21): sign-ups per client address, posts, comments and reports per
account, so that one script cannot fill the site.

Each kind is a fixed window on the process's ``RateLimiter`` (Redis-shared when
``SNS_REDIS_URL`` is set, in-process on the embedded default). ``hold`` takes a place
before the work and gives it back when the work is refused (bad input, a post that is
gone): only what was written counts. The server's own loopback address (127.0.0.1, ::1),
as Mastodon exempts localhost, and the networks of ``SNS_SIGNUP_EXEMPT`` never count
for sign-ups.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sns.errors import ServiceError, TooManyRequests
from sns.ratelimit import RateLimiter

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.1/32"),
    ipaddress.ip_network("::1/128"),
)


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` of a kind of action in ``window`` seconds, with the words of its 429."""

    limit: int
    window: int
    message: str


@dataclass(frozen=True)
class Place:
    """A place under a rule, for the ``RateLimit-*`` headers of the answer."""

    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


class RateLimited(TooManyRequests):
    """A 429 with the place it was refused, so the answer carries ``RateLimit-*`` too."""

    def __init__(self, template: str, *, place: Place, **params: object) -> None:
        super().__init__(template, retry_after=place.reset, **params)
        self.place = place


SIGNUPS = "signups"
POSTS = "posts"
COMMENTS = "comments"
REPORTS = "reports"


class FloodLimits:
    """The flood rules of one process, over its shared rate limiter."""

    def __init__(
        self,
        limiter: RateLimiter,
        rules: dict[str, Rule],
        *,
        signup_exempt: Iterable[Network] = (),
    ) -> None:
        self.limiter = limiter
        self.rules = rules
        self.signup_exempt = (*LOOPBACK, *signup_exempt)

    def exempt(self, kind: str, who: str) -> bool:
        """Sign-ups from the server's own loopback address or an exempt network."""
        if kind != SIGNUPS:
            return False
        try:
            address = ipaddress.ip_address(who.strip("[]"))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.signup_exempt)

    async def take(self, kind: str, who: str) -> Place | None:
        """A place for one more ``kind`` by ``who`` (an account id or an address), or
        ``RateLimited``; None when ``who`` is exempt."""
        if self.exempt(kind, who):
            return None
        rule = self.rules[kind]
        taken = await self.limiter.reserve(f"flood:{kind}:{who}", rule.limit, rule.window)
        place = Place(rule.limit, max(0, rule.limit - taken.count.hits), taken.count.reset_in)
        if not taken.granted:
            minutes = max(1, (place.reset + 59) // 60)
            raise RateLimited(rule.message, place=place, limit=rule.limit, minutes=minutes)
        return place

    async def give_back(self, kind: str, who: str) -> None:
        if not self.exempt(kind, who):
            await self.limiter.release(f"flood:{kind}:{who}")

    @asynccontextmanager
    async def hold(self, kind: str, who: str | int) -> AsyncIterator[Place | None]:
        """A place for the work inside the block; given back if the work is refused."""
        key = str(who)
        place = await self.take(kind, key)
        try:
            yield place
        except ServiceError:
            await self.give_back(kind, key)
            raise


def default_rules(
    *,
    signups: int = 5,
    signup_window: int = 1800,
    posts: int = 30,
    comments: int = 30,
    write_window: int = 600,
    reports: int = 20,
    report_window: int = 3600,
) -> dict[str, Rule]:
    """The rules with the numbers of the settings (the defaults are the settings')."""
    return {
        SIGNUPS: Rule(
            signups,
            signup_window,
            "Too many sign-ups from your address: at most {limit}. Try again in {minutes} min.",
        ),
        POSTS: Rule(
            posts,
            write_window,
            "You are posting too fast: at most {limit} posts in a while. "
            "Try again in {minutes} min.",
        ),
        COMMENTS: Rule(
            comments,
            write_window,
            "You are commenting too fast: at most {limit} comments in a while. "
            "Try again in {minutes} min.",
        ),
        REPORTS: Rule(
            reports,
            report_window,
            "You have sent too many reports: at most {limit}. Try again in {minutes} min.",
        ),
    }
