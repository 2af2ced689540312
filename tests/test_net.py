"""Which address is the client's: proxy headers only from trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from sns.net import client_ip, is_trusted, safe_next_url

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


@pytest.mark.parametrize(
    "target",
    ["/", "/hashtag?hashtag=%EB%85%B8%EB%93%9C", "/user/7#post-3", "/노드", "/a%20b", "/?q=a+b"],
)
def test_safe_next_url_keeps_paths_on_this_site(target):
    assert safe_next_url(target, "/home") == target


@pytest.mark.parametrize(
    "target",
    [
        "",
        "hashtag",
        "//evil.example/",
        "///evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        # Browsers drop tabs and line breaks inside URLs ("/\t/evil" is "//evil") and
        # Tornado refuses control characters in a header: none of them may pass (#12).
        "/\t/evil.example",
        "/\r\n/evil.example",
        "/\x0b/x",
        "/\x0c",
        "/\x7f",
        "/\x00",
        "/\x85",
        "/a b",
        "/\u2028/evil.example",
        "/\u3000",
    ],
)
def test_safe_next_url_falls_back_for_anything_else(target):
    assert safe_next_url(target, "/home") == "/home"
