"""Template helpers (Tornado ui_methods): post text with linked hashtags, times, avatars."""

from __future__ import annotations

from datetime import datetime

from tornado.escape import url_escape, xhtml_escape
from tornado.web import RequestHandler

from resize.keys import AVATAR_SIZES
from resize.sizes import fit
from sns.handles import Mentions, mention_spans
from sns.pictures import Picture
from sns.profiles import face
from sns.search import mark_spans
from sns.text import HASHTAG_RE, fold_hashtag
from sns.times import iso_utc


def handle_path(handle: str) -> str:
    """A person's page by their handle: ``/@name``, Korean URL-encoded."""
    return "/@" + url_escape(handle, plus=False)


def _links(content: str, mentions: Mentions, *, hashtags: bool) -> list[tuple[int, int, str, str]]:
    """(start, end, href, class) of every link in the text: hashtags (if asked) and
    mentions of real handles, in order."""
    links = [
        (start, end, handle_path(person.handle), "mention")
        for start, end, person in mention_spans(content, mentions)
    ]
    if hashtags:
        links += [
            (
                match.start(),
                match.end(),
                "/hashtag?hashtag=" + url_escape(fold_hashtag(match.group(1))),
                "hashtag",
            )
            for match in HASHTAG_RE.finditer(content)
        ]
    links.sort()
    kept: list[tuple[int, int, str, str]] = []
    for link in links:
        if not kept or link[0] >= kept[-1][1]:
            kept.append(link)
    return kept


def post_html(handler: RequestHandler, content: str, mentions: Mentions | None = None) -> str:
    """The post's text, escaped, with each hashtag linked to its search page, each
    mention of a real handle to the person's page and, on the search page, the words
    searched for marked.

    Templates must output this with ``{% raw %}``: every piece of user text goes through
    ``xhtml_escape`` here, so nothing the author typed becomes markup.
    """
    marks = mark_spans(content, getattr(handler, "search_marks", ()))
    return _linked_html(content, _links(content, mentions or {}, hashtags=True), marks)


def comment_html(handler: RequestHandler, content: str, mentions: Mentions | None = None) -> str:
    """A comment's text, escaped, with mentions of real handles linked (``{% raw %}``)."""
    return _linked_html(content, _links(content, mentions or {}, hashtags=False), [])


def _linked_html(
    content: str, links: list[tuple[int, int, str, str]], marks: list[tuple[int, int]]
) -> str:
    out = []
    position = 0
    for start, end, href, css in links:
        out.append(_marked_html(content[position:start], position, marks))
        inner = _marked_html(content[start:end], start, marks)
        out.append(f'<a class="{css}" href="{xhtml_escape(href)}">{inner}</a>')
        position = end
    out.append(_marked_html(content[position:], position, marks))
    return "".join(out)


def _marked_html(text: str, offset: int, marks: list[tuple[int, int]]) -> str:
    """``text`` (found at ``offset`` in the post) escaped, with the marked spans in it
    wrapped in ``<mark>``; line breaks become ``<br>``."""
    out = []
    position = 0
    for start, end in marks:
        start, end = max(start - offset, position), min(end - offset, len(text))
        if start >= end:
            continue
        out.append(xhtml_escape(text[position:start]))
        out.append(f"<mark>{xhtml_escape(text[start:end])}</mark>")
        position = end
    out.append(xhtml_escape(text[position:]))
    return "".join(out).replace("\n", "<br>")


def relative_time(handler: RequestHandler, when: datetime) -> str:
    """'3 minutes ago' in the reader's language (stored times are naive UTC)."""
    return str(handler.locale.format_date(when, gmt_offset=0, relative=True))


def iso_time(handler: RequestHandler, when: datetime) -> str:
    """The time for a ``<time datetime>`` attribute, the same text the API sends."""
    return iso_utc(when)


def image_url(handler: RequestHandler, name: str, size: str = "small") -> str:
    """A post picture's URL: ``small`` (timelines), ``large`` (its page) or ``original``."""
    images = handler.settings["services"].images
    if size == "original":
        return str(images.original_url(name))
    return str(images.thumb_url(name, images.large if size == "large" else images.small))


