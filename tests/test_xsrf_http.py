"""XSRF tokens as people meet them: each reader's own token in every form of a page, drawn
or served again from the page cache, without ever touching what people wrote; and a token
that counts only for the session it was given to (#17).

Both backends (``server``): SQLite keeps pages by its ``data_version``, MariaDB + Redis by
the site version in Redis, so the cached path is the one served on either.
"""

from __future__ import annotations

import re
import uuid

from testkit.sns import XSRF_INPUT, Client

JSON = {"Accept": "application/json"}
META_XSRF = re.compile(r'<meta name="xsrf-token" content="([^"]+)">')
NEXT_INPUT = re.compile(r'<input type="hidden" name="next" value="([^"]*)">')
# What pages kept by the cache carried in place of the token until #17: text holding it
# was shown to each reader with their own token in its place.
OLD_PLACEHOLDER = "sns-xsrf-token-of-this-reader"


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10]


def new_post(client: Client, text: str) -> int:
    response = client.post("/post", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return int(response.json()["payload"]["id"])


def comment_texts(html: str) -> list[str]:
    return re.findall(r'<span class="comment-text">([^<]*)</span>', html)


def post_text(html: str, post_id: int) -> str:
    start = html.index(f'id="post-{post_id}"')
    block = html[start : html.index("</article>", start)]
    return re.search(r'<p class="post-content">(.*?)</p>', block, re.S).group(1)


def tokens_in(html: str) -> set[str]:
    return set(XSRF_INPUT.findall(html)) | set(META_XSRF.findall(html))


# --- 1. user text is never rewritten --------------------------------------------------------


def test_text_holding_the_old_placeholder_reads_back_as_written_for_every_reader(server):
    author = server.client()
    author.join()
    word = unique("w")
    content = f"{word} {OLD_PLACEHOLDER} <{OLD_PLACEHOLDER}>"
    escaped = f"{word} {OLD_PLACEHOLDER} &lt;{OLD_PLACEHOLDER}&gt;"
    post_id = new_post(author, content)
    comment = f"{OLD_PLACEHOLDER}!"
    answer = author.post(f"/comment/{post_id}", {"content": comment}, headers=JSON)
    assert answer.status_code in (200, 201), answer.text

    reader = server.client()
    reader.join()
    readers = (reader, server.client(), author)  # logged in, logged out, the author
    paths = (f"/post/{post_id}", f"/search?q={word}", "/")
    for round_number in range(2):  # drawn, then served again from the page cache
        for someone in readers:
            for path in paths:
                html = someone.get(path).text
                where = f"{path}, round {round_number}"
                shown = post_text(html, post_id).replace("<mark>", "").replace("</mark>", "")
                assert shown == escaped, where  # search marks the word it found, nothing else
                assert comment in comment_texts(html), where
                assert not any(OLD_PLACEHOLDER in token for token in tokens_in(html)), where
            page = someone.get(paths[0]).text
            assert f'<meta property="og:description" content="{escaped}">' in page
            assert comment in comment_texts(page)


def test_a_search_for_the_old_placeholder_keeps_its_words_in_the_page_and_the_redirect(
    server,
):
    reader = server.client()
    reader.join()
    path = f"/search?q={OLD_PLACEHOLDER}"
    for round_number in range(2):  # drawn, then served again from the page cache
        html = reader.get(path).text
        assert 'name="q" placeholder' in html
        assert f'value="{OLD_PLACEHOLDER}" maxlength="140"' in html, round_number
        assert NEXT_INPUT.search(html).group(1) == path, round_number
        token = XSRF_INPUT.search(html).group(1)
        assert OLD_PLACEHOLDER not in token
        # The language form at the top of the page sends the reader back where they were.
        answer = reader.post(
            "/locale",
            {"_xsrf": token, "locale": "en_US", "next": NEXT_INPUT.search(html).group(1)},
            allow_redirects=False,
        )
        assert answer.status_code == 302
        assert answer.headers["Location"] == path
        assert token not in answer.headers["Location"]


# --- 10. a token counts only for the session it was given to -----------------------------


def written(client: Client, text: str) -> bool:
    """Whether a post holding ``text`` shows on the client's own timeline."""
    return text in client.get("/").text


def forged_post(victim: Client, token: str, text: str) -> int:
    """A form posted from another site in the victim's browser, with the given token."""
    answer = victim.post("/post", {"content": text, "_xsrf": token}, headers=JSON)
    return answer.status_code


def test_a_planted_xsrf_cookie_and_token_pair_is_refused_for_a_logged_in_person(server):
    alice = server.client()
    alice.join()
    # A pair anyone can get by opening a page logged out: the cookie's value is its token.
    attacker = server.client()
    attacker.get("/join")
    planted = attacker.http.cookies.get("_xsrf")
    alice.http.cookies.set("_xsrf", planted)  # e.g. from a sibling subdomain
    text = unique("forged")
    assert forged_post(alice, planted, text) == 403
    assert not written(alice, text)
    # Her own page's token still works, with the planted cookie still there.
    assert forged_post(alice, alice.xsrf(), text) == 201


def test_a_token_and_cookie_of_one_session_are_refused_with_another_sessions_cookie(server):
    mallory = server.client()
    mallory.join()
    alice = server.client()
    alice.join()
    her_token = alice.xsrf()
    pair = (mallory.xsrf(), mallory.http.cookies.get("_xsrf"))
    alice.http.cookies.set("_xsrf", pair[1])
    text = unique("crossed")
    assert forged_post(alice, pair[0], text) == 403
    assert not written(alice, text)
    assert forged_post(alice, her_token, text) == 201


def test_each_session_of_one_person_gets_its_own_token_on_a_kept_page(server):
    author = server.client()
    who = author.join()
    post_id = new_post(author, unique("kept"))
    phone = server.client()
    assert phone.login(who["email"]).status_code == 302
    path = f"/post/{post_id}"
    tokens = []
    for device in (author, phone, author, phone):  # the second round comes from the cache
        html = device.get(path).text
        tokens.append((device, XSRF_INPUT.search(html).group(1), META_XSRF.search(html).group(1)))
    for device, form_token, meta_token in tokens:
        other = phone if device is author else author
        assert forged_post(other, form_token, unique("other")) == 403
        like = device.post(f"/post/{post_id}/like", {"_xsrf": form_token}, headers=JSON)
        assert like.status_code == 200, like.text
        fetch = device.post(
            f"/post/{post_id}/unlike", {}, xsrf=False, headers={**JSON, "X-XSRFToken": meta_token}
        )
        assert fetch.status_code == 200, fetch.text


def test_logging_in_again_gives_a_token_for_the_new_session_and_retires_the_old(server):
    first = server.client()
    who = first.join()
    old_token = first.xsrf()
    assert first.logout().status_code == 302
    # Logged out, the login form works with the token of a logged-out page.
    login_page = first.get("/login").text
    answer = first.post(
        "/auth/login",
        {
            "email": who["email"],
            "password": who["password"],
            "_xsrf": XSRF_INPUT.search(login_page).group(1),
        },
    )
    assert answer.status_code == 200 and answer.url.endswith("/")  # the page after login
    new_token = XSRF_INPUT.search(answer.text).group(1)
    assert forged_post(first, old_token, unique("old")) == 403
    text = unique("new")
    assert forged_post(first, new_token, text) == 201
    assert written(first, text)
