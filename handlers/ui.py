"""Template helpers (Tornado ui_methods): post text with linked hashtags, times."""

from __future__ import annotations

from datetime import datetime

from tornado.escape import url_escape, xhtml_escape
from tornado.web import RequestHandler

from resize.core import fit
from sns.pictures import Picture
from sns.search import mark_spans
from sns.text import split_hashtags
from sns.times import iso_utc


def post_html(handler: RequestHandler, content: str) -> str:
    """The post's text, escaped, with each hashtag linked to its search page and, on the
    search page, the words searched for marked.

    Templates must output this with ``{% raw %}``: every piece of user text goes through
    ``xhtml_escape`` here, so nothing the author typed becomes markup.
    """
    marks = mark_spans(content, getattr(handler, "search_marks", ()))
    out = []
    offset = 0
    for piece, tag in split_hashtags(content):
        html = _marked_html(piece, offset, marks)
        if tag is None:
            out.append(html)
        else:
            out.append(f'<a class="hashtag" href="/hashtag?hashtag={url_escape(tag)}">{html}</a>')
        offset += len(piece)
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


ui_methods = {
    "post_html": post_html,
    "relative_time": relative_time,
    "iso_time": iso_time,
    "image_url": image_url,
    "picture_sources": picture_sources,
    "absolute_url": absolute_url,
}
