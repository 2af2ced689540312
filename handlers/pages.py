"""Pages anyone can read: timelines, hashtag pages, search, user pages, join and login forms."""

from __future__ import annotations

import asyncio
from typing import Any

from tornado.escape import url_escape
from tornado.web import HTTPError

from handlers.base import LOCALE_COOKIE, SUPPORTED_LOCALES, BaseHandler, login_required
from handlers.page import PageHandler
from handlers.paths import ROW_ID
from sns.changes import depends_on
from sns.post_views import Page
from sns.search import parse_query
from sns.search_index import Piece
from sns.text import HASHTAG_RE

HEALTH_TIMEOUT = 1.5  # seconds each dependency has to answer /healthz


class TimelineHandler(PageHandler):
    """Every timeline page: one template, one set of defaults."""

    def timeline_values(self, page: Page, **options: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "page": page,
            "title": None,
            "heading": None,
            "hashtag": None,
            "profile": None,
            "compose": False,
            "pager_prefix": "",
            "relation": None,
            "empty": "No posts yet. Be the first!",
            "live_timeline": "",
        }
        values.update(options)
        return values

    async def render_timeline(self, page: Page, **options: Any) -> None:
        self.depends = depends_on(page.changes, (post.id for post in page.posts))
        await self.render_page("main.html", **self.timeline_values(page, **options))


class MainHandler(TimelineHandler):
    """GET /: everyone's posts, newest first, a page at a time (``?before=<post id>``)."""

    cache_pages = True

    async def get(self) -> None:
        before = self.int_argument("before")
        page = await self.posts.timeline(before, self.viewer_id)
        await self.render_timeline(
            page, compose=bool(self.current_user), live_timeline="" if before else "home"
        )


class FollowingTimelineHandler(TimelineHandler):
    """GET /following: posts of the people I follow, and mine."""

    cache_pages = True

    @login_required
    async def get(self) -> None:
        before = self.int_argument("before")
        page = await self.posts.following(self.user.id, before)
        await self.render_timeline(
            page,
            live_timeline="" if before else "following",
            title="Following",
            heading=self.locale.translate("Posts from people you follow"),
            compose=True,
            empty="Nothing here yet: follow someone, or write a post.",
        )


class HashtagHandler(TimelineHandler):
    """GET /hashtag?hashtag=x: posts carrying #x, paginated like the timeline."""

    cache_pages = True

    async def get(self) -> None:
        query = self.get_argument("hashtag", "").strip().lstrip("#").strip()
        if not query:
            self.redirect("/")
            return
        if len(query) > 140:
            raise HTTPError(400, reason="That hashtag is too long.")
        before = self.int_argument("before")
        page = await self.posts.by_hashtag(query, before, self.viewer_id)
        await self.render_timeline(
            page,
            live_timeline="" if before else "hashtag",
            title="#" + query,
            heading=self.locale.translate("Posts tagged %(tag)s") % {"tag": "#" + query},
            hashtag=query,
            pager_prefix="hashtag=" + url_escape(query) + "&",
            empty="No posts with this hashtag yet.",
        )


class SearchHandler(TimelineHandler):
    """GET /search?q=words: posts holding every word, newest first, the words marked.

    The top bar's one box sends everything here; a lone ``#tag`` goes on to its hashtag
    page, so the box works with JavaScript off.
    """

    cache_pages = True

    search_marks: tuple[Piece, ...] = ()

    async def get(self) -> None:
        raw = self.get_argument("q", "").strip()
        if HASHTAG_RE.fullmatch(raw):
            self.redirect("/hashtag?hashtag=" + url_escape(raw[1:]))
            return
        query = parse_query(raw)
        if not query.searchable:
            empty = (
                "Type a word to search for."
                if not raw
                else "Search with letters or numbers: punctuation and emoji alone find nothing."
            )
            page = Page([], None)
        else:
            empty = "No posts hold all of these words."
            page = await self.services.search.search(
                query, self.int_argument("before"), self.viewer_id
            )
            # handlers.ui.post_html marks these in every post of the page.
            self.search_marks = query.pieces
        await self.render_timeline(
            page,
            title="Search",
            heading=(
                self.locale.translate("Posts with %(query)s") % {"query": f"“{raw}”"}
                if raw
                else self.locale.translate("Search")
            ),
            search_query=raw,
            pager_prefix="q=" + url_escape(raw) + "&",
            empty=empty,
        )


