"""Turn the raw bytes of one mail into a ParsedMail.

mail-parser does the main parse; the stdlib ``email`` package (policy.default,
then compat32) is the fallback, then its headers alone (a mail nested too deep for
either still has a sender and a subject), and a minimal result is the last resort, so
``parse`` never raises. Text is read by charsets.py (the declared charset when it reads
plausibly, else the detected one), header values by encoded_words.py, the sender by
addresses.py, the parts by body.py. Whatever went wrong is listed in
``ParsedMail.defects``; how the mail was read where it was not as declared (charsets,
where the sender's address came from, which part is the text) in ``ParsedMail.notes``.
The latest reply in the text is found by ``reply_text``.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import email.utils
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import mailparser

from smartmail.mail import addresses
from smartmail.mail.body import Body, ParsedAttachment, body_text, newlines, tidy, unfold, walk
from smartmail.mail.charsets import clean, decode
from smartmail.mail.encoded_words import HeaderReading, decode_value
from smartmail.mail.mime_scan import Spooling, SpoolTo, spool
from smartmail.mail.reply_text import latest_reply, only_forwards

__all__ = ["ParsedAttachment", "ParsedMail", "body_of", "content_id", "is_mail", "parse"]

# mail-parser logs a WARNING for every MIME type it does not handle (each
# bounce) and an ERROR for undecodable headers; parse() reports those in
# ``defects`` instead.  An explicitly configured level is left alone.
_MAILPARSER_LOG = logging.getLogger("mailparser")
if _MAILPARSER_LOG.level == logging.NOTSET:
    _MAILPARSER_LOG.setLevel(logging.CRITICAL)

#: Where the sender's address is looked for when no From gives one, in this order.
_SENDER_FALLBACKS = ("sender", "reply-to", "return-path")


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # with angle brackets; generated from a hash of the bytes when missing
    subject: str  # decoded, one line, stripped; "" when none
    from_addr: str  # one valid addr-spec, lower-cased; "" when none can be found
    from_name: str  # display name, decoded
    to: tuple[str, ...]  # lower-cased addresses
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    date: datetime | None  # timezone-aware UTC
    in_reply_to: tuple[str, ...]  # message ids with angle brackets
    references: tuple[str, ...]
    headers: dict[str, str]  # lower-cased header name -> first value, decoded
    text: str  # whole body text (text/plain, else HTML turned into text)
    reply_text: str  # text without quoted history and signature
    html: str  # the HTML part, "" when none
    attachments: tuple[ParsedAttachment, ...]
    content_type: str  # of the whole mail, lower case, e.g. "multipart/report"
    defects: tuple[str, ...] = field(default=())  # what was wrong with the mail
    notes: tuple[str, ...] = field(default=())  # how it was read where not as declared


Pairs = list[tuple[str, str]]


@dataclass
class _Envelope:
    """Address and date fields, which each parser reads its own way."""

    to: Pairs
    cc: Pairs
    reply_to: Pairs
    date: datetime | None
    mail_from: str | None = None  # the SMTP envelope's, when known


def is_mail(raw: bytes) -> bool:
    """False for zero bytes (or only white space): that is no mail, a mail with headers
    and no body is one. Every channel refuses the first and stores the second."""
    return _NOT_SPACE.search(raw) is not None  # raw.strip() would copy a 20 MB mail


_NOT_SPACE = re.compile(rb"\S")  # as bytes.strip(): ASCII white space


@dataclass(frozen=True)
class _Source:
    raw: bytes  # the mail as it came
    spooling: Spooling  # what the parsers read: large attachments in files, left out


def parse(
    raw: bytes, envelope_from: str | None = None, spool_to: SpoolTo | None = None
) -> ParsedMail:
    """Parse one mail; never raises, whatever the bytes. `envelope_from` is the SMTP
    envelope's sender, the last place the sender's address is looked for. With `spool_to`,
    large attachments are decoded into files there (ParsedAttachment.spooled) instead of
    being held in memory."""
    data = _as_bytes(raw)
    defects: list[str] = []
    try:
        source = _Source(data, spool(data, spool_to))
    except Exception as exc:  # no room for the files (or a bug): read it all in memory
        source = _Source(data, Spooling(data))
        defects.append(f"attachments not spooled: {type(exc).__name__}")
    stages: list[tuple[str, Callable[[_Source, list[str], str | None], ParsedMail]]] = [
        ("mailparser", _via_mailparser),
        ("email default", _via_stdlib_default),
        ("email compat32", _via_stdlib_compat32),
        ("email headers", _via_headers_only),
    ]
    for name, stage in stages:
        try:
            return stage(source, defects, envelope_from)
        except Exception as exc:
            defects.append(f"{name} failed: {type(exc).__name__}")
    return _minimal(data, defects)  # any spooled files go with `source`


def _as_bytes(raw: object) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


# --------------------------------------------------------------------------- parsers


class _MailParser(mailparser.MailParser):  # type: ignore[misc]  # mail-parser is untyped
    """mail-parser's reading of the headers (addresses, date) and its defect list, without
    its reading of the body: `walk` decodes every part with its own lenient rules, so
    mail-parser decoding each part as well (and re-encoding every attachment to base64)
    would be done for nothing. Should a later mail-parser rename either private method,
    parse() falls back to the stdlib and says so in the defects, which the tests catch."""

    def parse(self) -> _MailParser:
        self._reset()  # the header reading: addresses, date and their defects
        if self.message is not None:
            for part in self.message.walk():
                self._append_defects(part, part.get_content_type())
        return self


def _via_mailparser(source: _Source, defects: list[str], envelope_from: str | None) -> ParsedMail:
    parsed = _MailParser.from_bytes(source.spooling.skeleton)
    msg = parsed.message
    if not isinstance(msg, Message):
        raise TypeError("mailparser returned no message")
    envelope = _Envelope(
        to=_pairs(parsed.to),
        cc=_pairs(parsed.cc),
        reply_to=_pairs(parsed.reply_to),
        date=_utc(parsed.date),
        mail_from=envelope_from,
    )
    found = [str(name) for name in sorted(parsed.defects_categories)]
    return _build(source, msg, _raw_first(msg), envelope, [*defects, *found])


def _via_stdlib_default(
    source: _Source, defects: list[str], envelope_from: str | None
) -> ParsedMail:
    msg = email.message_from_bytes(source.spooling.skeleton, policy=email.policy.default)
    return _via_stdlib(msg, source, defects, envelope_from)


def _via_stdlib_compat32(
    source: _Source, defects: list[str], envelope_from: str | None
) -> ParsedMail:
    msg = email.message_from_bytes(source.spooling.skeleton, policy=email.policy.compat32)
    return _via_stdlib(msg, source, defects, envelope_from)


def _via_headers_only(source: _Source, defects: list[str], envelope_from: str | None) -> ParsedMail:
    """The headers alone: for a body no parser can read (nested thousands deep)."""
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    msg = parser.parsebytes(source.spooling.skeleton, headersonly=True)
    if msg.get_content_maintype() == "multipart":
        msg.set_payload("")  # its parts are what could not be read
    return _via_stdlib(msg, source, [*defects, "body not read"], envelope_from)


def _via_stdlib(
    msg: Message, source: _Source, defects: list[str], envelope_from: str | None
) -> ParsedMail:
    raw = _raw_first(msg)
    envelope = _Envelope(
        to=_stdlib_addresses(raw.get("to")),
        cc=_stdlib_addresses(raw.get("cc")),
        reply_to=_stdlib_addresses(raw.get("reply-to")),
        date=_stdlib_date(raw.get("date")),
        mail_from=envelope_from,
    )
    return _build(source, msg, raw, envelope, [*defects, *_message_defects(msg)])


def _minimal(data: bytes, defects: list[str]) -> ParsedMail:
    text = tidy(decode(data).text)
    return ParsedMail(
        message_id=_generated_id(data),
        subject="",
        from_addr="",
        from_name="",
        to=(),
        cc=(),
        reply_to=(),
        date=None,
        in_reply_to=(),
        references=(),
        headers={},
        text=text,
        reply_text=text,
        html="",
        attachments=(),
        content_type="text/plain",
        defects=tuple(dict.fromkeys(defects)),
    )


def _build(
    source: _Source, msg: Message, raw: dict[str, str], envelope: _Envelope, defects: list[str]
) -> ParsedMail:
    data = source.raw
    body = Body(spooled=source.spooling.files)
    walk(msg, body)
    text = body_text(body)
    # Headers are read after the body: a charset the body was in is likely theirs too.
    subject_reading = HeaderReading(hint=body.charset)
    subject = " ".join(decode_value(raw.get("subject", ""), subject_reading).split())
    headers = {
        key: subject if key == "subject" else decode_value(value, HeaderReading(body.charset))
        for key, value in raw.items()
    }
    ids = _msg_ids(raw.get("message-id", ""))
    message_id = ids[0] if ids else _generated_id(data, raw)
    who = _sender(msg, raw, envelope, message_id, body.charset)
    notes = [f"subject: {note}" for note in subject_reading.notes]
    if who.source:
        notes.append(f"sender: {who.source}")
    return ParsedMail(
        message_id=message_id,
        subject=subject,
        from_addr=who.address,
        from_name=who.name,
        to=_addresses(envelope.to),
        cc=_addresses(envelope.cc),
        reply_to=_addresses(envelope.reply_to),
        date=envelope.date,
        in_reply_to=_msg_ids(raw.get("in-reply-to", "")),
        references=_msg_ids(raw.get("references", "")),
        headers=headers,
        text=text,
        reply_text=_reply_text(text, body),
        html=newlines("\n".join(body.html)),
        attachments=tuple(body.attachments),
        content_type=msg.get_content_type().lower(),
        defects=tuple(dict.fromkeys([*defects, *body.defects])),
        notes=tuple(dict.fromkeys([*body.notes, *notes])),
    )


def _reply_text(text: str, body: Body) -> str:
    """The latest reply; of a mail that only forwards an attached one, that one's."""
    if body.forwarded and only_forwards("\n".join(body.plain) or text):
        return latest_reply(body.forwarded[0])
    return latest_reply(text)


