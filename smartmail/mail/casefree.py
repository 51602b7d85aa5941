"""Words found regardless of case, cheaply and exactly as a (?i) pattern finds them. Pure.

A case-insensitive alternation of words tries each of them at every position of a text:
about 130 us per KB, on every mail. Lower-casing the text once and looking for each word
as a substring takes a fraction of that and finds the same, except where (?i) folds a
character outside ASCII to an ASCII letter: the dotted capital I, the dotless i, the long
s and the Kelvin sign. A text holding one of those is left to the pattern.
"""

from __future__ import annotations

import re

__all__ = ["folds_to_ascii", "has_any"]

_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def folds_to_ascii(text: str) -> bool:
    """Whether `text` holds a character that (?i) matches to an ASCII letter."""
    return not text.isascii() and _FOLDS_TO_ASCII.search(text) is not None


def has_any(text: str, words: tuple[str, ...], pattern: re.Pattern[str]) -> bool:
    """Whether `pattern`, a (?i) alternation of `words` (lower-case ASCII), finds one."""
    if folds_to_ascii(text):
        return pattern.search(text) is not None
    lower = text.lower()
    return any(word in lower for word in words)
