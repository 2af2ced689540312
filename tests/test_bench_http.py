"""bench/http_bench.py's fill: what the benchmark measures must be a consistent database.

The benchmark itself never runs in the suite; this loads a tiny database on SQLite (about a
second: one bcrypt hash at cost 12, a few hundred rows) and checks what the scenarios rely on.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.http_bench import QUIET, USERS, fill
from sns.schema import follows, hashtags, post_hashtags, posts, search_terms


def test_fill_is_consistent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sns.sqlite3'}"
    fixture = fill(url, 60)
    counts = fixture.counts
    assert counts["posts"] == 60
    assert counts["users"] == USERS
    assert counts["like_count_wrong"] == 0  # posts.like_count agrees with the likes table
    assert counts["likes"] > 0 and counts["comments"] > 0 and counts["follows"] > 0
    assert counts["search_terms"] > counts["posts"]  # a body row and terms for every post
    engine = create_engine(f"sqlite:///{tmp_path / 'sns.sqlite3'}")
    try:
        with engine.connect() as conn:
            # Every post carries a hashtag, and the popular one has the most posts.
            tagged = conn.execute(
                select(func.count(func.distinct(post_hashtags.c.post_id)))
            ).scalar_one()
            assert tagged == 60
            per_tag = dict(
                conn.execute(
                    select(hashtags.c.title, func.count())
                    .join(post_hashtags, post_hashtags.c.hashtag_id == hashtags.c.id)
                    .group_by(hashtags.c.title)
                ).all()
            )
            assert per_tag[fixture.popular_tag] == max(per_tag.values())
            # The quiet follower follows only accounts with a single post each.
            followed = (
                conn.execute(select(follows.c.following_id).where(follows.c.follower_id == 2))
                .scalars()
                .all()
            )
            assert sorted(followed) == list(range(USERS - QUIET + 1, USERS + 1))
            for user_id in followed:
                written = conn.execute(
                    select(func.count()).where(posts.c.user_id == user_id)
                ).scalar_one()
                assert written == 1
            # Each post's body row is in the search index.
            bodies = conn.execute(
                select(func.count()).where(search_terms.c.term == "")
            ).scalar_one()
            assert bodies == 60
    finally:
        engine.dispose()
