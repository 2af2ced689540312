"""Posts on pages, each drawn once for everyone and filled in per reader (``sns.fragments``).

``post.html`` is only ever drawn here, with the ``TOKEN`` and ``HERE`` markers for the
reader's XSRF token and the page's address, and a ``SLOT`` marker wherever
``reader_part`` is asked for a reader's own part (every variant of which is drawn then).
A page asks ``posts_html`` for its posts: each comes from the fragment cache, or is drawn
and kept, then filled in for this reader.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tornado import escape

from handlers.cache import CachingHandler
from sns.fragments import (
    AUTHOR,
    HERE,
    LIKE,
    NOT_MINE,
    SLOT,
    TIME,
    TOKEN,
    Fragment,
    RelativeTimes,
    Slot,
    post_key,
)

if TYPE_CHECKING:
    from datetime import datetime

    from sns.comments import CommentView
    from sns.post_views import PostView

log = logging.getLogger("sns.handlers")

TIMES = RelativeTimes()


class PostDrawingHandler(CachingHandler):
    """A handler whose pages show posts (``PageHandler``)."""

    _slots: list[Slot] | None = None
    """Set while a post is drawn for everyone: the reader's parts asked for so far."""
    _large = False
    """Whether the post being drawn is on its own page (large pictures)."""

    @property
    def xsrf_token(self) -> bytes:
        """While a post is drawn for everyone, the ``TOKEN`` marker: no reader's token
        is ever kept in a fragment."""
        if self._slots is not None:
            return TOKEN
        return super().xsrf_token

    def posts_html(self, posts: list[PostView], large: bool = False) -> bytes:
        """The page's posts as this reader sees them: each kept one filled in, the others
        drawn for everyone, kept and filled in alike."""
        cache = self.services.fragments
        context = (
            self.locale.code,
            self.current_user is not None,
            large,
            getattr(self, "search_marks", ()),
        )
        viewer_id = self.viewer_id
        language = self.locale.code
        out: list[bytes] = []
        hits = 0

        def when(moment: datetime) -> bytes:
            return TIMES.get(moment, language, self._relative_time)

        for post in posts:
            key = post_key(post, *context)
            fragment = cache.get(key)
            if fragment is None:
                fragment = self._draw(post, large)
                cache.put(key, fragment)
            else:
                hits += 1
            fragment.fill(out, viewer_id, post, when)
        if posts and cache.max_bytes > 0:
            self.services.metrics.cache("fragment", True, hits)
            self.services.metrics.cache("fragment", False, len(posts) - hits)
        html = b"".join(out)
        if TOKEN in html:
            html = html.replace(TOKEN, escape.xhtml_escape(self.xsrf_token).encode())
        if HERE in html:
            html = html.replace(HERE, escape.xhtml_escape(self.request.uri or "/").encode())
        return html

    def _relative_time(self, moment: datetime) -> bytes:
        text = self.locale.format_date(moment, gmt_offset=0, relative=True)
        return escape.xhtml_escape(text).encode()

    def _draw(self, post: PostView, large: bool) -> Fragment:
        """Draw ``post`` for everyone: the reader's parts as slots, markers for the token
        and the address."""
        self._slots = []
        self._large = large
        try:
            html = self.render_string("post.html", post=post, large_picture=large, here=HERE)
            return Fragment.cut(html, self._slots)
        finally:
            self._slots = None

    def reader_part(self, kind: str, item: Any) -> str:
        """Where a reader's own part goes in ``post.html`` (a ``SLOT`` marker): every
        variant is drawn now, and the one for the reader is chosen when the page is."""
        slots = self._slots
        if slots is None:
            raise RuntimeError("post.html is drawn by posts_html only")
        if kind == "time":
            slots.append(Slot(TIME, item))
        elif kind == "like":
            post: PostView = item
            slots.append(Slot(LIKE, variants=tuple(self._like(post, liked) for liked in (0, 1))))
        elif kind == "author":
            post = item
            variants = (
                self._beside(post, own=False, followed=False),
                self._beside(post, own=False, followed=True),
                self._beside(post, own=True, followed=False),
            )
            slots.append(Slot(AUTHOR, variants=variants))
        elif kind == "menu":
            post = item
            menu = self.render_string(
                "post_menu.html",
                user_id=post.author_id,
                nick=post.author_nick,
                post_id=post.id,
                here=HERE,
            ).strip()
            slots.append(Slot(NOT_MINE, post.author_id, (b"", menu)))
        elif kind == "report":
            comment: CommentView = item
            link = self.render_string("comment_report.html", comment=comment).strip()
            slots.append(Slot(NOT_MINE, comment.author_id, (b"", b" " + link)))
        else:
            raise ValueError(f"no reader part {kind!r}")
        return SLOT.decode()

    def _like(self, post: PostView, liked: int) -> bytes:
        html: bytes = self.render_string("like_form.html", post=post, liked=bool(liked), here=HERE)
        return html.strip()

    def _beside(self, post: PostView, *, own: bool, followed: bool) -> bytes:
        html: bytes = self.render_string(
            "post_actions.html",
            post=post,
            own=own,
            followed=followed,
            here=HERE,
            large_picture=self._large,
        )
        return html.strip()
