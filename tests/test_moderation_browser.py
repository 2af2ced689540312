"""In Chromium (#21): a reader reports a post with a reason from its "⋯" menu, and a
moderator (made by `run.py admin grant`) suspends its author from /admin; the post is gone.
The moderator then lifts the suspension from /admin's list of suspended accounts, and the
post is back."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from testkit.sns import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def sign_up_in(page, server) -> str:
    """Sign up in the browser through /join; returns the email."""
    email = f"m{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/join")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Nickname").fill("n" + uuid.uuid4().hex[:6])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(server.url + "/")
    return email


def test_a_reader_reports_a_post_and_a_moderator_suspends_its_author(browser, server):
    from playwright.sync_api import expect

    marker = uuid.uuid4().hex[:10]
    author = server.client()
    author.join()
    assert author.write(f"buy cheap things {marker}").status_code == 302

    reader = browser.new_context(base_url=server.url, locale="en-US")
    try:
        page = reader.new_page()
        sign_up_in(page, server)
        post = page.locator("article.post", has_text=marker)
        post.locator("details.post-menu summary").click()
        post.get_by_role("link", name="Report").click()
        expect(page.get_by_role("heading", name="Report a post")).to_be_visible()
        page.get_by_label("Spam").check()
        page.get_by_label("Note for the moderators (optional)").fill("an advert")
        page.get_by_role("button", name="Send report").click()
        expect(page.get_by_role("status")).to_contain_text(
            "the moderators will look at your report"
        )
    finally:
        reader.close()

    moderator = browser.new_context(base_url=server.url, locale="en-US")
    try:
        page = moderator.new_page()
        email = sign_up_in(page, server)
        granted = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "admin", "grant", email, "--env-file", ""],
            cwd=ROOT,
            env=server.environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert granted.returncode == 0, granted.stderr
        page.goto("/")
        page.get_by_role("link", name="Moderation").click()
        report = page.locator("section.report", has_text=marker)
        expect(report).to_contain_text("an advert")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"admin-{server.backend}.png"), full_page=True)
        report.get_by_label("Reason (kept in the audit log)").fill("selling spam")
        report.get_by_role("button", name="Suspend account").click()
        expect(page.get_by_role("status")).to_have_text("Done.")
        expect(page.locator("section.report", has_text=marker)).to_have_count(0)
        page.goto("/")
        expect(page.locator("article.post", has_text=marker)).to_have_count(0)
        page.goto("/admin/log")
        expect(page.locator("tr", has_text="selling spam")).to_contain_text("suspend user")

        page.goto("/admin")
        account = page.locator("section.suspended-account", has_text="selling spam")
        account.get_by_label("Reason (kept in the audit log)").fill("it was a mistake")
        account.get_by_role("button", name="Unsuspend").click()
        expect(page.get_by_role("status")).to_have_text("Done.")
        expect(page.locator("section.suspended-account", has_text="selling spam")).to_have_count(0)
        page.goto("/")
        expect(page.locator("article.post", has_text=marker)).to_have_count(1)
        page.goto("/admin/log")
        expect(page.locator("tr", has_text="it was a mistake")).to_contain_text("unsuspend user")
    finally:
        moderator.close()
