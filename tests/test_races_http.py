"""Deletion racing with other writes, on both databases, with concurrent clients.

An account deleted while another of its sessions is liking must leave every like count equal
to the rows in ``likes`` and no like of its own behind. A post deleted while others like,
comment on or reply to it answers each of them 200/201 (before) or 404 (after), never 500.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from sqlalchemy import func, select

from sns.schema import comments, likes, post_hashtags, posts
from testkit.sns import PASSWORD, Client

JSON = {"Accept": "application/json"}


def new_post(client: Client, text: str) -> int:
    response = client.post("/post", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


def together(calls: list, workers: int = 16) -> list:
    """Run the calls at once (released by one barrier) and return their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=max(workers, len(calls))) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_deleting_an_account_while_it_likes_keeps_every_count_exact(shared_server, backend):
    server = shared_server(backend)
    author = server.client()
    author.join()
    post_ids = [new_post(author, f"like me {n}") for n in range(12)]
    for round_ in range(3):
        liker = server.client()
        who = liker.join()
        other_device = server.client()
        assert other_device.login(who["email"], PASSWORD).status_code == 302
        liker_id = liker.user_id()
        like_calls = [partial(liker.post, f"/post/{pid}/like", headers=JSON) for pid in post_ids]
        delete_call = partial(
            other_device.post, "/account/delete", {"password": PASSWORD}, allow_redirects=False
        )
        answers = together([*like_calls, delete_call])
        assert answers[-1].status_code == 302, f"round {round_}: {answers[-1].text[:200]}"
        assert {a.status_code for a in answers[:-1]} <= {200, 401, 404}, [
            a.status_code for a in answers[:-1]
        ]
        with server.sql() as conn:
            left = conn.execute(
                select(func.count()).select_from(likes).where(likes.c.user_id == liker_id)
            ).scalar()
            counts = conn.execute(
                select(posts.c.id, posts.c.like_count).where(posts.c.id.in_(post_ids))
            ).all()
            rows = dict(
                conn.execute(
                    select(likes.c.post_id, func.count())
                    .where(likes.c.post_id.in_(post_ids))
                    .group_by(likes.c.post_id)
                ).all()
            )
        assert left == 0, f"round {round_}: {left} likes of the deleted account stayed"
        wrong = {
            pid: (count, rows.get(pid, 0)) for pid, count in counts if count != rows.get(pid, 0)
        }
        assert wrong == {}, f"round {round_}: like_count vs rows: {wrong}"


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_deleting_a_post_while_others_act_on_it_answers_404_not_500(shared_server, backend):
    server = shared_server(backend)
    author = server.client()
    author.join()
    people = [server.client() for _ in range(8)]
    for person in people:
        person.join()
    for round_ in range(3):
        post_id = new_post(author, f"#doomed post {round_}")
        first = people[0].post(f"/comment/{post_id}", {"content": "first"}, headers=JSON)
        comment_id = first.json()["payload"]["id"]
        calls = []
        for person in people:
            calls += [
                partial(person.post, f"/post/{post_id}/like", headers=JSON),
                partial(person.post, f"/comment/{post_id}", {"content": "c"}, headers=JSON),
                partial(
                    person.post, f"/comment/reply/{comment_id}", {"content": "r"}, headers=JSON
                ),
            ]
        delete = partial(author.post, f"/post/{post_id}/delete", headers=JSON)
        calls.insert(len(calls) // 2, delete)
        answers = together(calls)
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) <= {200, 201, 404}, f"round {round_}: {statuses}"
        with server.sql() as conn:
            for table, column in (
                (posts, posts.c.id),
                (comments, comments.c.post_id),
                (likes, likes.c.post_id),
                (post_hashtags, post_hashtags.c.post_id),
            ):
                left = conn.execute(
                    select(func.count()).select_from(table).where(column == post_id)
                ).scalar()
                assert left == 0, f"round {round_}: {left} rows left in {table.name}"
