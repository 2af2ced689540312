"""Every timeline page costs the same number of SQL statements at any database size."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest
from sqlalchemy import insert, text

from sns.db import Database, utcnow
from sns.safety import fold_word
from sns.schema import blocks, muted_words, mutes, users
from sns.statements import start_counting
from testkit.sns import Client
from tests.images import png, upload

JSON = {"Accept": "application/json"}
PAGES = (
    "/",
    "/following",
    "/hashtag?hashtag=qc",
    "/user/{author}",
    "/likes",
    "/search?q=qc",  # one term: the index walked like a hashtag
    "/search?q=qc+post",  # two terms: one capped count first, to walk the rarer
)


def post_with_thread(
    author: Client, commenters: list[Client], liker: Client, number: int, pictures: int = 0
) -> None:
    form: dict[str, object] = {"content": f"#qc post {number}"}
    if pictures:
        answers = [upload(author, png(8, 6)).json() for _ in range(pictures)]
        form.update(url=[a["url"] for a in answers], alt=[f"alt {n}" for n in range(pictures)])
    response = author.post("/post", form, headers=JSON)
    post_id = response.json()["payload"]["id"]
    for commenter in commenters:
        comment = commenter.post(f"/comment/{post_id}", {"content": f"c{number}"}, headers=JSON)
        author.post(
            f"/comment/reply/{comment.json()['payload']['id']}", {"content": "r"}, headers=JSON
        )
    assert liker.post(f"/post/{post_id}/like", headers=JSON).status_code == 200


def statements(client: Client, path: str) -> int:
    client.get(path)  # the first visit may refresh the session's expiry; measure the next
    response = client.get(path)
    assert response.status_code == 200, path
    assert len(re.findall(r'data-post-id="\d+"', response.text)) == 20, path
    assert 'class="comment reply"' in response.text, path
    return int(response.headers["X-SNS-Queries"])


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_timeline_pages_cost_a_fixed_number_of_queries(make_server, backend):
    # Drawing is what is measured here, so no page is kept for reuse.
    # One author writes 52 posts and many replies here: past the flood limits (#21), which
    # tests/test_floods_http.py shows biting at their defaults.
    server = make_server(
        backend,
        SNS_QUERY_COUNT_HEADER="true",
        SNS_PAGE_SIZE="20",
        SNS_PAGE_CACHE_BYTES="0",
        SNS_POSTS_PER_WINDOW="1000",
        SNS_COMMENTS_PER_WINDOW="1000",
    )
    viewer, author = server.client(), server.client()
    viewer.join(nick="viewer")
    author.join(nick="author")
    author_id = author.user_id()
    viewer.post(f"/user/{author_id}/follow")
    commenters = [server.client() for _ in range(2)]
    for commenter in commenters:
        commenter.join()
    for number in range(22):
        post_with_thread(author, commenters, viewer, number)
    paths = [path.format(author=author_id) for path in PAGES]
    small = {path: statements(viewer, path) for path in paths}

    more = [server.client() for _ in range(4)]
    for commenter in more:
        commenter.join()
    for number in range(22, 32):
        # Older than every page's 20: they only make the database larger.
        assert author.post("/post", {"content": f"#qc post {number}"}).ok
    for number in range(32, 52):
        # Pictures (1-4) on some posts: read for the whole page at once (#19).
        pictures = number % 5 if number < 42 else 0
        post_with_thread(author, commenters + more, viewer, number, pictures)
    large = {path: statements(viewer, path) for path in paths}
    assert 'class="post-pictures count-4' in viewer.get("/").text

    assert small == large
    # Session, user, profile box, then the page: a handful, counting SQLite's BEGINs.
    assert max(large.values()) <= 16, large


# What a fetch action runs, statement by statement (SQLite also counts each BEGIN): only
# when anything was written since this process last read them, the session (SQL store
# only: Redis holds the other's) and the user; then the action's own transaction. The
# sidebar's follow counts are not among them: only a drawn page fetches those.
SESSION = {"sqlite": 2, "mariadb": 0}
USER = {"sqlite": 2, "mariadb": 1}
# BEGIN, lock the liker, lock the post, is it visible, a block between them?, insert, +1,
# state; then the author's notification (#20): may the liker reach them (a block or a
# mute, #21)?, look for an open group, make one, add the liker to it, order it
LIKE = {"sqlite": 13, "mariadb": 12}
# BEGIN, lock the post (for share), is it visible, a block between them?, insert, read it
# back; then the author's notification: may the commenter reach them?, make it, add the
# commenter, order it
COMMENT = {"sqlite": 10, "mariadb": 9}
# The header's unread count (#20): read for every page, a kept one too (it moves without the
# reader's doing); on a drawn page it comes with the sidebar's counts, in their query.
UNREAD = {"sqlite": 2, "mariadb": 1}


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_fetch_action_does_not_pay_for_the_sidebar(make_server, backend):
    server = make_server(backend, SNS_QUERY_COUNT_HEADER="true")
    reader, author = server.client(), server.client()
    reader.join()
    author.join()
    post_id = author.post("/post", {"content": "like me"}, headers=JSON).json()["payload"]["id"]
    reader.get("/")  # the first visit may refresh the session's expiry; measure the next ones

    like = reader.post(f"/post/{post_id}/like", headers=JSON)
    comment = reader.post(f"/comment/{post_id}", {"content": "hi"}, headers=JSON)
    page = reader.get("/")

    # Nothing was written between the page and the like: the session and the user read for
    # the page serve.
    # After the commit, the post's author's new unread count is read once, for the header
    # of their open pages (the live push, #20).
    assert int(like.headers["X-SNS-Queries"]) == LIKE[backend] + UNREAD[backend]
    # The like was a write, so the first request after it reads the session and user again:
    # here the comment's, as nothing else comes between (the client keeps its form token
    # for the session, not for each re-signed cookie, which once cost a GET / in between
    # whenever a second turned: that page read them at the new version, not the comment).
    assert int(comment.headers["X-SNS-Queries"]) == (
        SESSION[backend] + USER[backend] + COMMENT[backend] + UNREAD[backend]
    )
    assert 'class="following-count"' in page.text  # a page does show the sidebar's counts


def at_once(clients: list[Client], path: str) -> list:
    """Each client asks for ``path``, all released at the same moment."""
    start = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def ask(number: int) -> None:
        start.wait()
        answers[number] = clients[number].get(path)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_shared_page_missed_by_many_at_once_is_drawn_once(make_server, backend):
    """Right after a write, every visitor asking for the anonymous page at that moment
    misses it; one draws it and the others wait for it and are served it, instead of each
    drawing it again (``CachingHandler._after_drawing``)."""
    server = make_server(backend, SNS_QUERY_COUNT_HEADER="true")
    author = server.client()
    author.join()
    visitors = [server.client() for _ in range(16)]
    for round_number in range(3):
        author.post("/post", {"content": f"round {round_number}"}, headers=JSON)
        answers = at_once(visitors, "/")
        assert all(r.status_code == 200 and f"round {round_number}" in r.text for r in answers)
        counts = [int(r.headers["X-SNS-Queries"]) for r in answers]
        assert sum(1 for count in counts if count) == 1, counts  # one drew; the rest waited


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_page_served_again_costs_no_statement(make_server, backend):
    server = make_server(backend, SNS_QUERY_COUNT_HEADER="true")
    reader, author = server.client(), server.client()
    reader.join(nick="again")
    author.join()
    author.post("/post", {"content": "#again seen twice"}, headers=JSON)
    for path in ("/", "/hashtag?hashtag=again", "/following", "/likes", "/profile"):
        first = reader.get(path)
        again = reader.get(path)
        assert again.status_code == 200, path
        # Session, user, the reader's unread count and page are all kept.
        assert int(again.headers["X-SNS-Queries"]) == 0, path
        # The first was drawn (with Redis, what another page read already is kept: the
        # reader's row, counts and hearts, and the posts everyone shares).
        assert int(first.headers["X-SNS-Queries"]) > 0, path
        # The same page (a reader's kept page carries the token it was drawn with).
        token = re.compile(r'name="_xsrf" value="[^"]+"|name="xsrf-token" content="[^"]+"')
        assert token.sub("", again.text) == token.sub("", first.text), path
        assert "again" in again.text
        assert "sns-xsrf-" not in first.text + again.text  # the placeholder never leaves
    anonymous = server.client()
    anonymous.get("/")
    assert int(anonymous.get("/").headers["X-SNS-Queries"]) == 0


async def _select(db: Database) -> None:
    async with db.read() as conn:
        await conn.execute(text("SELECT 1"))


async def _request(db: Database, selects: int, pause: asyncio.Event | None = None) -> int:
    """What a request does to the counter: start counting, read (some of it in tasks of its
    own, as pages do with ``asyncio.gather``), perhaps wait for another request meanwhile."""
    tally = start_counting()
    await _select(db)
    if pause is not None:
        await pause.wait()
    await asyncio.gather(*(_select(db) for _ in range(selects)))
    return tally.count


def test_overlapping_requests_each_count_only_their_own_statements(tmp_path):
    async def main() -> tuple[int, int, int, int]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'count.sqlite3'}")
        try:
            alone_a, alone_b = await _request(db, 2), await _request(db, 5)
            # A starts and waits; B runs all of its statements meanwhile; then A ends.
            b_finished = asyncio.Event()
            a = asyncio.create_task(_request(db, 2, pause=b_finished))
            await asyncio.sleep(0.05)
            b = await asyncio.create_task(_request(db, 5))
            b_finished.set()
            return alone_a, alone_b, await a, b
        finally:
            await db.dispose()

    alone_a, alone_b, overlapped_a, overlapped_b = asyncio.run(main())
    assert alone_a < alone_b
    assert overlapped_a == alone_a  # not the statements B ran while A was in flight
    assert overlapped_b == alone_b


def test_two_overlapping_requests_each_get_their_own_count(make_server):
    server = make_server(
        "sqlite",
        SNS_QUERY_COUNT_HEADER="true",
        SNS_BCRYPT_ROUNDS="13",
        SNS_PAGE_CACHE_BYTES="0",
    )
    who, reader = server.client().join(), server.client()
    reader.join()
    reader.get("/")

    def login() -> int:
        response = server.client().login(who["email"], who["password"])
        return int(response.headers["X-SNS-Queries"])

    login_alone = login()
    reader.get("/")  # after the login's writes, the page reads its user again: settle that
    page_alone = int(reader.get("/").headers["X-SNS-Queries"])
    counts: list[int] = []
    slow = threading.Thread(target=lambda: counts.append(login()))
    slow.start()  # bcrypt holds the login for a while: the page is served meanwhile
    time.sleep(0.2)
    page = int(reader.get("/").headers["X-SNS-Queries"])
    slow.join()
    assert (counts[0], page) == (login_alone, page_alone)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_pages_cost_the_same_with_50_blocks_mutes_and_muted_words(make_server, backend):
    """Blocks, mutes and muted words filter inside each page's own statements (#21)."""
    server = make_server(
        backend, SNS_QUERY_COUNT_HEADER="true", SNS_PAGE_SIZE="20", SNS_PAGE_CACHE_BYTES="0"
    )
    viewer, author = server.client(), server.client()
    viewer.join(nick="viewer")
    author.join(nick="author")
    viewer_id, author_id = viewer.user_id(), author.user_id()
    viewer.post(f"/user/{author_id}/follow")
    commenters = [server.client() for _ in range(2)]
    for commenter in commenters:
        commenter.join()
    for number in range(22):
        post_with_thread(author, commenters, viewer, number)
    paths = [path.format(author=author_id) for path in PAGES]
    none = {path: statements(viewer, path) for path in paths}

    now = utcnow()
    with server.sql() as sql:
        others = []
        for number in range(50):
            made = sql.execute(
                insert(users).values(nick=f"other{number}", provider="local", created_at=now)
            )
            others.append(made.inserted_primary_key[0])
        sql.execute(
            insert(blocks),
            [{"blocker_id": viewer_id, "blocked_id": o, "created_at": now} for o in others[:25]]
            + [{"blocker_id": o, "blocked_id": viewer_id, "created_at": now} for o in others[25:]],
        )
        sql.execute(
            insert(mutes),
            [{"muter_id": viewer_id, "muted_id": o, "created_at": now} for o in others],
        )
        words = [fold_word(f"quiet{number}") for number in range(50)]
        sql.execute(
            insert(muted_words),
            [
                {
                    "user_id": viewer_id,
                    "word": word.folded,
                    "folded": word.folded,
                    "term": word.term,
                    "pattern": word.pattern,
                    "created_at": now,
                }
                for word in words
            ],
        )
    fifty = {path: statements(viewer, path) for path in paths}
    assert fifty == none