def _sender(
    msg: Message, raw: dict[str, str], envelope: _Envelope, message_id: str, hint: str | None
) -> addresses.Sender:
    froms = [unfold(value) for name, value in msg.raw_items() if _header_name(name) == "from"]
    fallbacks = [(name, raw[name]) for name in _SENDER_FALLBACKS if raw.get(name)]

    def read(value: str) -> str:
        return decode_value(value, HeaderReading(hint=hint))

    return addresses.sender(froms, fallbacks, envelope.mail_from, message_id, read)


def _message_defects(msg: Message) -> list[str]:
    try:
        return [type(defect).__name__ for part in msg.walk() for defect in part.defects]
    except RecursionError:
        return ["nesting too deep"]


# --------------------------------------------------------------------------- headers


def _repair(text: str) -> str:
    """Raw 8-bit bytes that the email package kept as surrogates, decoded."""
    if text.isascii():
        return text
    return clean(decode(text.encode("utf-8", "surrogateescape")).text)


def _header_name(name: object) -> str:
    text = str(name)
    return (text if text.isascii() else _repair(text)).strip().lower()


def _raw_first(msg: Message) -> dict[str, str]:
    """Lower-cased name -> first raw value, unfolded (8-bit bytes as surrogates)."""
    first: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = _header_name(name)
        if key and key not in first:
            first[key] = unfold(value)
    return first


