"""Pages anyone can read: the global timeline, hashtag search, join and login forms."""

from __future__ import annotations

from tornado.web import HTTPError

from handlers.base import LOCALE_COOKIE, SUPPORTED_LOCALES, BaseHandler


class MainHandler(BaseHandler):
    """GET /: everyone's posts, newest first, a page at a time (``?before=<post id>``)."""

    async def get(self) -> None:
        page = await self.services.posts.timeline(before=self.int_argument("before"))
        self.render("main.html", page=page, title=None, hashtag=None, form=None, error=None)


class HashtagHandler(BaseHandler):
    """GET /hashtag?hashtag=x: posts carrying #x, paginated like the timeline."""

    async def get(self) -> None:
        query = self.get_argument("hashtag", "").strip().lstrip("#").strip()
        if not query:
            self.redirect("/")
            return
        if len(query) > 140:
            raise HTTPError(400, reason="That hashtag is too long.")
        page = await self.services.posts.by_hashtag(query, before=self.int_argument("before"))
        self.render("main.html", page=page, title="#" + query, hashtag=query, form=None, error=None)


class JoinPageHandler(BaseHandler):
    """GET /join: the sign-up form (logged-in users have nothing to do here)."""

    def get(self) -> None:
        if self.current_user:
            self.redirect("/")
            return
        self.render("join.html", form={}, error=None, field=None)


class LoginPageHandler(BaseHandler):
    """GET /login: a login form of its own, where pages that need a login send people."""

    def get(self) -> None:
        if self.current_user:
            self.redirect_to_next()
            return
        self.render("login.html", email="", error=None, next_url=self.get_argument("next", "/"))


class LocaleHandler(BaseHandler):
    """POST /locale: remember the language picked on the page, then go back."""

    def post(self) -> None:
        chosen = self.get_argument("locale", "")
        if chosen not in SUPPORTED_LOCALES:
            raise HTTPError(400, reason="Unknown language.")
        self.set_cookie(LOCALE_COOKIE, chosen, expires_days=365, httponly=True, samesite="Lax")
        self.redirect_to_next()


class HealthHandler(BaseHandler):
    """GET /healthz: 200 when the database and the session store answer, else 503."""

    async def prepare(self) -> None:
        """No session lookup: health must not depend on a cookie."""

    async def get(self) -> None:
        checks = {}
        for name, probe in (
            ("database", self.services.db.ping),
            ("sessions", self.services.sessions.ping),
        ):
            try:
                await probe()
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"down: {type(exc).__name__}"
        healthy = all(value == "ok" for value in checks.values())
        self.set_status(200 if healthy else 503)
        self.set_header("Cache-Control", "no-store")
        self.write(
            {
                "status": "ok" if healthy else "unavailable",
                "checks": checks,
                "session_store": self.services.session_backend,
            }
        )


default_handlers = [
    (r"/", MainHandler),
    (r"/hashtag", HashtagHandler),
    (r"/join", JoinPageHandler),
    (r"/login", LoginPageHandler),
    (r"/locale", LocaleHandler),
    (r"/healthz", HealthHandler),
]
