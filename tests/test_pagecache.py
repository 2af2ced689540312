"""The page cache's own accounting (sns/pagecache.py), without a server: what it holds stays
within its byte limit whatever clients send (#17), and a kept page gives each reader their
own token only where the template put it."""

from __future__ import annotations

import asyncio
import gzip
import secrets
import tracemalloc
import zlib

import pytest

from sns.pagecache import (
    KeptPage,
    ReaderPage,
    VersionedCache,
    entry_size,
    new_placeholder,
    takes_gzip,
)

MiB = 1024 * 1024


def page_key(host: str, uri: str = "/") -> tuple[object, ...]:
    """The key ``PageHandler`` keeps a page under."""
    return (uri, host, "http", "en_US", None)


def test_many_distinct_long_hosts_keep_the_cache_within_its_limit():
    """3,000 requests with distinct 60 KB ``Host`` headers once kept 180 MB in a cache
    meant to hold 16 MiB: the keys were not counted. Here, with a 2 MiB limit, the memory
    the cache holds (keys, pages and its own bookkeeping, as Python allocates it) stays
    within the limit, and so does its own count of it."""
    limit = 2 * MiB
    cache: VersionedCache[KeptPage] = VersionedCache(limit, 30, size=len, key_size=entry_size)
    cache.get(1, page_key("warm-up"))  # the cache learns the version
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1_000):
            host = f"h{n:05d}" + secrets.token_hex(30_000)  # 60 KB, each one different
            cache.put(1, page_key(host), KeptPage.cut(secrets.token_bytes(1_000)))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.used <= limit
    assert held <= limit, f"{held / MiB:.1f} MiB held by a cache of {limit / MiB:.0f} MiB"
    assert 0 < len(cache.entries) < 1_000  # some kept, the least recent dropped


def test_the_cache_counts_each_entrys_key_and_value_and_frees_what_it_drops():
    cache: VersionedCache[KeptPage] = VersionedCache(10_000, 30, size=len, key_size=entry_size)
    cache.get(1, page_key("site.example"))
    short, long = page_key("site.example"), page_key("x" * 3_000)
    cache.put(1, short, KeptPage.cut(b"a" * 100))
    cache.put(1, long, KeptPage.cut(b"b" * 100))
    assert cache.used == 200 + entry_size(short) + entry_size(long)
    assert entry_size(long) - entry_size(short) >= 3_000 - len("site.example")
    cache.put(1, short, KeptPage.cut(b"c" * 10))  # replaced, not counted twice
    assert cache.used == 110 + entry_size(short) + entry_size(long)
    cache.put(1, page_key("y" * 10_000), KeptPage.cut(b"d"))  # too big with its key
    assert len(cache.entries) == 2


def test_a_kept_page_gets_each_readers_token_only_where_the_template_put_it():
    placeholder = new_placeholder()
    assert placeholder != new_placeholder()  # one for each drawing
    written = b"<p>sns-xsrf-token-of-this-reader sns-xsrf-</p>"
    body = b'<meta content="' + placeholder + b'">' + written + b'<input value="' + placeholder
    kept = KeptPage.cut(body + b'">', placeholder)
    for token in (b"2|aa|bb|1", b"s-cc-dd"):
        assert kept.fill(token) == (
            b'<meta content="' + token + b'">' + written + b'<input value="' + token + b'">'
        )
    assert KeptPage.cut(b"{}").fill() == b"{}"


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, deflate", False),
        ("deflate, br", False),
        ("identity", False),
        ("", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_which_clients_take_a_kept_page_gzipped(header, takes):
    assert takes_gzip(header) is takes


def test_a_readers_page_is_kept_compressed_and_gives_back_the_page_as_drawn():
    """A reader's page is kept gzipped (the budget counting that size, a tenth of the page
    here); a browser gets those bytes, a client without gzip the page inflated."""
    body = "<p>안녕 ".encode() * 500
    cache: VersionedCache[ReaderPage] = VersionedCache(10**6, ttl=10, size=len)
    cache.get(1, "page")
    cache.put(1, "page", ReaderPage.of(body))
    kept = cache.get(1, "page")
    assert kept is not None and cache.used == len(kept.gzipped) < len(body) // 10
    assert kept.plain() == body and gzip.decompress(kept.gzipped) == body


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", "<p>하나 TOKEN 둘 TOKEN</p>BADGE 셋 TOKEN".encode() * 300, b"TOKEN" * 3],
)
@pytest.mark.parametrize("token", [b"", b"s-" + b"ab" * 32, b"x" * 70_000])
def test_a_kept_page_gzipped_inflates_to_the_page_filled_in(body, token):
    """The parts compressed once, the reader's token and badge between them as stored
    blocks: what any gzip reader inflates (checksum and length checked) is ``fill``'s page."""
    page = KeptPage.cut(body, b"TOKEN", b"BADGE").compressed()
    badge = "<b>알림 3</b>".encode()
    zipped = page.fill_gzipped(token, badge)
    assert gzip.decompress(zipped) == page.fill(token, badge)
    assert zlib.decompress(zipped, 31) == page.fill(token, badge)


