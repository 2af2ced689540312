"""Reports and the moderators' pages (#21).

``/post|comment|user/<id>/report``: a small form page (reached from a post's "⋯" menu, a
comment's menu and a person's page) that works without JavaScript, and its POST. ``/admin``
and ``/admin/log`` answer the normal 404 page to anyone but a moderator, logged out too, so
that they do not even show that they exist; no page of theirs is ever kept by the cache.
"""

from __future__ import annotations

from typing import Any

from tornado.web import HTTPError

from handlers.base import login_required
from handlers.page import PageHandler
from handlers.paths import ROW_ID
from sns.errors import ServiceError
from sns.floods import REPORTS
from sns.moderation import ACTIONS
from sns.reports import NOTE_MAX_CHARS, REASONS, Target


class ReportHandler(PageHandler):
    """GET: the report form for one post, comment or account; POST: the report itself,
    acknowledged on a page (or ``{code: 201, payload}`` to fetch)."""

    async def target(self, kind: str, target_id: str) -> Target:
        return await self.moderation.target(kind, int(target_id), self.viewer_id)

    async def show_form(self, target: Target, **values: Any) -> None:
        values.setdefault("form", {})
        values.setdefault("done", None)
        await self.render_page(
            "report.html",
            target=target,
            reasons=REASONS,
            note_max=NOTE_MAX_CHARS,
            **values,
        )

    @login_required
    async def get(self, kind: str, target_id: str) -> None:
        await self.show_form(await self.target(kind, target_id))

    @login_required
    async def post(self, kind: str, target_id: str) -> None:
        form = {"reason": self.get_argument("reason", ""), "note": self.get_argument("note", "")}
        target = await self.target(kind, target_id)
        try:
            async with self.floods.hold(REPORTS, self.user.id) as place:
                ack = await self.moderation.report(
                    self.user.id, kind, target.id, form["reason"], form["note"]
                )
        except ServiceError as exc:
            await self.refuse(exc, "report.html", **self._form_values(target, form))
            return
        self.set_rate_headers(place)
        if self.wants_json():
            self.answer({"id": ack.id, "created": ack.created}, status=201)
            return
        self.set_status(201 if ack.created else 200)
        await self.show_form(target, done=ack)

    def _form_values(self, target: Target, form: dict[str, str]) -> dict[str, Any]:
        return {
            "target": target,
            "reasons": REASONS,
            "note_max": NOTE_MAX_CHARS,
            "form": form,
            "done": None,
        }


class ModeratorPage(PageHandler):
    """A page only moderators may know of: anyone else gets the normal 404 page."""

    async def prepare(self) -> None:
        await super().prepare()
        if not (self.current_user and self.current_user.moderator):
            raise HTTPError(404)

    async def queue_values(self, form: dict[str, Any] | None = None) -> dict[str, Any]:
        """What /admin shows: the open reports and the forms to act on them, and the
        suspended accounts with a form to lift each suspension."""
        return {
            "queue": await self.moderation.open_reports(),
            "suspended": await self.moderation.suspended(),
            "actions": ACTIONS,
            "done": self.get_argument("done", "") if self.request.method == "GET" else "",
            "form": form or {},
        }


class AdminHandler(ModeratorPage):
    """GET /admin: the open reports, newest first, with the content and the person's history."""

    async def get(self) -> None:
        await self.render_page("admin.html", **await self.queue_values())


class AdminActionHandler(ModeratorPage):
    """POST /admin/report/<id>/(dismiss|hide|delete|suspend), with ``reason``."""

    async def post(self, report_id: str, action: str) -> None:
        reason = self.get_argument("reason", "")
        try:
            await self.moderation.act(self.user.id, int(report_id), action, reason)
        except ServiceError as exc:
            if self.wants_json() or exc.status == 404:
                raise
            form = {"report": int(report_id), "action": action, "reason": reason}
            await self.refuse(exc, "admin.html", **await self.queue_values(form))
            return
        self.answer({"report": int(report_id), "action": action}, default=f"/admin?done={action}")


class AdminUnsuspendHandler(ModeratorPage):
    """POST /admin/user/<id>/unsuspend, with ``reason``: the account is given back."""

    async def post(self, user_id: str) -> None:
        reason = self.get_argument("reason", "")
        try:
            await self.moderation.unsuspend(self.user.id, int(user_id), reason)
        except ServiceError as exc:
            if self.wants_json() or exc.status == 404:
                raise
            form = {"user": int(user_id), "reason": reason}
            await self.refuse(exc, "admin.html", **await self.queue_values(form))
            return
        self.answer({"user": int(user_id), "action": "unsuspend"}, default="/admin?done=unsuspend")


class AdminLogHandler(ModeratorPage):
    """GET /admin/log: every moderator action, newest first (``?before=<entry id>``)."""

    async def get(self) -> None:
        entries = await self.moderation.log(self.int_argument("before"))
        await self.render_page("admin_log.html", entries=entries)


default_handlers = [
    (rf"/(post|comment|user)/{ROW_ID}/report", ReportHandler),
    (r"/admin", AdminHandler),
    (rf"/admin/report/{ROW_ID}/([a-z]+)", AdminActionHandler),
    (rf"/admin/user/{ROW_ID}/unsuspend", AdminUnsuspendHandler),
    (r"/admin/log", AdminLogHandler),
]
