"""Migration 0005 (#19): every post's one picture becomes its first picture, on both
databases; a post older than the uploads table gets an uploads row for its picture."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from sns.db import alembic_config, migrate_url
from tests.conftest import new_mariadb_url
from tests.test_migrations import schema_state, sync_url

OLD = "20260101000000_AAAAAAAAAAAAAAAA.jpg"
OLDER = "20250101000000_BBBBBBBBBBBBBBBB.png"


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_an_old_posts_picture_survives_the_upgrade(request, backend, tmp_path) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        url = new_mariadb_url(request.getfixturevalue("mariadb"))
    command.upgrade(alembic_config(url), "0004")
    now = datetime(2026, 11, 30, 12, 0, 0)
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, nick, password_hash, created_at)"
                    " VALUES (1, 'a@example.com', 'a', 'x', :t)"
                ),
                {"t": now},
            )
            for post_id, img in ((1, OLD), (2, None), (3, OLDER)):
                conn.execute(
                    text(
                        "INSERT INTO posts (id, user_id, content, img, created_at, updated_at)"
                        " VALUES (:id, 1, 'old', :img, :t, :t)"
                    ),
                    {"id": post_id, "img": img, "t": now},
                )
            # Post 1's upload is recorded (since 0003); post 3 is older than that.
            conn.execute(
                text(
                    "INSERT INTO uploads (name, user_id, bytes, created_at) VALUES (:n, 1, 9, :t)"
                ),
                {"n": OLD, "t": now},
            )
        asyncio.run(migrate_url(url))
        assert schema_state(url)[1] == []
        with engine.connect() as conn:
            pictures = conn.execute(
                text("SELECT post_id, position, name, alt FROM post_pictures ORDER BY post_id")
            ).all()
            owners = dict(conn.execute(text("SELECT name, user_id FROM uploads")).all())
            covers = dict(conn.execute(text("SELECT id, img FROM posts")).all())
    finally:
        engine.dispose()
    assert [tuple(row) for row in pictures] == [(1, 0, OLD, ""), (3, 0, OLDER, "")]
    assert owners == {OLD: 1, OLDER: 1}
    assert covers == {1: OLD, 2: None, 3: OLDER}
