"""Host and origin parsing of ``sns.site_hosts``: every input gives a host or a clear 400."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sns.api_clients import new_secret
from sns.errors import Invalid
from sns.site_hosts import normalize_host, origin_host

HOSTISH = st.text(alphabet=st.sampled_from("ab-.:[]/@1:0 한Ａ\u0000%#?"), max_size=30)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), HOSTISH, HOSTISH.map(lambda h: "http://" + h)))
def test_any_typed_host_is_a_host_or_a_clear_refusal(typed):
    try:
        host = normalize_host(typed)
    except Invalid as refusal:
        assert refusal.field == "host"
        return
    assert host == host.strip().lower()
    assert normalize_host(host) == host  # stored hosts are canonical
    assert origin_host(f"https://{host}") == host


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), HOSTISH.map(lambda h: "https://" + h)))
def test_any_origin_header_is_a_host_or_none(origin):
    found = origin_host(origin)
    assert found is None or isinstance(found, str)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:4000", "localhost:4000"),
        ("https://Example.com", "example.com"),
        ("http://[::1]:3000", "[::1]:3000"),
        ("null", None),
        ("file://", None),
        ("https://example.com/path", None),
        ("https://user@example.com", None),
        ("http://[::1", None),
    ],
)
def test_origins(origin, host):
    assert origin_host(origin) == host


def test_an_unclosed_ipv6_url_is_refused_not_an_error():
    with pytest.raises(Invalid):
        normalize_host("http://[::1")


def test_a_new_secret_never_reads_as_a_command_line_flag():
    drawn = [new_secret() for _ in range(2000)]
    assert not [secret for secret in drawn if secret.startswith("-")]
    assert len(set(drawn)) == len(drawn)
