"""The host a registered site's pages come from: as its owner types it, and as a browser
names it in ``Origin`` (CORS). One canonical form for both, so a registered host and an
``Origin`` compare as strings."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from sns.errors import Invalid

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOST_NAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
PORT_RE = re.compile(r"[0-9]{1,5}")


def normalize_host(raw: str) -> str:
    """The host (and port) a site's pages come from, as browsers send it in ``Origin``.

    ``Example.COM`` -> ``example.com``; ``http://localhost:4000/`` -> ``localhost:4000``;
    international names become their ASCII (punycode) form. ``Invalid`` otherwise.
    """
    value = raw.strip()
    if "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            raise _bad_host() from None
        if (
            parts.scheme.lower() not in ("http", "https")
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise _bad_host()
        value = parts.netloc
    host = _checked_host(value)
    if host is None:
        raise _bad_host()
    return host


def _bad_host() -> Invalid:
    return Invalid("Enter a host such as example.com or localhost:4000 (no path).", field="host")


def _checked_host(value: str) -> str | None:
    """``host[:port]`` in canonical form, or None."""
    if not value or len(value) > 255 or any(ch.isspace() for ch in value):
        return None
    port = ""
    if value.startswith("["):  # an IPv6 literal: [::1] or [::1]:4000
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        try:
            name = f"[{ipaddress.IPv6Address(name).compressed}]"
        except ValueError:
            return None
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else ""
    else:
        name, _, port = value.partition(":")
        if value.count(":") > 1:
            return None
        try:
            name = name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
        if len(name) > 253 or not HOST_NAME_RE.fullmatch(name):
            return None
    if ":" in value and not value.endswith("]") and port == "":
        return None
    if port:
        if not PORT_RE.fullmatch(port) or not 1 <= int(port) <= 65535:
            return None
        return f"{name}:{int(port)}"
    return name


def origin_host(origin: str) -> str | None:
    """The ``host[:port]`` of an ``Origin`` header, or None (``null``, junk, other schemes)."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.path or parts.query or "@" in parts.netloc:
        return None
    return _checked_host(parts.netloc)
