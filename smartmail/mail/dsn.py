"""Delivery reports about mail we sent: which recipient failed, how and why. Pure: bytes in.

A standard report (RFC 3464: ``multipart/report; report-type=delivery-status``) is read
field by field: per recipient its Final-Recipient, Original-Recipient, Action, Status and
Diagnostic-Code, and the returned mail's Message-ID from its ``text/rfc822-headers`` or
``message/rfc822`` part (or an Original-Message-ID field). Any other bounce, text in a
mail server's own words, goes to flufl.bounce, which knows the wordings of many servers;
its text is searched for the first status line (``550 5.1.1 <eva@...>: User unknown``)
for the reason. A line of text from outside never becomes more than one printable line.
"""

from __future__ import annotations

import binascii
import logging
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import compat32

from flufl.bounce import all_failures

log = logging.getLogger(__name__)

REASON_CHARS = 300  # of a reason kept from a report: enough for any server's one line
_MAX_DEPTH = 12  # MIME nesting searched for report parts; real bounces need three
_MAX_TEXT = 100_000  # characters of a bounce's text searched for a status line
_ENHANCED = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?!\.?\d)")
# A reply code at the start of a line or after "said:", and words after it: "550 sorry".
_SMTP_CODE = re.compile(r"(?:^\s*|said:\s*)([45][0-5]\d)[ -](?=[A-Za-z<#])", re.I)
_MESSAGE_ID_LINE = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]{3,250}>)", re.I | re.M)
_MESSAGE_ID = re.compile(r"<[^<>\s]{3,250}>")
_ENCODINGS = ("base64", "quoted-printable")
_ORIGINAL_ID_FIELDS = ("original-message-id", "x-original-message-id")


@dataclass(frozen=True)
class Failure:
    """One recipient a report says our mail did not reach (or has not reached yet)."""

    address: str  # Final-Recipient, lower case; "" when the report names nobody
    original: str  # Original-Recipient as we sent to it, "" when not given
    status: str  # "5.1.1", "4.2.2"; "" when the report gives none
    reason: str  # the Diagnostic-Code or the bounce's status line: one line, printable
    permanent: bool  # 5.x.x (or failed without a status); 4.x.x and delays are not


@dataclass(frozen=True)
class Report:
    failures: tuple[Failure, ...]
    message_ids: tuple[str, ...]  # of the returned mail, as it names them
    standard: bool  # an RFC 3464 delivery-status report


def read_report(raw: bytes) -> Report:
    """What a bounce or delivery report says; an empty Report when it says nothing."""
    try:
        msg = message_from_bytes(raw, policy=compat32)
        return _read(msg)
    except RecursionError:  # nested beyond what the parser walks: nothing to read in it
        log.warning("a delivery report too deeply nested to read")
        return Report((), (), False)


def _read(msg: Message) -> Report:
    ids = [_first_id(msg.get(name)) for name in _ORIGINAL_ID_FIELDS]
    failures: list[Failure] = []
    texts: list[str] = []
    standard = False
    for part in _parts(msg, 0):
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            standard = True
            blocks = _blocks(part)
            ids.extend(_first_id(blocks[0].get(name)) for name in _ORIGINAL_ID_FIELDS)
            failures.extend(f for f in map(_failure, blocks[1:]) if f is not None)
        elif kind == "message/rfc822":
            ids.extend(_returned_ids(part))
        elif kind == "text/rfc822-headers":
            ids.append(_first_id(message_from_string(_text(part), policy=compat32)["message-id"]))
        elif kind == "text/plain":
            texts.append(_text(part)[:_MAX_TEXT])
    text = "\n".join(texts)
    ids.extend(_MESSAGE_ID_LINE.findall(text))
    if not standard:
        failures = _unstandard(msg, text)
    unique_ids = tuple(dict.fromkeys(i for i in ids if i))
    return Report(tuple(failures), unique_ids, standard)


def _parts(part: Message, depth: int) -> Iterator[Message]:
    """The parts of a report, the returned mail's own parts left out."""
    yield part
    if depth >= _MAX_DEPTH or not part.is_multipart():
        return
    if part.get_content_type() in ("message/rfc822", "message/delivery-status"):
        return
    for sub in part.get_payload():
        if isinstance(sub, Message):
            yield from _parts(sub, depth + 1)