def test_a_page_with_a_few_tokens_goes_out_a_fraction_of_its_size():
    article = "<article><p>오늘 노드를 배웠다 #tag</p><a href='/user/1'>user1</a></article>\n"
    body = (article * 200 + "<form>TOKEN</form>" + article * 200).encode()
    page = KeptPage.cut(body, b"TOKEN").compressed()
    assert len(page.fill_gzipped(b"s-" + b"ab" * 32)) < len(body) // 20


def test_a_token_is_never_compressed_with_the_page():
    """The token sits in stored blocks: it shows in the gzip bytes as it is (BREACH)."""
    page = KeptPage.cut(b"<form>TOKEN</form>" * 50, b"TOKEN").compressed()
    token = b"s-" + secrets.token_hex(32).encode()
    assert page.fill_gzipped(token).count(token) == 50


def test_a_read_of_an_older_version_is_served_the_newer_and_empties_nothing():
    """A request that read the version before the newest write is in flight while others
    read the new one: it is served what was kept for the new version (newer than what it
    read), and that stays (when it emptied the cache, the cache flipped between the two
    and kept nothing while others wrote). What it drew is not kept."""
    cache: VersionedCache[KeptPage] = VersionedCache(10_000, 30, size=len)
    cache.get(2, "page")
    cache.put(2, "page", KeptPage.cut(b"new"))
    served = cache.get(1, "page")
    assert served is not None and served.fill() == b"new"
    assert cache.get(1, "other") is None
    cache.put(1, "other", KeptPage.cut(b"old"))
    assert cache.get(2, "other") is None
    kept = cache.get(2, "page")
    assert kept is not None and kept.fill() == b"new"
    assert cache.get(3, "page") is None  # a newer version empties it
    assert cache.get(2, "page") is None


def test_the_redis_site_version_never_goes_back_when_redis_loses_it(redis_server):
    """Caches ignore reads of older versions, so a Redis that lost the counter must not
    start it again from 0: it starts at the time, above anything counted before."""
    from redis.asyncio import Redis

    from sns.redis_store import RedisKeys
    from sns.redis_versions import RedisSiteVersion

    async def run() -> list[int]:
        redis = Redis.from_url(redis_server.url)
        version = RedisSiteVersion(redis, RedisKeys(f"lost-{secrets.token_hex(4)}:"))
        try:
            seen = [await version.current()]
            await version.bump()
            seen.append(await version.current())
            await redis.delete(version.key)  # lost: a restart without its data
            seen.append(await version.current())
            await redis.delete(version.key)
            await version.bump()  # the first thing after the loss is a write
            seen.append(await version.current())
            return seen
        finally:
            await redis.aclose()

    first, bumped, after_loss, bumped_after_loss = asyncio.run(run())
    assert bumped == first + 1
    assert after_loss > bumped and bumped_after_loss > after_loss
