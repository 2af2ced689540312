"""Which address is the client's: proxy headers only from trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from sns.net import client_ip, is_trusted

LOCAL = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.5", {}, "203.0.113.5"),
        ("203.0.113.5", {"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5"),
        ("203.0.113.5", {"X-Real-IP": "1.2.3.4"}, "203.0.113.5"),
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.9"}, "198.51.100.9"),
        ("127.0.0.1", {"X-Forwarded-For": "6.6.6.6, 198.51.100.9"}, "198.51.100.9"),
        ("127.0.0.1", {"X-Forwarded-For": "6.6.6.6, 198.51.100.9, 10.1.2.3"}, "198.51.100.9"),
        ("127.0.0.1", {"X-Forwarded-For": "10.1.2.3, 10.2.3.4"}, "10.1.2.3"),
        ("127.0.0.1", {"X-Real-IP": "198.51.100.7"}, "198.51.100.7"),
        ("127.0.0.1", {"X-Forwarded-For": "garbage"}, "127.0.0.1"),
        ("127.0.0.1", {}, "127.0.0.1"),
        ("::ffff:127.0.0.1", {"X-Forwarded-For": "2001:db8::1"}, "2001:db8::1"),
    ],
)
def test_client_ip(peer, headers, expected):
    assert client_ip(peer, headers, LOCAL) == expected


def test_is_trusted():
    assert is_trusted("10.9.8.7", LOCAL)
    assert not is_trusted("11.0.0.1", LOCAL)
    assert not is_trusted("not an address", LOCAL)
