"""Words found regardless of case, cheaply and exactly as a (?i) pattern finds them. Pure.

A case-insensitive alternation of words tries each of them at every position of a text:
about 130 us per KB, on every mail. Lower-casing the text once and looking for each word
as a substring takes a fraction of that and finds the same, except where (?i) folds a
character outside ASCII to an ASCII letter: the dotted capital I, the dotless i, the long
s and the Kelvin sign. A text holding one of those is left to the pattern.
"""

from __future__ import annotations

import re

__all__ = ["folds_to_ascii", "has_any", "word_starts"]


def folds_to_ascii(text: str) -> bool:
    """Whether `text` holds a character that (?i) matches to an ASCII letter."""
    # Four substring looks cost a tenth of one character class scan (and next to nothing
    # in a text of Latin-1 letters only, which cannot hold them).
    return not text.isascii() and (
        "\u0130" in text or "\u0131" in text or "\u017f" in text or "\u212a" in text
    )


def has_any(text: str, words: tuple[str, ...], pattern: re.Pattern[str]) -> bool:
    """Whether `pattern`, a (?i) alternation of `words` (lower-case ASCII), finds one."""
    if folds_to_ascii(text):
        return pattern.search(text) is not None
    lower = text.lower()
    return any(word in lower for word in words)


def word_starts(text: str, words: tuple[str, ...]) -> list[int]:
    """Where in `text` (?i) finds each of `words` (lower-case ASCII), in order, overlaps
    included; for a text without what `folds_to_ascii` looks for."""
    # One byte a character (Latin-1, any other a "?") with its ASCII letters lower-cased:
    # each index is the text's, and it takes a fraction of the time of text.lower().
    ascii_lower = text.encode("latin-1", "replace").lower()
    starts = []
    for word in words:
        wanted = word.encode("ascii")
        at = ascii_lower.find(wanted)
        while at >= 0:
            starts.append(at)
            at = ascii_lower.find(wanted, at + 1)
    return sorted(starts)
