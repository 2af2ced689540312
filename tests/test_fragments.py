"""The fragment cache's own rules (``sns.fragments``): each reader's parts chosen for them,
a key that moves with everything a post is drawn from, a bounded memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from sns.comments import CommentView
from sns.fragments import (
    AUTHOR,
    LIKE,
    NOT_MINE,
    SLOT,
    TIME,
    Fragment,
    FragmentCache,
    RelativeTimes,
    Slot,
    post_key,
)
from sns.handles import Mentioned
from sns.pictures import Picture
from sns.post_views import PostView

WHEN = datetime(2026, 12, 1, 9, 0, 0)


def post(**changes: object) -> PostView:
    comment = CommentView(
        id=7, post_id=1, parent_id=None, content="hi", created_at=WHEN, author_id=3, author_nick="c"
    )
    base = PostView(
        id=1,
        content="words",
        img=None,
        like_count=2,
        created_at=WHEN,
        updated_at=WHEN,
        author_id=5,
        author_nick="author",
        comments=(comment,),
        comment_count=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def drawn() -> Fragment:
    slots = [
        Slot(TIME, WHEN),
        Slot(LIKE, variants=(b"<like>", b"<unlike>")),
        Slot(AUTHOR, variants=(b"<follow>", b"<unfollow>", b"<edit>")),
        Slot(NOT_MINE, 3, (b"", b"<report>")),
    ]
    return Fragment.cut(SLOT.join([b"[a", b"b", b"c", b"d", b"]"]), slots)


def filled(fragment: Fragment, viewer: int | None, view: PostView) -> bytes:
    out: list[bytes] = []
    fragment.fill(out, viewer, view, lambda moment: b"now")
    return b"".join(out)


def test_each_reader_gets_their_own_heart_buttons_and_report_links():
    fragment = drawn()
    assert filled(fragment, 9, post()) == b"[anowb<like>c<follow>d<report>]"
    assert filled(fragment, 9, post(liked=True, author_followed=True)) == (
        b"[anowb<unlike>c<unfollow>d<report>]"
    )
    assert filled(fragment, 5, post()) == b"[anowb<like>c<edit>d<report>]"  # the author
    assert filled(fragment, 3, post()) == b"[anowb<like>c<follow>d]"  # the commenter


def test_a_drawing_whose_markers_do_not_match_its_slots_is_refused():
    with pytest.raises(ValueError):
        Fragment.cut(b"a" + SLOT + b"b", [])


def test_the_key_moves_with_what_everyone_sees_and_not_with_the_readers_own_state():
    key = post_key(post(), "en_US", True)
    assert post_key(post(liked=True, author_followed=True), "en_US", True) == key
    for changed in (
        post(content="edited"),
        post(like_count=3),
        post(updated_at=datetime(2026, 12, 1, 9, 5)),
        post(author_nick="renamed"),
        post(author_avatar="face.jpg"),
        post(author_handle="h"),
        post(hidden_at=WHEN),
        post(comments=()),
        post(pictures=(Picture("p.jpg"),)),
        post(pictures=(Picture("p.jpg", thumbnails=True),)),
        post(mentions={"bo": Mentioned(4, "bo")}),
    ):
        assert post_key(changed, "en_US", True) != key
    assert post_key(post(), "ko_KR", True) != key
    assert post_key(post(), "en_US", False) != key


def test_the_cache_keeps_at_most_its_budget_least_recently_used_out_first():
    fragment = drawn()
    budget = 3 * (fragment.size + FragmentCache.ENTRY_OVERHEAD)
    cache = FragmentCache(budget)
    for number in range(3):
        cache.put(number, fragment)
    assert cache.get(0) is fragment  # 0 is now the most recently used
    cache.put(3, fragment)
    assert cache.get(1) is None and cache.get(0) is fragment and cache.get(3) is fragment
    assert cache.used <= budget
    assert FragmentCache(0).get(0) is None


def test_relative_times_are_worked_out_once_a_second_per_time_and_language():
    now = [100.2]
    times = RelativeTimes(clock=lambda: now[0])
    drawn_for: list[datetime] = []

    def draw(moment: datetime) -> bytes:
        drawn_for.append(moment)
        return str(len(drawn_for)).encode()

    assert times.get(WHEN, "en_US", draw) == b"1"
    assert times.get(WHEN, "en_US", draw) == b"1"
    assert times.get(WHEN, "ko_KR", draw) == b"2"
    now[0] = 101.0
    assert times.get(WHEN, "en_US", draw) == b"3"
