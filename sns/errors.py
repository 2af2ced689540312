"""Errors that services raise and the handlers map to a status and a message for the user.

The message is an English template with named fields, so a handler can translate the
template and then fill it in: ``Invalid("At most {max} characters.", max=140)``.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An expected refusal: carries the HTTP status, a message fit to show, and the field."""

    status = 400

    def __init__(self, template: str, *, field: str | None = None, **params: Any) -> None:
        self.template = template
        self.params = params
        self.field = field
        self.message = template.format(**params)
        super().__init__(self.message)


class Invalid(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Gone(ServiceError):
    """Something that was served once and never will be again (the API's v1)."""

    status = 410


class TokenExpired(ServiceError):
    """An API token that was good but has run out: NodeBird's 419, on which clients renew."""

    status = 419


class BadGateway(ServiceError):
    """An upstream service (such as a login provider) failed or answered nonsense."""

    status = 502


class Unavailable(ServiceError):
    """A backend (database, Redis) is down or too slow: try again in a moment."""

    status = 503


OUTAGE = "SNS cannot reach its database or session store right now. Please try again in a moment."


def is_outage(exc: BaseException) -> bool:
    """Whether an exception means a backend is down or too slow, rather than a bug."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, TimeoutError | PoolTimeout | RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc.orig, OSError) or _lost(exc)
    return isinstance(exc, OSError)


def _lost(exc: BaseException) -> bool:
    """MySQL's "can't connect" (2003), "gone away" (2006) and "lost connection" (2013)."""
    args: tuple[Any, ...] = getattr(getattr(exc, "orig", None), "args", ())
    return bool(args) and args[0] in (2003, 2006, 2013)


class TooManyRequests(ServiceError):
    status = 429

    def __init__(self, template: str, *, retry_after: int, **params: Any) -> None:
        super().__init__(template, **params)
        self.retry_after = retry_after


class Busy(TooManyRequests):
    """The server has too much of some work in hand (bcrypt checks): 503 with Retry-After.

    A ``TooManyRequests``, so that every handler that sends Retry-After with a 429 sends
    it here too.
    """

    status = 503
