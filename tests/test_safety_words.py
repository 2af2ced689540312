"""Muted words matched in Python (``ReaderSafety.hides``) as the SQL filter matches them:
case- and width-folded, a word by the start of a run, Korean anywhere in a run (#21)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sns.reader_safety import WORDS_IN_MEMORY_CHARS, ReaderSafety, safety_from_row
from sns.safety import fold_word
from sns.search_index import body_of, pieces_of


def reader(*words: str) -> ReaderSafety:
    return ReaderSafety(False, False, True, tuple(fold_word(word).pattern for word in words))


def body(text: str) -> str:
    return body_of(pieces_of(text))


@pytest.mark.parametrize(
    ("words", "post", "hidden"),
    [
        (["노드"], "오늘 노드를 배웠다", True),  # Korean: a particle follows
        (["노드"], "오늘 배웠다", False),
        (["tornado"], "ＴＯＲＮＡＤＯ web server", True),  # width and case fold
        (["tornado"], "tornadoes everywhere", True),  # a word matches as a prefix
        (["tornado"], "a microtornado", False),  # ...of a word, not inside one
        (["#주말"], "좋은 하루 #주말", True),
        (["async server"], "tornado async server", True),  # a phrase, in order
        (["async server"], "server async", False),
        (["rareword1"], "rareword10 here", True),
        (["rareword10", "rareword1"], "rareword1 here", True),  # a shorter word in the trie
        (["rareword10", "other"], "rareword1 here", False),
        ([], "anything", False),
    ],
)
def test_hides_matches_as_the_sql_like_does(words, post, hidden):
    assert reader(*words).hides(body(post)) is hidden


def test_a_post_without_a_stored_body_is_not_hidden():
    assert reader("노드").hides(None) is False


def test_too_many_words_are_left_to_the_database():
    row = SimpleNamespace(
        _mapping={
            "safety_blocks": 0,
            "safety_mutes": 1,
            "safety_words": ",".join(["% word%"] * (WORDS_IN_MEMORY_CHARS // 7 + 1)),
        }
    )
    known = safety_from_row(row)
    assert known is not None and known.words and not known.words_in_memory
    few = safety_from_row(SimpleNamespace(_mapping={**row._mapping, "safety_words": "% a%"}))
    assert few is not None and few.words_in_memory and few.patterns == ("% a%",)
    none = safety_from_row(SimpleNamespace(_mapping={**row._mapping, "safety_words": None}))
    assert none is not None and not none.words and not none.words_in_memory
