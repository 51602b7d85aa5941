"""Thread headers of the mail we send: message ids checked and re-written, References
capped, subjects with one reply prefix. Pure: no database, no clock.

Every id we copy from a mail someone sent us (their Message-ID, In-Reply-To, References)
goes through `clean_id`: it is a valid RFC 5322 msg-id, re-written from its parts, or it
is dropped. So whatever a sender put between angle brackets (CR LF, spaces, an encoded
word that decodes to a line end) never reaches a header of ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# RFC 5322 3.6.4: msg-id is "<" dot-atom-text "@" (dot-atom-text / no-fold-literal) ">",
# dot-atom-text atext and dots (3.2.3). Dots are taken anywhere (`<a.@b>`, as some old
# mailers write): harmless, and it keeps their threads.
_DOTS_AND_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+"
_NO_FOLD_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]*\]"
_MSG_ID = re.compile(rf"<?({_DOTS_AND_ATEXT})@({_DOTS_AND_ATEXT}|{_NO_FOLD_LITERAL})>?")
# A msg-id is never folded, so it must fit a header line with room to spare.
MAX_ID_LENGTH = 250
# References: the thread's first id and the newest ones, as many in all.
MAX_REFERENCES = 20


def clean_id(value: str | None) -> str | None:
    """`value` as a msg-id `<left@right>`, or None when it is not a sane one.

    Dropped too: an id holding `=?` (an RFC 2047 encoded word has no place in a msg-id,
    and a reader that decodes one anyway could find a line end in it).
    """
    if not value:
        return None
    match = _MSG_ID.fullmatch(value.strip())
    if match is None or "=?" in value:
        return None
    if value.strip().startswith("<") != value.strip().endswith(">"):
        return None
    found = f"<{match[1]}@{match[2]}>"
    return found if len(found) <= MAX_ID_LENGTH else None


def references(ids: Iterable[str | None], keep: int = MAX_REFERENCES) -> list[str]:
    """The valid ids among `ids`, oldest first, each once; past `keep`, the first and the
    newest (RFC 5322 3.6.4: the thread's start and the parent's ids; long chains break
    some servers)."""
    found = list(dict.fromkeys(clean for value in ids if (clean := clean_id(value))))
    if len(found) > keep:
        found = [found[0], *found[len(found) - keep + 1 :]]
    return found


# Reply and forward prefixes in the languages our people and their clients write.
_PREFIX_WORDS = (
    "re",
    "sv",
    "aw",
    "vs",
    "fwd",
    "fw",
    "vb",
    "antw",
    "tr",
    "rv",
    "wg",
    "odp",
    "ynt",
    "rif",
    "doorst",
    "回复",
    "回覆",
    "答复",
    "转发",
    "轉寄",
)
_COLON = "[:\uff1a]"  # and the full-width one of Chinese and Japanese clients
_PREFIX = rf"(?:{'|'.join(_PREFIX_WORDS)})[ \t]*(?:\[\d+\]|\(\d+\))?[ \t]*{_COLON}"
_LEADING = re.compile(rf"({_PREFIX})(?:\s*{_PREFIX})*\s*", re.IGNORECASE)
_AFTER_COLON = re.compile(rf"(?<={_COLON})\s+(?:{_PREFIX}\s*)+", re.IGNORECASE)


def plain_subject(subject: str) -> str:
    """`subject` without reply prefixes, on one line with single spaces.

    `SV: Re: Sv: Re: Nytt i ärende 1` -> `Nytt i ärende 1`: a stack that grew as people
    answered each other, our own `Sv:` included, goes whole (the thread is in References
    and the case in its token); so does a stack after a colon, where a template quotes a
    subject (`Nytt i ärende 1: Re: Fwd: Stopp` -> `Nytt i ärende 1: Stopp`).
    """
    text = " ".join(subject.split())
    leading = _LEADING.match(text)
    if leading is not None:
        text = text[leading.end() :]
    return _AFTER_COLON.sub(" ", text).strip()
