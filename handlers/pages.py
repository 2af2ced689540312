"""Pages anyone can read: timelines, hashtag search, user pages, join and login forms."""

from __future__ import annotations

from typing import Any

from tornado.escape import url_escape
from tornado.web import HTTPError

from handlers.base import LOCALE_COOKIE, SUPPORTED_LOCALES, BaseHandler, login_required
from sns.posts import Page


class TimelineHandler(BaseHandler):
    """Shared rendering of every timeline page (one template, one set of defaults)."""

    def render_timeline(self, page: Page, **options: Any) -> None:
        values: dict[str, Any] = {
            "title": None,
            "heading": None,
            "hashtag": None,
            "profile": None,
            "compose": False,
            "form": None,
            "error": None,
            "pager_prefix": "",
            "empty": "No posts yet. Be the first!",
        }
        values.update(options)
        self.render("main.html", page=page, **values)


class MainHandler(TimelineHandler):
    """GET /: everyone's posts, newest first, a page at a time (``?before=<post id>``)."""

    async def get(self) -> None:
        page = await self.services.posts.timeline(self.int_argument("before"), self.viewer_id)
        self.render_timeline(page, compose=bool(self.current_user))


class FollowingTimelineHandler(TimelineHandler):
    """GET /following: posts of the people I follow, and mine."""

    @login_required
    async def get(self) -> None:
        page = await self.services.posts.following(self.viewer_id, self.int_argument("before"))
        self.render_timeline(
            page,
            title="Following",
            heading=self.locale.translate("Posts from people you follow"),
            compose=True,
            empty="Nothing here yet: follow someone, or write a post.",
        )


class HashtagHandler(TimelineHandler):
    """GET /hashtag?hashtag=x: posts carrying #x, paginated like the timeline."""

    async def get(self) -> None:
        query = self.get_argument("hashtag", "").strip().lstrip("#").strip()
        if not query:
            self.redirect("/")
            return
        if len(query) > 140:
            raise HTTPError(400, reason="That hashtag is too long.")
        page = await self.services.posts.by_hashtag(
            query, self.int_argument("before"), self.viewer_id
        )
        self.render_timeline(
            page,
            title="#" + query,
            heading=self.locale.translate("Posts tagged %(tag)s") % {"tag": "#" + query},
            hashtag=query,
            pager_prefix="hashtag=" + url_escape(query) + "&",
            empty="No posts with this hashtag yet.",
        )


class UserPageHandler(TimelineHandler):
    """GET /user/<id>: one person's posts, with their counts and a follow button."""

    async def get(self, user_id: str) -> None:
        profile = await self.services.social.profile(int(user_id), self.viewer_id)
        page = await self.services.posts.by_user(
            profile.user.id, self.int_argument("before"), self.viewer_id
        )
        self.render_timeline(
            page,
            title=profile.user.nick,
            profile=profile,
            empty="No posts yet.",
        )


class LikesPageHandler(TimelineHandler):
    """GET /likes: the posts I liked."""

    @login_required
    async def get(self) -> None:
        page = await self.services.posts.liked_by(self.viewer_id, self.int_argument("before"))
        self.render_timeline(
            page,
            title="My likes",
            heading=self.locale.translate("Posts you liked"),
            empty="You have not liked any post yet.",
        )


class ProfilePageHandler(BaseHandler):
    """GET /profile: my followings and followers, each with the right button."""

    @login_required
    async def get(self) -> None:
        me = self.viewer_id
        self.render(
            "profile.html",
            followings=await self.services.social.followings(me, me),
            followers=await self.services.social.followers(me, me),
        )


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
    (r"/following", FollowingTimelineHandler),
    (r"/hashtag", HashtagHandler),
    (r"/user/(\d{1,18})", UserPageHandler),
    (r"/likes", LikesPageHandler),
    (r"/profile", ProfilePageHandler),
    (r"/join", JoinPageHandler),
    (r"/login", LoginPageHandler),
    (r"/locale", LocaleHandler),
    (r"/healthz", HealthHandler),
]
