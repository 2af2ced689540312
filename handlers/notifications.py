"""The notifications page (#20): what happened to me, newest first; seeing it reads it."""

from __future__ import annotations

from handlers.base import login_required
from handlers.page import PageHandler


class NotificationsPageHandler(PageHandler):
    """GET /notifications: follows and likes (grouped), comments, replies and mentions.

    Never kept (``cache_pages`` off): looking at the page marks what it shows, and
    everything older, read; the ones new to the reader keep their mark on this drawing.
    """

    @login_required
    async def get(self) -> None:
        me = self.user.id
        page = await self.services.notifications.page(me, self.int_argument("before"))
        if page.unread_count and page.items:
            await self.services.notifications.mark_read(me, up_to=page.items[0].seq)
        await self.render_page("notifications.html", page=page)


default_handlers = [
    (r"/notifications", NotificationsPageHandler),
]
