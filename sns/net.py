"""Addresses: the client's (from proxy headers only when the peer is a trusted proxy),
and where a form may send the browser next."""

from __future__ import annotations

import functools
import ipaddress
import unicodedata
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=4096)  # the same few peers and proxies, request after request
def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]
) -> bool:
    return any(address in network for network in networks)


def is_trusted(peer: str, trusted: Iterable[Network]) -> bool:
    """Whether the socket peer is one of the proxies whose headers we believe."""
    address = _parse(peer)
    return address is not None and _trusted(address, trusted)


def client_ip(peer: str, headers: Mapping[str, str], trusted: Iterable[Network]) -> str:
    """The address to blame for a request.

    A header is believed only when the socket peer is a trusted proxy; then the
    `X-Forwarded-For` chain is read from the right, skipping trusted hops, and the first
    untrusted address wins (the left end can be anything a client typed). `X-Real-IP` is
    the fallback. A spoofed header from anyone else changes nothing.
    """
    trusted = tuple(trusted)
    peer_address = _parse(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return str(peer_address) if peer_address else peer
    forwarded = headers.get("X-Forwarded-For", "")
    if forwarded:
        hops = [_parse(part) for part in forwarded.split(",")]
        for hop in reversed(hops):
            if hop is None:
                break
            if not _trusted(hop, trusted):
                return str(hop)
        else:
            if hops and hops[0] is not None:
                return str(hops[0])
    real_ip = _parse(headers.get("X-Real-IP", ""))
    if real_ip is not None:
        return str(real_ip)
    return str(peer_address)


def host_name(host: str) -> str | None:
    """The name in a ``Host`` header, folded to lower case, its port dropped; None when the
    header is not a name with an optional numeric port."""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, port = host[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return None
        port = port[1:]
    else:
        name, _, port = host.partition(":") if host.count(":") <= 1 else (host, "", "")
    if port and not (port.isdigit() and len(port) <= 5):
        return None
    name = name.rstrip(".")
    return name or None


def is_site_host(host: str, names: frozenset[str]) -> bool:
    """Whether a request's ``Host`` names this site (``names``: ``Settings.site_host_names``)."""
    return host_name(host) in names


def safe_next_url(target: str, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (CWE-601).

    Refused: anything not starting with one ``/``, backslashes (browsers read them as
    ``/``), a scheme or host, and any control or whitespace character. Browsers drop tabs
    and line breaks inside a URL, so ``/%09/evil.example`` would become ``//evil.example``;
    and Tornado refuses control characters in the ``Location`` header, which made
    ``next=/%0B/x`` a 500 after a successful login (#12).
    """
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in target)
    ):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
