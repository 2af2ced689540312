"""Handles and mentions as text: what a handle may be, and which ``@`` name whom."""

from __future__ import annotations

import pytest

from sns.errors import Invalid
from sns.handles import (
    Mentioned,
    clean_handle,
    fold_handle,
    handle_base,
    handle_candidates,
    keys_of,
    mention_spans,
    mentioned_ids,
    split_mentions,
)
from sns.pagecache import KeptPage

KNOWN = {
    fold_handle("mina"): Mentioned(1, "Mina"),
    fold_handle("미나"): Mentioned(2, "미나"),
    fold_handle("mi"): Mentioned(3, "mi"),
    fold_handle("node_js"): Mentioned(4, "node_js"),
}


def mentioned(content: str) -> list[str]:
    return [content[start:end] for start, end, _ in mention_spans(content, KNOWN)]


@pytest.mark.parametrize(
    ("content", "found"),
    [
        ("hi @mina", ["@mina"]),
        ("@MINA and @Mina!", ["@MINA", "@Mina"]),
        ("(@미나) 안녕", ["@미나"]),
        ("@미나님 고마워요", ["@미나"]),  # a particle: the longest handle that is a prefix
        ("@mina에게 물어봐", ["@mina"]),
        ("@mina야 @미나가", ["@mina", "@미나"]),
        ("write to a@mina.com", []),  # an e-mail address
        ("x.y@mina", []),
        ("first-@mina", []),
        ("inside@mina words", []),  # inside a word
        ("@mina@example.com", []),
        ("@minaxyz", []),  # not a particle: no shorter handle is taken for it
        ("@minas", []),
        ("@nobody here", []),  # no such handle
        ("@node_js rocks", ["@node_js"]),
        ("#tag@mina", []),
        ("@", []),
        ("@@mina", []),
    ],
)
def test_which_at_signs_name_whom(content, found):
    assert mentioned(content) == found


def test_the_longest_existing_handle_wins_over_a_shorter_one():
    assert [p.user_id for _, _, p in mention_spans("@mina님", KNOWN)] == [1]
    assert [p.user_id for _, _, p in mention_spans("@mi님", KNOWN)] == [3]


def test_each_person_is_mentioned_once_in_order():
    assert mentioned_ids("@미나 @mina @MINA @미나님", KNOWN) == [2, 1]


def test_a_text_is_cut_at_its_mentions_with_the_particle_left_as_text():
    assert split_mentions("안녕 @미나님!", KNOWN) == [
        ("안녕 ", None),
        ("@미나", KNOWN["미나"]),
        ("님!", None),
    ]


def test_only_texts_with_an_at_sign_ask_for_handles():
    assert keys_of(["no mentions", "a@b.com"]) == set()
    assert {"mina", "mina에", "mina에게"} <= keys_of(["@mina에게"])


@pytest.mark.parametrize("handle", ["mi", "Mina_01", "미나", "ミナ", "Ελένη", "x" * 20, "@mina"])
def test_letters_of_any_script_digits_and_underscore_make_a_handle(handle):
    assert clean_handle(handle) == handle.lstrip("@")


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("m", "at least"),
        ("x" * 21, "at most"),
        ("mi na", "only letters"),
        ("mi-na", "only letters"),
        ("mina.kim", "only letters"),
        ("미나😀", "only letters"),
        ("", "at least"),
    ],
)
def test_a_handle_that_cannot_be_used_says_why(handle, message):
    with pytest.raises(Invalid) as raised:
        clean_handle(handle)
    assert message in raised.value.template
    assert raised.value.field == "handle"


def test_handles_meet_without_regard_to_case():
    assert fold_handle("MiNa") == fold_handle("mina")
    assert fold_handle("Straße") == fold_handle("STRASSE")


def test_a_handle_made_for_someone_who_chose_none():
    assert handle_base("미나 킴", "x@example.com") == "미나킴"
    assert handle_base("!!", "mina.kim@example.com") == "minakim"
    assert handle_base("?", None) == "user"
    assert handle_base("a" * 40, None) == "a" * 16
    taken = {fold_handle("mina"), fold_handle("mina2")}
    assert handle_candidates("Mina", taken)[0] == "Mina3"


def test_a_kept_page_takes_each_readers_token_and_badge_where_they_go():
    token, badge = b"sns-xsrf-token", b"sns-xsrf-badge"
    body = b"<a>" + badge + b"</a><input value=" + token + b"><b>" + token + b"</b>"
    kept = KeptPage.cut(body, token, badge)
    assert kept.fill(b"T", b"[3]") == b"<a>[3]</a><input value=T><b>T</b>"
    assert kept.fill(b"U", b"") == b"<a></a><input value=U><b>U</b>"
    assert KeptPage.cut(b"x" + token + b"y", token, badge).fill(b"T", b"B") == b"xTy"


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_the_migration_gives_every_existing_account_a_unique_handle(request, backend, tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, text

    from sns.db import alembic_config
    from tests.conftest import new_mariadb_url

    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        url = new_mariadb_url(request.getfixturevalue("mariadb"))
    sync_url = url.replace("+aiomysql", "+pymysql").replace("+aiosqlite", "")
    config = alembic_config(url)
    command.upgrade(config, "0004")
    engine = create_engine(sync_url)
    people = [("미나", "a@x.com"), ("미나", "b@x.com"), ("MINA", "c@x.com"), ("!!", "kim.j@x.com")]
    try:
        with engine.begin() as conn:
            for nick, email in people:
                conn.execute(
                    text(
                        "INSERT INTO users (email, nick, provider, created_at, session_version)"
                        " VALUES (:email, :nick, 'local', '2026-01-01', 0)"
                    ),
                    {"email": email, "nick": nick},
                )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT handle, handle_key FROM users ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [row.handle for row in rows] == ["미나", "미나2", "MINA", "kimj"]
    assert [row.handle_key for row in rows] == ["미나", "미나2", "mina", "kimj"]
