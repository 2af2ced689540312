"""What a page of posts is made of: each post as a timeline shows it (``PostView``), and a
page of them (``Page``), as ``sns.post_pages`` reads them and the handlers draw them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sns.comments import CommentView
from sns.handles import Mentions
from sns.pictures import Picture


@dataclass(frozen=True)
class PostView:
    """A post as a timeline shows it, with what the reader needs to act on it."""

    id: int
    content: str
    img: str | None
    like_count: int
    created_at: datetime
    updated_at: datetime
    author_id: int
    author_nick: str
    hidden_at: datetime | None = None
    """Set when a moderator hid the post: only its author is shown it, marked."""
    author_avatar: str | None = None
    author_avatar_ready: bool = False
    liked: bool = False
    author_followed: bool = False
    comments: tuple[CommentView, ...] = ()
    comment_count: int = 0
    """All the post's visible comments and replies; a timeline shows only some of them."""
    author_handle: str | None = None
    mentions: Mentions = field(default_factory=dict, compare=False)
    """The people the ``@`` of the post and its comments shown name (linked on the page)."""
    pictures: tuple[Picture, ...] = ()
    """Up to four, in order; ``img`` is the first one's name."""
    author_bio: str | None = None
    """Shown beside the author's face on every post, as on their page."""

    @property
    def hidden_comments(self) -> int:
        """How many comments and replies a timeline left out (the post's page shows them)."""
        shown = sum(1 + len(comment.replies) for comment in self.comments)
        return self.comment_count - shown


@dataclass(frozen=True)
class Page:
    """One page of a timeline; ``next_before`` is the cursor of the next page, if any."""

    posts: list[PostView]
    next_before: int | None
    changes: frozenset[str] | None = None
    """What the list depends on besides its posts (``sns.changes``); None: every write."""