def picture_sources(
    handler: RequestHandler, picture: Picture, large: bool = False
) -> dict[str, str]:
    """``src``, ``srcset`` and ``original`` of a post picture's ``<img>``: the thumbnails
    (``srcset`` over every size, each with its real width) once they are known to exist,
    else the original alone, so that a page never asks for a thumbnail too soon."""
    images = handler.settings["services"].images
    original = str(images.original_url(picture.name))
    if not picture.thumbnails:
        return {"src": original, "srcset": "", "original": original}
    src = str(images.thumb_url(picture.name, images.large if large else images.small))
    srcset = ""
    if picture.width and picture.height:
        srcset = ", ".join(
            f"{images.thumb_url(picture.name, size)} {fit(picture.width, picture.height, size)[0]}w"
            for size in images.sizes
        )
    return {"src": src, "srcset": srcset, "original": original}


def absolute_url(handler: RequestHandler, url: str) -> str:
    """``url`` made absolute on this site (Open Graph wants absolute URLs)."""
    if "://" in url:
        return url
    site = getattr(handler, "site_url", None)  # the scheme a trusted proxy reports
    return f"{site or handler.request.protocol + '://' + handler.request.host}{url}"


def avatar_source(handler: RequestHandler, name: str, ready: bool, size: int) -> str:
    """The URL of an avatar shown ``size`` CSS pixels wide: the smallest made size that
    fills it on a 2x screen (the original square until the sizes exist)."""
    made = next((made for made in AVATAR_SIZES if made >= 2 * size), AVATAR_SIZES[-1])
    return str(handler.settings["services"].profiles.url(name, ready, made))


def avatar(
    handler: RequestHandler,
    user_id: int,
    nick: str,
    name: str | None,
    ready: bool = False,
    size: int = 48,
) -> str:
    """A person's face, ``size`` CSS pixels square: their avatar as an ``<img>`` (alt: their
    nick), or else a generated face (initials on a colour drawn from the id) as inline SVG,
    which needs no request and no style attribute (CSP). Output with ``{% raw %}``."""
    label = xhtml_escape(nick)
    if name:
        src = xhtml_escape(avatar_source(handler, name, ready, size))
        return (
            f'<img class="avatar" src="{src}" width="{size}" height="{size}" alt="{label}"'
            f' loading="{"eager" if size > 64 else "lazy"}">'
        )
    drawn = face(user_id, nick)
    letters = xhtml_escape(drawn.initials)
    font = 44 if len(drawn.initials) < 2 else 36
    return (
        f'<svg class="avatar avatar-face" width="{size}" height="{size}" viewBox="0 0 100 100"'
        f' role="img" aria-label="{label}"><rect width="100" height="100" fill="{drawn.colour}"/>'
        f'<text x="50" y="50" dy=".35em" text-anchor="middle" fill="#fff" font-size="{font}"'
        f' font-family="sans-serif" aria-hidden="true">{letters}</text></svg>'
    )


def avatar_json(
    handler: RequestHandler, user_id: int, nick: str, name: str | None, ready: bool
) -> dict[str, str | None]:
    """A face for the page's script to draw (a comment added without a reload)."""
    drawn = face(user_id, nick)
    url = avatar_source(handler, name, ready, 24) if name else None
    return {"url": url, "initials": drawn.initials, "colour": drawn.colour}


def reader_part(handler: RequestHandler, kind: str, item: object) -> str:
    """Where ``post.html`` shows what differs per reader (``handlers.fragments``)."""
    return str(handler.reader_part(kind, item))  # type: ignore[attr-defined]


ui_methods = {
    "reader_part": reader_part,
    "post_html": post_html,
    "comment_html": comment_html,
    "handle_path": lambda handler, handle: handle_path(handle),
    "relative_time": relative_time,
    "iso_time": iso_time,
    "image_url": image_url,
    "picture_sources": picture_sources,
    "absolute_url": absolute_url,
    "avatar": avatar,
}
