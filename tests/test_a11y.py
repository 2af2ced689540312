"""Every page passes axe-core's WCAG 2.1 AA rules, and every action works from the keyboard.

axe-core runs in Debian's Chromium; its script comes from axe-playwright-python, which ships
axe.min.js (pinned to one axe-core release per package version). Pages render the same on
both backends, so this module asks for the SQLite server only: ``pytestmark`` narrows the
session's parametrized ``server`` fixture to that one parameter (and so reuses its server).
"""

from __future__ import annotations

import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe

from testkit.sns import Client
from tests.images import jpeg, png, upload

pytestmark = pytest.mark.parametrize("server", ["sqlite"], indirect=True)

JSON = {"Accept": "application/json"}
WIDTHS = (1280, 390)
LANGUAGES = {"en": ("en-US", "en_US"), "ko": ("ko-KR", "ko_KR")}
# axe-core's WCAG 2.0 and 2.1 A and AA rules, and its best practices (one h1, unique
# landmarks); a serious or critical violation of any of them fails the test.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
FAILING_IMPACTS = {"serious", "critical"}
# What the focused element looks like: a ring of our own (2px or wider), not Chromium's
# thin default and not nothing.
FOCUS_STATE = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {
        html: el.outerHTML.slice(0, 120),
        ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
            && style.outlineColor !== "rgba(0, 0, 0, 0)",
        onScreen: box.width > 1 && box.height > 1 && box.bottom > 0 && box.right > 0,
    };
}"""


def new_post(client: Client, text: str) -> int:
    response = client.post("/post", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


def own_id(client: Client) -> int:
    return client.user_id()


@pytest.fixture(scope="module")
def world(server) -> dict:
    """Alice follows Bob and is followed by Carol; Bob's post has Alice's like and comment
    and his reply, Alice has a post of her own with two pictures: every widget of every
    page is there."""
    alice, bob, carol = (server.client() for _ in range(3))
    tag = f"a11y{uuid.uuid4().hex[:6]}"
    alice.join(nick="앨리스 Alice")
    bob.join(nick="Bob 밥")
    carol.join(nick="carol")
    bob_id, alice_id = own_id(bob), own_id(alice)
    # Alice has a face and words (#19), Bob and Carol generated faces.
    face = alice.http.post(
        alice.base_url + "/account/avatar",
        data={"_xsrf": alice.xsrf(), "page": "profile"},
        files={"img": ("me.jpg", jpeg(), "image/jpeg")},
        allow_redirects=False,
        timeout=60,
    )
    assert face.status_code == 302, face.text
    assert alice.post("/account/bio", {"bio": f"Hi, #{tag} here"}, headers=JSON).status_code == 200
    bob_post = new_post(bob, f"Bob writes about #{tag} and #접근성, see you there")
    # Two pictures, one described, one not: the grid, the edit form's picture controls.
    shots = [upload(alice, png(60, 40)).json()["url"] for _ in range(2)]
    form = {"content": f"Alice writes a #{tag} post of her own", "url": shots, "alt": ["A", ""]}
    response = alice.post("/post", form, headers=JSON)
    assert response.status_code == 201, response.text
    alice_post = response.json()["payload"]["id"]
    assert alice.post(f"/post/{bob_post}/like", headers=JSON).status_code == 200
    comment = alice.post(f"/comment/{bob_post}", {"content": "A comment"}, headers=JSON)
    assert comment.status_code == 201
    reply = bob.post(
        f"/comment/reply/{comment.json()['payload']['id']}", {"content": "답글"}, headers=JSON
    )
    assert reply.status_code == 201
    assert alice.post(f"/user/{bob_id}/follow", headers=JSON).status_code == 200
    assert carol.post(f"/user/{alice_id}/follow", headers=JSON).status_code == 200
    site = alice.post("/developers/domain", {"host": "alice.example", "type": "free"}, headers=JSON)
    assert site.status_code == 201
    return {"alice": alice, "tag": tag, "bob_id": bob_id, "alice_post": alice_post}


def new_context(browser, server, language: str, client: Client | None = None, width=1280):
    """A context in ``language`` (by its cookie), logged in as ``client``'s user if given."""
    browser_locale, cookie_locale = LANGUAGES[language]
    context = browser.new_context(
        base_url=server.url, locale=browser_locale, viewport={"width": width, "height": 900}
    )
    cookies = [{"name": "locale", "value": cookie_locale, "url": server.url}]
    if client is not None:
        cookies += [
            {"name": c.name, "value": c.value, "url": server.url} for c in client.http.cookies
        ]
    context.add_cookies(cookies)
    return context