def _blocks(part: Message) -> list[Message]:
    """The field blocks of a delivery-status part: per message first, then per recipient."""
    payload = part.get_payload()
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if isinstance(payload, list) and encoding not in _ENCODINGS:
        return [block for block in payload if isinstance(block, Message)] or [Message()]
    # Some servers encode the part (base64): the parser took the encoded text for fields.
    if isinstance(payload, list):
        encoded = "".join(_as_text(block) for block in payload if isinstance(block, Message))
        data = _decoded(encoded, encoding)
    else:
        data = _text(part)
    chunks = [c.strip() for c in re.split(r"\r?\n[ \t]*\r?\n", data) if c.strip()]
    return [message_from_string(c + "\n\n", policy=compat32) for c in chunks] or [Message()]


def _as_text(block: Message) -> str:
    try:
        return block.as_string()
    except (LookupError, UnicodeError, ValueError):  # bytes no charset can write back
        return ""


def _decoded(encoded: str, encoding: str) -> str:
    data = encoded.encode("ascii", "replace")
    try:
        plain = binascii.a2b_base64(data) if encoding == "base64" else quopri.decodestring(data)
    except binascii.Error:
        return ""
    return plain.decode("utf-8", "replace")


def _failure(block: Message) -> Failure | None:
    """The failure one per-recipient block reports; None for delivered, relayed, expanded."""
    action = _field(block, "action").lower().split(" ", 1)[0]
    status_match = _ENHANCED.search(_field(block, "status"))
    status = status_match.group(1) if status_match else ""
    failed = action.startswith(("fail", "error"))  # opensmtpd writes "error"
    if not (failed or action == "delayed" or (not action and status[:1] in ("4", "5"))):
        return None
    return Failure(
        address=_address(_field(block, "final-recipient")),
        original=_address(_field(block, "original-recipient")),
        status=status,
        reason=one_line(_after_type(_field(block, "diagnostic-code"))),
        permanent=status.startswith("5") or (failed and not status),
    )


def _unstandard(msg: Message, text: str) -> list[Failure]:
    """A bounce in a server's own words: flufl.bounce names the recipients, the text says
    why. A status line without a recipient gives a failure of nobody named."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # its detectors are heuristics over hostile text: never fatal here
        log.warning("flufl.bounce could not read a bounce", exc_info=True)
        temporary, permanent = frozenset(), frozenset()
    status, reason = _status_line(text)
    found = [(a, True) for a in sorted(permanent)] + [
        (a, False) for a in sorted(temporary - permanent)
    ]
    failures = []
    for name, lasting in found:
        address = _address(name.decode("ascii", "replace"))
        if address:
            # flufl.bounce has the last word on permanence unless a status says 4.x.x
            failures.append(
                Failure(address, "", status, reason, lasting and not status.startswith("4"))
            )
    if not failures and status:
        failures.append(Failure("", "", status, reason, status.startswith("5")))
    return failures


def _status_line(text: str) -> tuple[str, str]:
    """(status, the line that says it) of the first status in a bounce's text."""
    for line in text.splitlines():
        enhanced = _ENHANCED.search(line)
        if enhanced:
            return enhanced.group(1), one_line(line)
        code = _SMTP_CODE.search(line)
        if code:
            return f"{code.group(1)[0]}.0.0", one_line(line)
    return "", ""


def _returned_ids(part: Message) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return [_first_id(payload[0]["message-id"])]
    return []


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return "" if value is None else _plain(str(value))


def _text(part: Message) -> str:
    """A part's text, decoded by its transfer encoding and charset (or UTF-8), never raising."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:  # a charset name nobody knows
        return data.decode("utf-8", "replace")


def _plain(value: str) -> str:
    """Header text as Python holds it (raw 8-bit bytes as surrogates) made plain text."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _after_type(value: str) -> str:
    """`rfc822; eva@kund.example` -> `eva@kund.example` (the type is optional in practice)."""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else value.strip()


def _address(value: str) -> str:
    """The address in a recipient field, lower case; "" for anything that is not one."""
    address = _after_type(value).strip().strip("<>").strip().lower()
    local, at, domain = address.rpartition("@")
    if not (at and local and domain) or not address.isprintable() or " " in address:
        return ""
    return address[:254]


def _first_id(value: object) -> str:
    if value is None:
        return ""
    found = _MESSAGE_ID.search(_plain(str(value)))
    return found.group(0) if found else ""


def one_line(text: str, limit: int = REASON_CHARS) -> str:
    """`text` as one printable line of at most `limit` characters."""
    words = "".join(c if c.isprintable() else " " for c in text).split()
    line = " ".join(words)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
