"""Words found regardless of case: the quick way finds exactly what the (?i) pattern finds."""

from __future__ import annotations

import re
from itertools import chain

from hypothesis import given
from hypothesis import strategies as st

from smartmail.mail.casefree import folds_to_ascii, has_any, word_starts
from smartmail.mail.machine import bounce_hint

WORDS = ("mailbox", "smtp", "user unknown", "kod")
PATTERN = re.compile("|".join(WORDS), re.IGNORECASE)

# Pieces of the words, in other cases, with the letters (?i) folds to ASCII among them.
PIECES = st.sampled_from(
    [
        *"abdikmnopstuxy .\n\u0130\u0131\u017f\u212a\u00e9\u00c5\u212b",
        "MAIL",
        "box",
        "Smtp",
        "USER",
        "unknown",
        "KOD",
        "ma\u0130lbox",
        "\u017fmtp",
        "\u212aod",
    ]
)
TEXTS = st.lists(PIECES, max_size=25).map("".join)


@given(TEXTS)
def test_the_quick_look_finds_what_the_pattern_finds(text: str) -> None:
    assert has_any(text, WORDS, PATTERN) == (PATTERN.search(text) is not None)


@given(TEXTS)
def test_word_starts_are_where_the_pattern_finds_each_word(text: str) -> None:
    if folds_to_ascii(text):
        return  # left to the pattern
    each_word = (re.finditer(f"(?=({word}))", text, re.IGNORECASE) for word in WORDS)
    assert word_starts(text, WORDS) == sorted(found.start() for found in chain(*each_word))


def test_the_letters_that_fold_to_ascii_are_left_to_the_pattern() -> None:
    assert folds_to_ascii("MA\u0130LBOX")
    assert not folds_to_ascii("Brevlådan är full")
    assert has_any("MA\u0130LBOX full", WORDS, PATTERN)  # İ is an i to (?i)
    assert not has_any("mail box", WORDS, PATTERN)


# What the bounce hint was as one pattern; the quick one must agree with it.
OLD_HINT = re.compile(
    r"deliver|recipient|mailbox|transcript|permanent|fatal|user unknown|smtp|qmail|"
    r"\b[45]\.\d\.\d\b|\b5[05]\d\b",
    re.IGNORECASE,
)
HINT_PIECES = st.sampled_from(
    [
        *"0123456789 .x\n\u0130\u0131\u017f\u212a\u0663",
        "5.1.1",
        "4.2.2",
        "550",
        "505",
        "DELIVER",
        "Recipient",
        "fatal",
        "QMAIL",
        "user unknown",
        "transcr\u0131pt",
    ]
)


@given(st.lists(HINT_PIECES, max_size=25).map("".join))
def test_the_bounce_hint_is_what_its_single_pattern_was(text: str) -> None:
    assert bounce_hint(text) == (OLD_HINT.search(text) is not None)
