"""Pure text rules: hashtags, lengths, and the validation of what users type."""

from __future__ import annotations

import re
import unicodedata

POST_MAX_CHARS = 140
NICK_MAX_CHARS = 20
EMAIL_MAX_CHARS = 254
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_BYTES = 72  # bcrypt ignores every byte after the 72nd

# `#` then Unicode letters, digits or `_`; not in the middle of a word (`a#b` is no tag).
HASHTAG_RE = re.compile(r"(?<!\w)#(\w+)")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def fold_hashtag(title: str) -> str:
    """The stored form of a tag: NFC-normalised and case-folded (`#Tornado` is `tornado`)."""
    return unicodedata.normalize("NFC", title).casefold()


def extract_hashtags(content: str) -> list[str]:
    """Distinct folded hashtags of a post, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in HASHTAG_RE.finditer(unicodedata.normalize("NFC", content)):
        seen.setdefault(fold_hashtag(match.group(1)), None)
    return list(seen)


def split_hashtags(content: str) -> list[tuple[str, str | None]]:
    """The post cut into (text, None) and (`#Tag`, folded tag) pieces, for linking."""
    pieces: list[tuple[str, str | None]] = []
    last = 0
    for match in HASHTAG_RE.finditer(content):
        if match.start() > last:
            pieces.append((content[last : match.start()], None))
        pieces.append((match.group(0), fold_hashtag(match.group(1))))
        last = match.end()
    if last < len(content):
        pieces.append((content[last:], None))
    return pieces


POSITIVE_INT_RE = re.compile(r"[0-9]{1,18}")


def positive_int(raw: str) -> int | None:
    """``raw`` as a whole number from 1 to 10**18 - 1, or None.

    Only ASCII digits count: ``str.isdigit`` also says yes to "²" and "١", which ``int``
    refuses or reads (a 500 on ``/?before=%C2%B2``, #12).
    """
    if not POSITIVE_INT_RE.fullmatch(raw):
        return None
    value = int(raw)
    return value if value >= 1 else None


def has_control_chars(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value)
