"""XSRF tokens bound to a session (#17).

Tornado's own token is a double submit: any ``_xsrf`` cookie and a token made from it
match, so whoever can plant a cookie in a browser (a sibling subdomain, a plain-HTTP
answer on the way) can plant a pair and forge that person's forms. For a logged-in person
the token is instead derived from their session id with the cookie secret, so it counts for
that session only, and a new session (every login) needs a new one; a cookie plays no part.
Logged-out forms (log in, sign up) keep Tornado's token.

The token is masked with fresh random bytes each time it is made (as Tornado's is, against
BREACH), and uses only letters, digits and ``-``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

PREFIX = "s-"
_RAW_BYTES = 16


def _raw(secret: str | bytes, session_id: str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    message = b"sns-xsrf-session\x00" + session_id.encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:_RAW_BYTES]


def session_token(secret: str | bytes, session_id: str) -> str:
    """A token for forms and fetch calls of this session (a new mask each call)."""
    raw = _raw(secret, session_id)
    mask = os.urandom(len(raw))
    masked = bytes(a ^ b for a, b in zip(mask, raw, strict=True))
    return f"{PREFIX}{mask.hex()}-{masked.hex()}"


def is_session_token(secret: str | bytes, session_id: str, token: str) -> bool:
    """Whether ``token`` was made by ``session_token`` for this session."""
    if not token.startswith(PREFIX):
        return False
    mask_hex, dash, masked_hex = token[len(PREFIX) :].partition("-")
    try:
        mask, masked = bytes.fromhex(mask_hex), bytes.fromhex(masked_hex)
    except ValueError:
        return False
    if not dash or len(mask) != _RAW_BYTES or len(masked) != _RAW_BYTES:
        return False
    raw = bytes(a ^ b for a, b in zip(mask, masked, strict=True))
    return hmac.compare_digest(raw, _raw(secret, session_id))
