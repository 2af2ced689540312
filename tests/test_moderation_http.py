"""Reports, moderators and what they do (#21), on both backends, with two processes.

Processes A and B share one database (and Redis on the production backend), as in
tests/test_page_cache_http.py: a moderator acts on A and the very next page on B shows it,
with the page cache on. Reports: acknowledged, one per person and thing, bad input refused
with the form refilled. /admin: a 404 to everyone but moderators, whom `run.py admin grant`
makes. Each action (dismiss, hide, delete, suspend) and its audit entry; hidden content
shown to its author only, marked; a suspension ends the account's sessions on the other
process at once and its API token answers 401; `unsuspend` gives it all back.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from testkit.live import next_message, open_live
from testkit.sns import Client, SnsServer
from tests.api_support import call, register_site, token_for
from tests.conftest import BACKENDS
from tests.pairs import Pair, Person, started_pair, unique

ROOT = Path(__file__).resolve().parent.parent
JSON = {"Accept": "application/json"}
NOT_FOUND = "There is no such page."


def moderator(pair: Pair) -> Person:
    """A fresh account made a moderator by ``run.py admin grant``."""
    who = pair.person()
    assert admin(pair.a, "grant", who.email).returncode == 0
    return who


def admin(server: SnsServer, *args: str) -> subprocess.CompletedProcess:
    """``python run.py admin ...`` on the server's own settings."""
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "admin", *args, "--env-file", ""],
        cwd=ROOT,
        env=server.environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Pair]:
    yield from started_pair(request, tmp_path_factory, "moderation")


@pytest.fixture(scope="module")
def mod(pair: Pair) -> Person:
    return moderator(pair)


