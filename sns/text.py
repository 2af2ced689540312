"""Pure text rules: hashtags, lengths, and the validation of what users type."""

from __future__ import annotations

import re
import unicodedata

from sns.errors import Invalid

POST_MAX_CHARS = 140
NICK_MAX_CHARS = 20
EMAIL_MAX_CHARS = 254
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_BYTES = 72  # bcrypt ignores every byte after the 72nd
HASHTAG_MAX_CHARS = 140  # hashtags.title, which holds the folded form

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


def is_unicode_text(value: str) -> bool:
    """False for a lone surrogate (JSON's ``"\\ud800"``): no UTF-8 can store or send it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_control_chars(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value)


def clean_content(content: str, field: str = "content") -> str:
    """Post or comment text as stored: NFC, `\\r\\n` as `\\n`, trimmed; 1..140 code points."""
    content = unicodedata.normalize("NFC", content.replace("\r\n", "\n")).strip()
    if not content:
        raise Invalid("Write something first.", field=field)
    if len(content) > POST_MAX_CHARS:
        raise Invalid(
            "A post is at most {max} characters; this one has {count}.",
            field=field,
            max=POST_MAX_CHARS,
            count=len(content),
        )
    if has_control_chars(content) or not is_unicode_text(content):
        raise Invalid("The post contains control characters.", field=field)
    return content


# What str.splitlines() breaks on: a nick must stay on one line.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# Embeddings, overrides and isolates: they reorder the text around them, so a nick could
# make the rest of a line read otherwise (CVE-2021-42574). The marks LRM, RLM and ALM
# only steer neutral characters and stay allowed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that draw nothing: controls, format characters (zero-width, soft hyphen,
# tags), separators, and marks, which have no letter to sit on when they stand alone.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters that draw nothing: the Hangul fillers and the braille blank, the usual way to
# get an "empty" name on Korean services.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_line_breaks(value: str) -> bool:
    return any(ch in LINE_BREAKS for ch in value)


def has_bidi_controls(value: str) -> bool:
    return any(ch in BIDI_CONTROLS for ch in value)


def is_invisible(value: str) -> bool:
    """Whether ``value`` would show as nothing at all (an empty string does too)."""
    return all(
        ch in _BLANK_LETTERS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value
    )