class UserPageHandler(TimelineHandler):
    """GET /user/<id>: one person's posts, with their counts and a follow button."""

    cache_pages = True

    async def get(self, user_id: str) -> None:
        await self.render_person(int(user_id))

    async def render_person(self, user_id: int) -> None:
        profile = await self.follows.profile(user_id, self.viewer_id)
        relation = profile.relation
        if relation.blocked_by:
            # As for an account that is not there: the blocked person is not told.
            raise HTTPError(404)
        if relation.blocking:
            page, empty = (
                Page([], None),
                "You blocked this person. Unblock them to see their posts.",
            )
        else:
            page = await self.posts.by_user(
                profile.user.id, self.int_argument("before"), self.viewer_id
            )
            empty = "No posts yet."
        await self.render_timeline(
            page, title=profile.user.nick, profile=profile, relation=relation, empty=empty
        )


class HandlePageHandler(UserPageHandler):
    """GET /@name: the person holding that handle (any case; Korean URL-encoded), the
    page ``/user/<id>`` shows."""

    async def get(self, handle: str) -> None:
        await self.render_person(await self.accounts.id_for_handle(handle))


class LikesPageHandler(TimelineHandler):
    """GET /likes: the posts I liked."""

    cache_pages = True

    @login_required
    async def get(self) -> None:
        page = await self.posts.liked_by(self.user.id, self.int_argument("before"))
        await self.render_timeline(
            page,
            title="My likes",
            heading=self.locale.translate("Posts you liked"),
            empty="You have not liked any post yet.",
        )


class ProfilePageHandler(PageHandler):
    """GET /profile: my followings and followers, each with the right button, 50 a page.

    Each list pages on its own cursor (``?followings_before=``, ``?followers_before=``,
    a user id); a list's "More" link keeps the other list's cursor.
    """

    cache_pages = True

    @login_required
    async def get(self) -> None:
        me = self.user.id
        cursors = {
            "followings": self.int_argument("followings_before"),
            "followers": self.int_argument("followers_before"),
        }
        await self.render_page(
            "profile.html",
            notice=self.get_argument("done", ""),
            counts=await self.follows.counts(me),
            followings=await self.follows.followings(me, me, cursors["followings"]),
            followers=await self.follows.followers(me, me, cursors["followers"]),
            cursors=cursors,
        )


class JoinPageHandler(PageHandler):
    """GET /join: the sign-up form (logged-in users have nothing to do here)."""

    async def get(self) -> None:
        if self.current_user:
            self.redirect("/")
            return
        await self.render_page("join.html")


class LoginPageHandler(PageHandler):
    """GET /login: a login form of its own, where pages that need a login send people."""

    async def get(self) -> None:
        if self.current_user:
            self.redirect_to_next()
            return
        await self.render_page("login.html", next_url=self.get_argument("next", "/"))


class LocaleHandler(PageHandler):
    """POST /locale: remember the language picked on the page, then go back."""

    def post(self) -> None:
        chosen = self.get_argument("locale", "")
        if chosen not in SUPPORTED_LOCALES:
            raise HTTPError(400, reason="Unknown language.")
        self.set_cookie(LOCALE_COOKIE, chosen, expires_days=365, httponly=True, samesite="Lax")
        self.redirect_to_next()


class HealthHandler(BaseHandler):
    """GET /healthz: 200 when the database and the session store answer, else 503."""

    async def authenticate(self) -> None:
        """No session lookup: health must not depend on a cookie."""
        return None

    async def get(self) -> None:
        probes = {"database": self.db.ping(), "sessions": self.sessions.ping()}
        results = await asyncio.gather(
            *(asyncio.wait_for(probe, HEALTH_TIMEOUT) for probe in probes.values()),
            return_exceptions=True,
        )
        checks = {
            name: "ok"
            if not isinstance(result, BaseException)
            else f"down: {type(result).__name__}"
            for name, result in zip(probes, results, strict=True)
        }
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
    (r"/search", SearchHandler),
    (rf"/user/{ROW_ID}", UserPageHandler),
    (r"/@([^/]{1,80})", HandlePageHandler),
    (r"/likes", LikesPageHandler),
    (r"/profile", ProfilePageHandler),
    (r"/join", JoinPageHandler),
    (r"/login", LoginPageHandler),
    (r"/locale", LocaleHandler),
    (r"/healthz", HealthHandler),
]
