"""Hashtag extraction and the text rules, without a server."""

from __future__ import annotations

import pytest

from sns import text
from sns.accounts import validate_join, validate_nick
from sns.errors import Invalid
from sns.posts import hashtags_of_post
from sns.schema import hashtags
from sns.text import clean_content


@pytest.mark.parametrize(
    ("content", "tags"),
    [
        ("#노드 hello #Tornado", ["노드", "tornado"]),
        ("#node_js and #NODE_JS and #Node_Js", ["node_js"]),
        ("#파이썬3 #3d", ["파이썬3", "3d"]),
        ("no tags here", []),
        ("email@host#frag a#b", []),
        ("#", []),
        ("# spaced", []),
        ("##double", ["double"]),
        ("(#paren) #end.", ["paren", "end"]),
        ("#한글,#english!", ["한글", "english"]),
        ("#Straße", ["strasse"]),
        ("#日本語 #ελληνικά", ["日本語", "ελληνικά"]),
        ("#tag\n#next", ["tag", "next"]),
        ("#emoji😀tail", ["emoji"]),
    ],
)
def test_hashtags_are_extracted_folded_and_deduplicated(content, tags):
    assert text.extract_hashtags(content) == tags


def test_decomposed_korean_is_the_same_tag_as_composed():
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "#노드")
    assert text.extract_hashtags(decomposed) == ["노드"]


def test_split_keeps_every_character_and_marks_tags():
    content = "a #B c #한글!"
    pieces = text.split_hashtags(content)
    assert "".join(piece for piece, _ in pieces) == content
    assert [tag for _, tag in pieces if tag] == ["b", "한글"]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("  hi  ", "hi"), ("a\r\nb", "a\nb"), ("가" * 140, "가" * 140), ("😀" * 140, "😀" * 140)],
)
def test_clean_content_accepts_1_to_140_code_points(raw, stored):
    assert clean_content(raw) == stored


@pytest.mark.parametrize("raw", ["", "   ", "x" * 141, "😀" * 141, "nul\x00byte"])
def test_clean_content_refuses_empty_long_and_control_text(raw):
    with pytest.raises(Invalid) as caught:
        clean_content(raw)
    assert caught.value.field == "content"
    assert caught.value.status == 400


# Nicks that draw nothing: zero-width and format characters, marks without a letter,
# Hangul fillers and the braille blank (the usual "empty name" on Korean services) (#12).
INVISIBLE_NICKS = [
    "\u200b",
    "\u200b\u200c\u200d\u2060",
    "\ufeff",
    "\u00ad",
    "\u200e\u200f",
    "\U000e0041\U000e0042",
    "\u0301",
    "\ufe0f",
    "\u3164",
    "\u115f\u1160",
    "\uffa0",
    "\u2800",
    "\u3164 \u200b",
]
# Embeddings, overrides and isolates reorder the page text around the nick (CVE-2021-42574).
BIDI_NICKS = [f"x{ch}y" for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]
MULTI_LINE_NICKS = [f"a{ch}b" for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"]


@pytest.mark.parametrize(
    ("email", "nick", "password", "field"),
    [
        ("", "n", "password1", "email"),
        ("no-at.example.com", "n", "password1", "email"),
        ("two@@example.com", "n", "password1", "email"),
        ("a@example.com", "", "password1", "nick"),
        ("a@example.com", "n" * 21, "password1", "nick"),
        ("a@example.com", "tab\there", "password1", "nick"),
        *(("a@example.com", nick, "password1", "nick") for nick in INVISIBLE_NICKS),
        *(("a@example.com", nick, "password1", "nick") for nick in BIDI_NICKS),
        *(("a@example.com", nick, "password1", "nick") for nick in MULTI_LINE_NICKS),
        ("a@example.com", "n", "1234567", "password"),
        ("a@example.com", "n", "é" * 37, "password"),
    ],
)
def test_join_validation_names_the_field(email, nick, password, field):
    with pytest.raises(Invalid) as caught:
        validate_join(email, nick, password)
    assert caught.value.field == field


def test_join_validation_accepts_good_input_at_the_limits():
    validate_join("a@example.com", "n" * 20, "é" * 36)
    validate_join("한글@example.com", "닉네임", "12345678")


@pytest.mark.parametrize(
    "nick",
    # A zero-width joiner inside an emoji, marks on a letter, right-to-left names with
    # their marks, compatibility jamo: all visible.
    ["👨\u200d👩\u200d👧", "e\u0301", "שלום\u200f", "ㅎㅎ", "x\u200by", "a b"],
)
def test_nicks_with_visible_characters_are_accepted(nick):
    validate_nick(nick)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", 1), ("42", 42), ("007", 7), ("9" * 18, 10**18 - 1)],
)
def test_positive_int_reads_ascii_digits(raw, value):
    assert text.positive_int(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        *("", "0", "000", "-1", "+1", " 1", "1 ", "1.5", "1e3", "0x1", "1_000", "9" * 19),
        # Digits outside ASCII: str.isdigit() says yes to all, int() to some (#12).
        *("²", "1²", "١", "١٢", "৩", "１", "𝟏"),
    ],
)
def test_positive_int_refuses_everything_else(raw):
    assert text.positive_int(raw) is None


@pytest.mark.parametrize(
    ("content", "tags"),
    [
        ("#" + "ß" * 70, ["ss" * 70]),
        ("#a #" + "x" * 139, None),  # 145 characters: refused by clean_content first
        ("#" + "ﬃ" * 46, ["ffi" * 46]),
    ],
)
def test_post_hashtags_fit_the_hashtags_table(content, tags):
    if tags is None:
        with pytest.raises(Invalid):
            clean_content(content)
        return
    assert hashtags_of_post(content) == tags
    assert all(len(tag) <= hashtags.c.title.type.length for tag in tags)


@pytest.mark.parametrize("content", ["#" + "ß" * 71, "#ok #" + "ß" * 100, "#" + "ﬃ" * 47])
def test_a_hashtag_longer_than_the_column_once_folded_is_invalid(content):
    # "ß" folds to "ss", "ﬃ" to "ffi": the stored form can outgrow the typed one (#12).
    with pytest.raises(Invalid) as caught:
        hashtags_of_post(content)
    assert caught.value.field == "content"
    assert caught.value.status == 400


def test_the_hashtag_limit_is_the_column_length():
    assert text.HASHTAG_MAX_CHARS == hashtags.c.title.type.length
