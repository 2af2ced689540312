"""Template helpers (Tornado ui_methods): post text with linked hashtags, times."""

from __future__ import annotations

from datetime import datetime

from tornado.escape import url_escape, xhtml_escape
from tornado.web import RequestHandler

from sns.handles import Mentions, mention_spans
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


def absolute_url(handler: RequestHandler, url: str) -> str:
    """``url`` made absolute on this site (Open Graph wants absolute URLs)."""
    if "://" in url:
        return url
    site = getattr(handler, "site_url", None)  # the scheme a trusted proxy reports
    return f"{site or handler.request.protocol + '://' + handler.request.host}{url}"


ui_methods = {
    "post_html": post_html,
    "comment_html": comment_html,
    "handle_path": lambda handler, handle: handle_path(handle),
    "relative_time": relative_time,
    "iso_time": iso_time,
    "image_url": image_url,
    "absolute_url": absolute_url,
}
