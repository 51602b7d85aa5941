"""Is a mail's header the one written? Every field's text checked for line ends, and the
mail as it goes on the wire read back field by field. Pure: an EmailMessage and its bytes.

A CR or LF that came in with a value (a sender's text, an id, a name) would start a header
of the sender's choice, or the body, in mail sent from the function address: compose
refuses such a mail instead of sending it.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import compat32

# RFC 5322 2.1.1: no line of a mail longer than this, its CR LF not counted.
_MAX_LINE = 998


def field_problem(msg: EmailMessage) -> str | None:
    """What is wrong with the text of a field of `msg` or of its parts, or None."""
    return next(filter(None, map(_field_problem, _fields(msg))), None)


def wire_problem(msg: EmailMessage, data: bytes) -> str | None:
    """What is wrong with `data`, the wire bytes of `msg`, or None: every header line a
    field of `msg` or the fold of one, no lone CR or LF, no line of blanks only (some
    readers end the header there), none too long; each part's fields the ones written."""
    problem = _header_problem(msg, data)
    if problem is None and msg.is_multipart():
        problem = _parts_problem(msg, data)
    return problem


def _fields(msg: EmailMessage) -> Iterator[str]:
    """The wire text of every field of `msg` and its parts (header objects the policy
    checks itself when they are set)."""
    for part in msg.walk():
        for _name, value in part.raw_items():
            if type(value) is str:
                yield value


def _field_problem(value: str) -> str | None:
    """A CR or LF in a field's text other than a fold (a line end, then a line that starts
    with a space or tab and holds more than blanks)."""
    lines = value.replace("\r\n", "\n").split("\n")
    if any("\r" in line for line in lines):
        return "a lone CR in a header field"
    if any(line[:1] not in (" ", "\t") or not line.strip() for line in lines[1:]):
        return "a line end in a header field"
    return None


def _header_problem(msg: EmailMessage, data: bytes) -> str | None:
    head, blank, _body = data.partition(b"\r\n\r\n")
    if not blank:
        return "the header has no end"
    names: list[bytes] = []
    for line in head.split(b"\r\n"):
        if b"\r" in line or b"\n" in line:
            return "a lone CR or LF in the header"
        if len(line) > _MAX_LINE:
            return "a header line too long"
        if line[:1] in (b" ", b"\t"):
            if not line.strip():
                return "a header line of blanks only"
            continue
        names.append(line.partition(b":")[0].lower())
    written = [name.lower().encode("utf-8", "replace") for name, _value in msg.raw_items()]
    if names != written:
        return "header fields that were not written as such"
    return None


def _parts_problem(msg: EmailMessage, data: bytes) -> str | None:
    """The fields of each part, read back, are the ones written (attachments, reports)."""
    parsed = email.message_from_bytes(data, policy=compat32)
    ours = [[name.lower() for name, _value in part.raw_items()] for part in msg.walk()]
    theirs = [[name.lower() for name, _value in part.raw_items()] for part in parsed.walk()]
    return None if ours == theirs else "a part whose header fields were not written as such"
