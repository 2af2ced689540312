"""bench/http_bench.py's fill: what the benchmark measures must be a consistent database.

The benchmark itself never runs in the suite; this loads a tiny database on SQLite (about a
second: one bcrypt hash at cost 12, a few hundred rows) and checks what the scenarios rely on.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.http_bench import CHEAP_COST, QUIET, USERS, fill
from sns.schema import follows, hashtags, post_hashtags, posts, search_terms, users


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


def test_the_crowd_and_the_writers_can_log_in_cheaply_and_follow_people(tmp_path: Path) -> None:
    """ "A site in use" (#22): 200 readers and 20 writers, each with a password checked at a
    low bcrypt cost (logging them all in must not take the bench a minute), and every
    reader follows at least 10 people, so /following is a real timeline for each."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sns.sqlite3'}"
    fixture = fill(url, 60)
    assert len(fixture.crowd) == 200 and len(fixture.writers) == 20
    assert not set(fixture.crowd) & set(fixture.writers)
    engine = create_engine(f"sqlite:///{tmp_path / 'sns.sqlite3'}")
    try:
        with engine.connect() as conn:
            hashes = dict(conn.execute(select(users.c.id, users.c.password_hash)).all())
            following = dict(
                conn.execute(
                    select(follows.c.follower_id, func.count()).group_by(follows.c.follower_id)
                ).all()
            )
    finally:
        engine.dispose()
    for user_id in [*fixture.crowd, *fixture.writers]:
        assert hashes[user_id].startswith(f"$2b${CHEAP_COST:02d}$")
    assert min(following.get(user_id, 0) for user_id in fixture.crowd) >= 10