def problems_on(tab, where: str) -> list[str]:
    """Serious and critical axe violations on the page as it is, and a missing second h1."""
    results = tab.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    found = [
        f"{where}: {violation['id']} ({violation['impact']}) at {node['target']}: "
        + " ".join(node.get("failureSummary", "").split())
        for violation in results["violations"]
        if violation["impact"] in FAILING_IMPACTS
        for node in violation["nodes"]
    ]
    headings = tab.locator("h1").count()
    if headings != 1:
        found.append(f"{where}: {headings} h1 elements, not one")
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_has_no_serious_accessibility_violation(browser, server, world, language):
    logged_out = {
        "/": 200,
        "/join": 200,
        "/login": 200,
        f"/hashtag?hashtag={world['tag']}": 200,
        f"/user/{world['bob_id']}": 200,
        "/api/docs": 200,
        f"/search?q=writes+{world['tag']}": 200,  # marked words, inside hashtags too
        "/search?q=": 200,
    }
    logged_in = {
        "/": 200,
        "/following": 200,
        "/likes": 200,
        "/profile": 200,
        "/account": 200,
        "/developers": 200,
        f"/post/{world['alice_post']}/edit": 200,
        f"/user/{world['bob_id']}": 200,
        f"/search?q=writes+{world['tag']}": 200,
        "/no-such-page": 404,
    }
    problems: list[str] = []
    for client, pages in ((None, logged_out), (world["alice"], logged_in)):
        context = new_context(browser, server, language, client)
        context.add_init_script(script=Axe().axe_script)
        try:
            tab = context.new_page()
            for path, status in pages.items():
                response = tab.goto(path)
                assert (response.status, response.url) == (status, server.url + path)
                assert tab.locator("html").get_attribute("lang") == language
                # One load, checked at both widths: the layout follows the viewport.
                for width in WIDTHS:
                    tab.set_viewport_size({"width": width, "height": 900})
                    who = "logged in" if client else "logged out"
                    problems += problems_on(tab, f"{path} ({language}, {width}px, {who})")
        finally:
            context.close()
    assert problems == [], "\n".join(problems)


def test_the_tab_key_reaches_every_action_on_the_timeline_with_a_visible_focus(
    browser, server, world
):
    actions = {
        "search box": "#search-q",
        "language button": ".lang button",
        "log out button": "form[action='/auth/logout'] button",
        "compose box": "#post-content",
        "post button": "#post-form button[type=submit]",
        "like button": ".like-button",
        "edit link": ".edit-link",
        "delete button": ".delete-form button",
        "follow button": ".follow-button",
        "reply toggle": ".reply-box summary",
        "comment box": ".comment-form input[name=content]",
        "comment button": ".comment-form button",
    }
    context = new_context(browser, server, "en", world["alice"])
    try:
        tab = context.new_page()
        tab.goto("/")
        reached: set[str] = set()
        unseen_focus: list[str] = []
        for _ in range(120):
            tab.keyboard.press("Tab")
            state = tab.evaluate(FOCUS_STATE)
            if not (state["ring"] and state["onScreen"]):
                unseen_focus.append(state["html"])
            reached |= {
                name
                for name, selector in actions.items()
                if tab.evaluate("s => document.activeElement.matches(s)", selector)
            }
            if reached == set(actions):
                break
        assert sorted(set(actions) - reached) == []
        assert unseen_focus == [], "focused without a visible ring:\n" + "\n".join(unseen_focus)
    finally:
        context.close()


def test_the_skip_link_comes_first_and_jumps_to_the_content(browser, server, world):
    from playwright.sync_api import expect

    context = new_context(browser, server, "ko", world["alice"], width=390)
    try:
        tab = context.new_page()
        tab.goto("/")
        tab.keyboard.press("Tab")
        skip = tab.get_by_role("link", name="본문으로 건너뛰기")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        tab.keyboard.press("Enter")
        tab.keyboard.press("Tab")
        expect(tab.get_by_label("무슨 일이 있나요?")).to_be_focused()
    finally:
        context.close()