def write(client: Client, content: str) -> int:
    response = client.post("/post", {"content": content}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


def comment(client: Client, post_id: int, content: str) -> int:
    response = client.post(f"/comment/{post_id}", {"content": content}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


def report(client: Client, kind: str, target: int, reason: str = "spam", note: str = ""):
    return client.post(f"/{kind}/{target}/report", {"reason": reason, "note": note})


def report_id(pair: Pair, kind: str, target: int) -> int:
    with pair.a.sql() as conn:
        return conn.execute(
            text("SELECT id FROM reports WHERE target_kind = :k AND target_id = :t"),
            {"k": kind, "t": target},
        ).scalar_one()


def act(mod: Person, rid: int, action: str, reason: str) -> requests.Response:
    return mod.a.post(f"/admin/report/{rid}/{action}", {"reason": reason}, allow_redirects=False)


def audit_rows(html: str) -> list[str]:
    return re.findall(r'<tr id="audit-\d+"[^>]*>(.*?)</tr>', html, re.S)


def warm(client: Client, *paths: str) -> None:
    for path in paths:
        for _ in range(2):
            assert client.get(path, allow_redirects=False).status_code == 200, path


def shown(html: str, post_id: int) -> bool:
    return f'id="post-{post_id}"' in html


# --- reports --------------------------------------------------------------------------------


def test_a_report_is_acknowledged_and_sending_it_again_makes_no_second_one(pair):
    author, reporter = pair.person(), pair.person()
    post_id = write(author.a, unique("reported "))
    form = reporter.a.get(f"/post/{post_id}/report")
    assert form.status_code == 200 and 'name="reason"' in form.text
    first = report(reporter.a, "post", post_id, "spam", "selling things")
    assert first.status_code == 201
    assert "the moderators will look at your report" in first.text
    again = report(reporter.a, "post", post_id, "abuse", "and rude")
    assert again.status_code == 200
    assert "your report was updated" in again.text
    with pair.a.sql() as conn:
        rows = conn.execute(
            text("SELECT reason, note, target_user_id FROM reports WHERE target_id = :t"),
            {"t": post_id},
        ).all()
    assert [tuple(row) for row in rows] == [("abuse", "and rude", author.id)]
    comment_id = comment(author.a, post_id, "a comment to report")
    assert report(reporter.a, "comment", comment_id, "other").status_code == 201
    assert report(reporter.a, "user", author.id, "abuse").status_code == 201
    fetched = reporter.a.post(
        f"/user/{author.id}/report", {"reason": "spam"}, headers={"Accept": "application/json"}
    )
    assert fetched.status_code == 201
    assert fetched.json()["payload"]["created"] is False


@pytest.mark.parametrize(
    ("reason", "note", "message"),
    [
        ("", "", "Choose a reason: spam, abuse, illegal or other."),
        ("rude", "my note", "Choose a reason: spam, abuse, illegal or other."),
        ("spam", "x" * 1001, "The note is too long: at most 1000 characters."),
    ],
)
def test_a_bad_report_is_refused_with_the_form_refilled(pair, reason, note, message):
    author, reporter = pair.person(), pair.person()
    post_id = write(author.a, unique("target "))
    page = report(reporter.a, "post", post_id, reason, note)
    assert page.status_code == 400
    assert message in page.text
    assert f">{note}</textarea>" in page.text
    fetched = reporter.a.post(
        f"/post/{post_id}/report", {"reason": reason, "note": note}, headers=JSON
    )
    assert fetched.status_code == 400
    assert fetched.json() == {"code": 400, "message": message}
    with pair.a.sql() as conn:
        count = conn.execute(
            text("SELECT COUNT(*) FROM reports WHERE target_id = :t"), {"t": post_id}
        ).scalar()
    assert count == 0


def test_reporting_oneself_nothing_or_logged_out_is_refused(pair):
    someone = pair.person()
    post_id = write(someone.a, unique("mine "))
    assert report(someone.a, "post", post_id).status_code == 400
    assert report(someone.a, "post", 10**15).status_code == 404
    assert report(someone.a, "comment", 10**15).status_code == 404
    stranger = Client(pair.a.url)
    assert stranger.get(f"/post/{post_id}/report", allow_redirects=False).status_code == 302
    assert report(stranger, "post", post_id).status_code == 401


# --- moderators -----------------------------------------------------------------------------


def test_admin_is_the_normal_404_for_everyone_but_moderators(pair):
    someone = pair.person()
    for client in (Client(pair.a.url), someone.a):
        for path in ("/admin", "/admin/log"):
            page = client.get(path, allow_redirects=False)
            assert page.status_code == 404, path
            assert NOT_FOUND in page.text
    granted = admin(pair.a, "grant", someone.email)
    assert granted.returncode == 0, granted.stderr
    assert "is a moderator" in granted.stdout
    assert someone.b.get("/admin").status_code == 200
    assert 'href="/admin"' in someone.b.get("/").text
    revoked = admin(pair.a, "revoke", someone.email)
    assert revoked.returncode == 0, revoked.stderr
    assert someone.b.get("/admin").status_code == 404
    assert 'href="/admin"' not in someone.b.get("/").text
    assert admin(pair.a, "grant", "nobody-" + someone.email).returncode == 1
    assert admin(pair.a, "grant").returncode == 2


def test_grant_and_revoke_are_in_the_audit_log(pair, mod):
    someone = pair.person()
    admin(pair.a, "grant", someone.email, "--reason", "helps out")
    admin(pair.a, "revoke", someone.email, "--reason", "stepped down")
    rows = audit_rows(mod.a.get("/admin/log").text)
    assert "grant user" in rows[1] and "helps out" in rows[1] and "command line" in rows[1]
    assert "revoke user" in rows[0] and "stepped down" in rows[0]


def test_admin_lists_open_reports_newest_first_with_content_and_history(pair, mod):
    author, one, two = pair.person(), pair.person(), pair.person()
    older = write(author.a, unique("older post "))
    newer = write(author.a, unique("newer post "))
    report(one.a, "post", older, "spam", "first note")
    report(two.a, "post", newer, "illegal", "second note")
    page = mod.a.get("/admin").text
    first, second = report_id(pair, "post", newer), report_id(pair, "post", older)
    assert page.index(f'id="report-{first}"') < page.index(f'id="report-{second}"')
    block = page[page.index(f'id="report-{first}"') :]
    block = block[: block.index("</section>")]
    assert "newer post" in block and "second note" in block and author.nick in block
    assert f"History of {author.nick}: 2 reports" in block


def test_dismissing_closes_the_report_keeps_the_post_and_is_logged(pair, mod):
    author, reporter = pair.person(), pair.person()
    post_id = write(author.a, unique("harmless "))
    report(reporter.a, "post", post_id)
    rid = report_id(pair, "post", post_id)
    answer = act(mod, rid, "dismiss", "not spam at all")
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin?done=dismiss"
    assert f'id="report-{rid}"' not in mod.b.get("/admin").text
    assert pair.b.client().get(f"/post/{post_id}").status_code == 200
    row = audit_rows(mod.b.get("/admin/log").text)[0]
    assert f"dismiss post #{post_id}" in row and mod.nick in row and "not spam at all" in row
    assert act(mod, rid, "dismiss", "again").status_code == 409


def test_an_action_needs_a_reason_and_only_a_moderator_may_act(pair, mod):
    author, reporter = pair.person(), pair.person()
    post_id = write(author.a, unique("needs reason "))
    report(reporter.a, "post", post_id)
    rid = report_id(pair, "post", post_id)
    page = act(mod, rid, "hide", "  ")
    assert page.status_code == 400
    assert "Say why: the reason goes into the audit log." in page.text
    assert reporter.a.post(f"/admin/report/{rid}/hide", {"reason": "x"}).status_code == 404
    assert act(mod, rid, "explode", "why").status_code == 404
    assert pair.b.client().get(f"/post/{post_id}").status_code == 200


def test_a_hidden_post_is_gone_for_everyone_but_its_author_who_sees_it_marked(pair, mod):
    author, reporter, reader = pair.person(), pair.person(), pair.person()
    tag = unique("hid")
    post_id = write(author.a, f"#{tag} {tag} hide me")
    site = register_site(reader.a, unique("h") + ".example")
    token = token_for(pair.a, site["clientSecret"])
    paths = ["/", f"/post/{post_id}", f"/user/{author.id}", f"/hashtag?hashtag={tag}"]
    paths.append(f"/search?q={tag}")
    anonymous = Client(pair.b.url)
    assert reader.a.post(f"/user/{author.id}/follow", headers=JSON).status_code == 200
    warm(anonymous, *paths)
    warm(reader.b, *paths, "/following")
    warm(author.b, *paths, "/following")
    assert shown(reader.b.get("/following").text, post_id)
    report(reporter.a, "post", post_id, "abuse")
    assert act(mod, report_id(pair, "post", post_id), "hide", "abusive words").status_code == 302
    for client, seen in ((anonymous, paths), (reader.b, [*paths, "/following"])):
        for path in seen:
            answer = client.get(path)
            if path.startswith("/post/"):
                assert answer.status_code == 404
            else:
                assert not shown(answer.text, post_id), path
    for path in [*paths, "/following"]:
        page = author.b.get(path).text
        assert shown(page, post_id), path
        assert "Hidden by the moderators: only you can see this post." in page
    api = call(pair.b, f"/v2/posts/hashtag/{tag}", token).json()["payload"]
    assert post_id not in [post["id"] for post in api]
    assert reader.a.post(f"/post/{post_id}/like", headers=JSON).status_code == 404
    assert reader.a.post(f"/comment/{post_id}", {"content": "hi"}, headers=JSON).status_code == 404
    row = audit_rows(mod.a.get("/admin/log").text)[0]
    assert f"hide post #{post_id}" in row and "abusive words" in row and "hide me" in row


def test_a_hidden_comment_is_shown_to_its_author_only(pair, mod):
    author, commenter, reporter = pair.person(), pair.person(), pair.person()
    post_id = write(author.a, unique("post with comment "))
    comment_id = comment(commenter.a, post_id, "a nasty comment")
    warm(reporter.b, f"/post/{post_id}")
    report(reporter.a, "comment", comment_id, "abuse")
    assert act(mod, report_id(pair, "comment", comment_id), "hide", "nasty").status_code == 302
    assert f'id="comment-{comment_id}"' not in reporter.b.get(f"/post/{post_id}").text
    assert f'id="comment-{comment_id}"' not in author.b.get("/").text
    mine = commenter.b.get(f"/post/{post_id}").text
    assert f'id="comment-{comment_id}"' in mine
    assert "Hidden by the moderators: only you can see it." in mine


def test_a_deleted_post_is_gone_for_its_author_too_and_its_text_stays_in_the_log(pair, mod):
    author, reporter = pair.person(), pair.person()
    words = unique("delete me ")
    post_id = write(author.a, words)
    warm(author.b, "/", f"/user/{author.id}")
    report(reporter.a, "post", post_id, "illegal")
    assert act(mod, report_id(pair, "post", post_id), "delete", "illegal offer").status_code == 302
    assert not shown(author.b.get("/").text, post_id)
    assert author.b.get(f"/post/{post_id}").status_code == 404
    row = audit_rows(mod.b.get("/admin/log").text)[0]
    assert f"delete post #{post_id}" in row and words in row and "illegal offer" in row


def unread(client: Client) -> int:
    """The header's unread count on the person's home page."""
    return int(re.search(r'id="unread-count"[^>]*data-count="(\d+)"', client.get("/").text)[1])


def deleted_while_watched(pair: Pair, mod: Person, watcher: Person, kind: str, target: int):
    """The moderator deletes ``target`` (reported first) while ``watcher`` has a page open
    on A: what that page's live socket hears next."""
    report(pair.person().a, kind, target, "abuse")
    rid = report_id(pair, kind, target)

    async def scenario():
        live = await open_live(pair.a, watcher.a, "")
        try:
            acted = await asyncio.to_thread(act, mod, rid, "delete", "abusive")
            assert acted.status_code == 302
            return await next_message(live, 5)
        finally:
            live.close()

    return asyncio.run(scenario())


def test_a_deleted_comment_takes_its_notifications_and_the_open_page_hears_it(pair, mod):
    """#20: a deleted comment takes its notifications with it; the header of a page
    left open counts them out at once, as it counted them in."""
    author, commenter, replier = pair.person(), pair.person(), pair.person()
    post_id = write(author.a, unique("comment on me "))
    comment_id = comment(commenter.a, post_id, "a rude comment")
    response = replier.a.post(f"/comment/reply/{comment_id}", {"content": "hm"}, headers=JSON)
    assert response.status_code == 201
    assert unread(author.a) == 1 and unread(commenter.a) == 1
    heard = deleted_while_watched(pair, mod, author, "comment", comment_id)
    assert heard == {"type": "unread", "count": 0}
    assert unread(author.a) == 0 and unread(commenter.a) == 0
    assert "#comment-" not in author.a.get("/notifications").text


def test_a_deleted_post_takes_its_mentions_and_the_open_page_hears_it(pair, mod):
    named, writer = pair.person(), pair.person()
    handle = unique("m")
    assert named.a.post("/account/handle", {"handle": handle}).status_code in (200, 302)
    post_id = write(writer.a, f"@{handle} look")
    assert unread(named.a) == 1
    heard = deleted_while_watched(pair, mod, named, "post", post_id)
    assert heard == {"type": "unread", "count": 0}
    assert unread(named.a) == 0


def test_a_suspension_ends_sessions_on_the_other_process_and_the_api_token(pair, mod):
    author, reporter, reader = pair.person(), pair.person(), pair.person()
    words = unique("suspend my author ")
    post_id = write(author.a, words)
    comment_id = comment(author.a, write(reader.a, unique("reader post ")), "author's comment")
    token = token_for(pair.a, register_site(author.a, unique("s") + ".example")["clientSecret"])
    assert call(pair.b, "/v2/posts/my", token).status_code == 200
    warm(author.b, "/", "/following")
    warm(reader.b, "/", f"/user/{author.id}")
    report(reporter.a, "user", author.id, "spam", "a bot")
    rid = report_id(pair, "user", author.id)
    assert act(mod, rid, "suspend", "spam bot").status_code == 302

    page = author.b.get("/")
    assert page.status_code == 200 and 'class="profile-box"' not in page.text
    assert author.b.get("/following", allow_redirects=False).status_code == 302
    assert call(pair.b, "/v2/posts/my", token).status_code == 401
    assert not shown(reader.b.get("/").text, post_id)
    assert f'id="comment-{comment_id}"' not in reader.b.get("/").text
    assert reader.b.get(f"/user/{author.id}").status_code == 404
    refused = Client(pair.b.url).login(author.email)
    assert refused.status_code == 403
    assert "This account was suspended by the moderators." in refused.text
    with pair.a.sql() as conn:
        if pair.backend == "sqlite":
            left = conn.execute(
                text("SELECT COUNT(*) FROM sessions WHERE user_id = :u"), {"u": author.id}
            ).scalar()
            assert left == 0
    row = audit_rows(mod.a.get("/admin/log").text)[0]
    assert f"suspend user #{author.id}" in row and "spam bot" in row

    lifted = admin(pair.a, "unsuspend", author.email, "--reason", "appealed")
    assert lifted.returncode == 0, lifted.stderr
    assert "is no longer suspended" in lifted.stdout
    assert shown(reader.b.get("/").text, post_id)
    back = Client(pair.b.url)
    assert back.login(author.email).status_code == 302
    assert call(pair.b, "/v2/posts/my", token).status_code == 200
    assert "unsuspend user" in audit_rows(mod.a.get("/admin/log").text)[0]


def test_the_command_line_suspends_and_ends_a_redis_or_sql_session_at_once(pair):
    someone = pair.person()
    warm(someone.b, "/")
    done = admin(pair.a, "suspend", someone.email, "--reason", "by hand")
    assert done.returncode == 0, done.stderr
    assert 'class="profile-box"' not in someone.b.get("/").text
    assert admin(pair.a, "suspend", someone.email).stdout.endswith("nothing changed.\n")


def unsuspend(mod: Person, user_id: int, reason: str, **kwargs) -> requests.Response:
    return mod.a.post(
        f"/admin/user/{user_id}/unsuspend", {"reason": reason}, allow_redirects=False, **kwargs
    )


def test_a_moderator_lifts_a_suspension_from_admin_and_what_was_hidden_apart_stays_hidden(
    pair, mod
):
    author, reporter, reader = pair.person(), pair.person(), pair.person()
    kept = write(author.a, unique("comes back "))
    hidden = write(author.a, unique("stays hidden "))
    comment_id = comment(author.a, write(reader.a, unique("reader's post ")), "comes back too")
    token = token_for(pair.a, register_site(author.a, unique("u") + ".example")["clientSecret"])
    report(reporter.a, "post", hidden, "abuse")
    assert act(mod, report_id(pair, "post", hidden), "hide", "rude post").status_code == 302
    warm(reader.b, "/", f"/post/{kept}")
    report(reporter.a, "user", author.id, "spam")
    assert act(mod, report_id(pair, "user", author.id), "suspend", "spam bot").status_code == 302
    assert not shown(reader.b.get("/").text, kept)

    listed = mod.b.get("/admin").text
    assert f'id="suspended-{author.id}"' in listed
    entry = listed[listed.index(f'id="suspended-{author.id}"') :]
    entry = entry[: entry.index("</section>")]
    assert author.nick in entry and "spam bot" in entry
    assert f'action="/admin/user/{author.id}/unsuspend"' in entry

    # Only moderators, only with the form's XSRF token, only with a reason.
    assert unsuspend(Person(Client(pair.a.url), None), author.id, "x").status_code == 404
    assert unsuspend(reader, author.id, "x").status_code == 404
    forged = mod.a.post(
        f"/admin/user/{author.id}/unsuspend", {"reason": "x"}, xsrf=False, allow_redirects=False
    )
    assert forged.status_code == 403
    blank = unsuspend(mod, author.id, "  ")
    assert blank.status_code == 400
    assert "Say why: the reason goes into the audit log." in blank.text
    assert Client(pair.b.url).login(author.email).status_code == 403

    lifted = unsuspend(mod, author.id, "appeal accepted")
    assert lifted.status_code == 302 and lifted.headers["Location"] == "/admin?done=unsuspend"
    assert f'id="suspended-{author.id}"' not in mod.b.get("/admin").text
    row = audit_rows(mod.b.get("/admin/log").text)[0]
    assert f"unsuspend user #{author.id}" in row and mod.nick in row and "appeal accepted" in row

    timeline = reader.b.get("/").text
    assert shown(timeline, kept) and not shown(timeline, hidden)
    assert f'id="comment-{comment_id}"' in reader.b.get("/").text
    assert reader.b.get(f"/post/{kept}").status_code == 200
    assert reader.b.get(f"/post/{hidden}").status_code == 404
    back = Client(pair.b.url)
    assert back.login(author.email).status_code == 302
    mine = back.get(f"/user/{author.id}").text
    assert shown(mine, hidden) and "Hidden by the moderators: only you can see this post." in mine
    assert call(pair.b, "/v2/posts/my", token).status_code == 200

    again = unsuspend(mod, author.id, "twice", headers=JSON)
    assert again.status_code == 409
    assert again.json() == {"code": 409, "message": "This account is not suspended."}
    assert unsuspend(mod, 10**15, "nobody").status_code == 404