_ANGLE_ID = re.compile(r"<([^<>]*)>")
_ID_SEPARATORS = re.compile(r"[\s,]+")


def _msg_ids(value: str) -> tuple[str, ...]:
    """Message ids with angle brackets, from a Message-ID/References-like value."""
    value = _repair(value)
    ids = ["".join(inner.split()) for inner in _ANGLE_ID.findall(value)]
    if not any(ids):
        ids = [token.strip("<>") for token in _ID_SEPARATORS.split(value) if "@" in token]
    return tuple(dict.fromkeys(f"<{mid}>" for mid in ids if mid))


def _generated_id(data: bytes, raw: dict[str, str] | None = None) -> str:
    """For a mail without one: made from what a second delivery of it leaves alone (who
    sent it to whom, when, its subject and body), not from the trace headers servers add."""
    if raw is None:  # nothing could be read: all of it
        return f"<{hashlib.sha256(data).hexdigest()[:32]}@generated.smartmail>"
    fields = [raw.get(name, "") for name in ("from", "to", "cc", "date", "subject")]
    return content_id(fields, data, "generated.smartmail")


def content_id(fields: Iterable[str], data: bytes, domain: str) -> str:
    """A Message-ID made from `fields` and the body of `data`: the same for each copy."""
    digest = hashlib.sha256()
    for value in fields:
        digest.update(value.encode("utf-8", "surrogateescape") + b"\0")
    _hash_body(digest, data)
    return f"<{digest.hexdigest()[:32]}@{domain}>"


_BODY_START = re.compile(rb"\n\r?\n")
_HASH_PIECE = 1 << 20


def _hash_body(digest: Any, data: bytes) -> None:
    """digest.update(body_of(data)) without copying the mail: a CRLF is a line feed (one
    split between two pieces is carried over), the body starts after the first empty line."""
    found = _BODY_START.search(data)
    start = found.end() if found else len(data)
    carry = b""
    while start < len(data):
        piece = carry + data[start : start + _HASH_PIECE]
        start += _HASH_PIECE
        carry = b"\r" if piece.endswith(b"\r") and start < len(data) else b""
        digest.update(piece[: len(piece) - len(carry)].replace(b"\r\n", b"\n"))


def body_of(data: bytes) -> bytes:
    """A raw mail's body: what follows the first empty line."""
    return data.replace(b"\r\n", b"\n").partition(b"\n\n")[2]


def _pairs(value: Any) -> Pairs:
    if not isinstance(value, list):
        return []
    return [(str(pair[0]), str(pair[1])) for pair in value if len(pair) == 2]


def _stdlib_addresses(value: str | None) -> Pairs:
    if not value:
        return []
    try:
        return email.utils.getaddresses([value])
    except Exception:
        return []


def _stdlib_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return _utc(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _addresses(pairs: Pairs) -> tuple[str, ...]:
    found = (_repair(addr).strip().lower() for _name, addr in pairs)
    return tuple(dict.fromkeys(addr for addr in found if "@" in addr))
