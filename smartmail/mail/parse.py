"""Turn the raw bytes of one mail into a ParsedMail.

mail-parser does the main parse; the stdlib ``email`` package (policy.default,
then compat32) is the fallback, and a minimal result is the last resort, so
``parse`` never raises.  Text is decoded leniently: unknown charsets fall back
to UTF-8 and then Windows-1252, and C1 control characters are read as
Windows-1252.  Whatever went wrong is listed in ``ParsedMail.defects``.  The
latest reply in the text is found by ``reply_text``.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
import hashlib
import io
import logging
import mimetypes
import os.path
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.header import decode_header
from email.message import Message
from email.policy import Policy
from typing import Any

import mailparser
from inscriptis import get_text

from smartmail.mail.reply_text import latest_reply

# mail-parser logs a WARNING for every MIME type it does not handle (each
# bounce) and an ERROR for undecodable headers; parse() reports those in
# ``defects`` instead.  An explicitly configured level is left alone.
_MAILPARSER_LOG = logging.getLogger("mailparser")
if _MAILPARSER_LOG.level == logging.NOTSET:
    _MAILPARSER_LOG.setLevel(logging.CRITICAL)

_MAX_DEPTH = 30
_MAX_FILENAME = 150
_FORWARDED_TYPES = frozenset({"message/rfc822", "message/global"})
_WESTERN_CODECS = frozenset({"ascii", "iso8859-1", "cp1252"})


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str  # safe for a file system: no path parts, no control characters, never empty
    content_type: str  # e.g. "application/pdf"
    payload: bytes
    content_id: str = ""  # without angle brackets, "" when none


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # with angle brackets; generated from a hash of the bytes when missing
    subject: str  # decoded, one line, stripped; "" when none
    from_addr: str  # lower-cased address, "" when none can be found
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


Pairs = list[tuple[str, str]]


@dataclass
class _Envelope:
    """Address and date fields, which each parser reads its own way."""

    sender: Pairs
    to: Pairs
    cc: Pairs
    reply_to: Pairs
    date: datetime | None


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)  # text of attached mails
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def parse(raw: bytes) -> ParsedMail:
    """Parse one mail; never raises, whatever the bytes."""
    data = _as_bytes(raw)
    defects: list[str] = []
    stages: list[tuple[str, Callable[[bytes, list[str]], ParsedMail]]] = [
        ("mailparser", _via_mailparser),
        ("email default", _via_stdlib_default),
        ("email compat32", _via_stdlib_compat32),
    ]
    for name, stage in stages:
        try:
            return stage(data, defects)
        except Exception as exc:
            defects.append(f"{name} failed: {type(exc).__name__}")
    return _minimal(data, defects)


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
    its reading of the body: `_walk` decodes every part with its own lenient rules, so
    mail-parser decoding each part as well (and re-encoding every attachment to base64)
    would be done for nothing. Should a later mail-parser rename either private method,
    parse() falls back to the stdlib and says so in the defects, which the tests catch."""

    def parse(self) -> _MailParser:
        self._reset()  # the header reading: addresses, date and their defects
        if self.message is not None:
            for part in self.message.walk():
                self._append_defects(part, part.get_content_type())
        return self


def _via_mailparser(data: bytes, defects: list[str]) -> ParsedMail:
    parsed = _MailParser.from_bytes(data)
    msg = parsed.message
    if not isinstance(msg, Message):
        raise TypeError("mailparser returned no message")
    raw = _raw_first(msg)
    envelope = _Envelope(
        sender=_better_names(_pairs(parsed.from_), lambda: _stdlib_addresses(raw.get("from"))),
        to=_pairs(parsed.to),
        cc=_pairs(parsed.cc),
        reply_to=_pairs(parsed.reply_to),
        date=_utc(parsed.date),
    )
    found = [str(name) for name in sorted(parsed.defects_categories)]
    return _build(data, msg, raw, envelope, [*defects, *found])


def _via_stdlib_default(data: bytes, defects: list[str]) -> ParsedMail:
    return _via_stdlib(data, defects, email.policy.default)


def _via_stdlib_compat32(data: bytes, defects: list[str]) -> ParsedMail:
    return _via_stdlib(data, defects, email.policy.compat32)


def _via_stdlib(data: bytes, defects: list[str], policy: Policy) -> ParsedMail:
    msg = email.message_from_bytes(data, policy=policy)
    raw = _raw_first(msg)
    envelope = _Envelope(
        sender=_stdlib_addresses(raw.get("from")),
        to=_stdlib_addresses(raw.get("to")),
        cc=_stdlib_addresses(raw.get("cc")),
        reply_to=_stdlib_addresses(raw.get("reply-to")),
        date=_stdlib_date(raw.get("date")),
    )
    return _build(data, msg, raw, envelope, [*defects, *_message_defects(msg)])


def _minimal(data: bytes, defects: list[str]) -> ParsedMail:
    text = _tidy(_decode_bytes(data, None))
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
    data: bytes, msg: Message, raw: dict[str, str], envelope: _Envelope, defects: list[str]
) -> ParsedMail:
    # Decoding starts from the raw values: the same first value per name, read once.
    headers = {key: _decode_unfolded(value) for key, value in raw.items()}
    body = _Body()
    _walk(msg, body, 0)
    text = _body_text(body)
    from_addr, from_name = _sender(envelope.sender, headers.get("from", ""))
    ids = _msg_ids(raw.get("message-id", ""))
    return ParsedMail(
        message_id=ids[0] if ids else _generated_id(data, raw),
        subject=" ".join(headers.get("subject", "").split()),
        from_addr=from_addr,
        from_name=from_name,
        to=_addresses(envelope.to),
        cc=_addresses(envelope.cc),
        reply_to=_addresses(envelope.reply_to),
        date=envelope.date,
        in_reply_to=_msg_ids(raw.get("in-reply-to", "")),
        references=_msg_ids(raw.get("references", "")),
        headers=headers,
        text=text,
        reply_text=latest_reply(text),
        html=_newlines("\n".join(body.html)),
        attachments=tuple(body.attachments),
        content_type=msg.get_content_type().lower(),
        defects=tuple(dict.fromkeys([*defects, *body.defects])),
    )


def _message_defects(msg: Message) -> list[str]:
    try:
        return [type(defect).__name__ for part in msg.walk() for defect in part.defects]
    except RecursionError:
        return ["nesting too deep"]


# --------------------------------------------------------------------------- text decoding


def _cp1252_char(code: int) -> str | None:
    try:
        return bytes([code]).decode("cp1252")
    except UnicodeDecodeError:
        return None


#: C1 controls read as Windows-1252 (the five unassigned ones dropped), NUL dropped.
_CLEAN_TABLE: dict[int, str | None] = {code: _cp1252_char(code) for code in range(0x80, 0xA0)}
_CLEAN_TABLE[0] = None
_SURROGATES = re.compile("[\ud800-\udfff]")
_HEADER_CONTROLS = re.compile("[\x00-\x1f\x7f]")
_ENCODED_WORDS = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s+=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*")


#: Every character that _clean changes: the keys of _CLEAN_TABLE and surrogates.
_UNCLEAN = re.compile("[\x00\x80-\x9f\ud800-\udfff]")


def _clean(text: str) -> str:
    # Most text has nothing to clean, and one search is much cheaper than translate.
    if not _UNCLEAN.search(text):
        return text
    return _SURROGATES.sub("", text.translate(_CLEAN_TABLE))


def _codec(label: str | None) -> str | None:
    name = (label or "").strip().strip("\"'").split("*", 1)[0].lower()
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):
        return None


def _codecs_for(label: str | None) -> list[str]:
    """Codecs to try, in order, for a charset label of any quality."""
    codec = _codec(label)
    if codec is None or codec in _WESTERN_CODECS:
        # Labelled ASCII/Latin-1 mail is often really UTF-8 or Windows-1252.
        return ["utf-8", "cp1252"]
    return [codec, "utf-8", "cp1252"]


def _decode_bytes(data: bytes, label: str | None) -> str:
    return _decode_with(data, label)[0]


def _decode_with(data: bytes, label: str | None) -> tuple[str, str]:
    """The text, and the codec that read it."""
    for codec in _codecs_for(label):
        try:
            return _clean(data.decode(codec)), codec
        except (LookupError, ValueError):
            continue
    return _clean(data.decode("latin-1")), "latin-1"


def _repair(text: str) -> str:
    """Decode raw 8-bit bytes that the email package kept as surrogates."""
    if not _SURROGATES.search(text):
        return text
    try:
        return _decode_bytes(text.encode("utf-8", "surrogateescape"), None)
    except UnicodeEncodeError:
        return _SURROGATES.sub("", text)


def _decode_words(match: re.Match[str]) -> str:
    try:
        chunks = decode_header(match.group(0))
    except Exception:
        return match.group(0)
    return "".join(
        chunk if isinstance(chunk, str) else _decode_bytes(chunk, charset)
        for chunk, charset in chunks
    )


def _unfold(value: object) -> str:
    """A raw header value on one line, 8-bit bytes decoded."""
    return _repair(str(value).replace("\r", "").replace("\n", ""))


def _decode_header(value: object) -> str:
    """Decode a raw header value: 8-bit bytes, RFC 2047 words, one line."""
    return _decode_unfolded(_unfold(value))


def _decode_unfolded(text: str) -> str:
    """Decode the RFC 2047 words of a value that _unfold returned."""
    if "=?" in text:  # cheap test before the regex: most values have no encoded words
        text = _ENCODED_WORDS.sub(_decode_words, text)
    return _HEADER_CONTROLS.sub(" ", _clean(text)).strip()


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _tidy(text: str) -> str:
    return _newlines(text).strip()


# --------------------------------------------------------------------------- headers


def _header_name(name: object) -> str:
    return _clean(_repair(str(name))).strip().lower()


def _raw_first(msg: Message) -> dict[str, str]:
    """Lower-cased name -> first raw value (8-bit repaired, unfolded)."""
    first: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = _header_name(name)
        if key and key not in first:
            first[key] = _unfold(value)
    return first


_ANGLE_ID = re.compile(r"<([^<>]*)>")
_ID_SEPARATORS = re.compile(r"[\s,]+")


def _msg_ids(value: str) -> tuple[str, ...]:
    """Message ids with angle brackets, from a Message-ID/References-like value."""
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
    digest.update(body_of(data))
    return f"<{digest.hexdigest()[:32]}@{domain}>"


def body_of(data: bytes) -> bytes:
    """A raw mail's body: what follows the first empty line."""
    return data.replace(b"\r\n", b"\n").partition(b"\n\n")[2]


def _pairs(value: Any) -> Pairs:
    if not isinstance(value, list):
        return []
    return [(str(pair[0]), str(pair[1])) for pair in value if len(pair) == 2]


def _better_names(pairs: Pairs, fallback: Callable[[], Pairs]) -> Pairs:
    """mail-parser writes names with raw 8-bit bytes as "\\udcXX" escapes: use the stdlib's."""
    if not any("\\udc" in name for name, _addr in pairs):
        return pairs  # the usual case: spare the second address parse
    names = {addr.lower(): name for name, addr in fallback()}
    return [
        (names.get(addr.lower(), name) if "\\udc" in name else name, addr) for name, addr in pairs
    ]


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


def _display_name(name: str) -> str:
    return " ".join(_decode_header(name).split()).strip("\"' ")


def _sender(pairs: Pairs, from_header: str) -> tuple[str, str]:
    """(address, display name); the header text is the name when there is no address."""
    for name, addr in pairs:
        if "@" in addr:
            return addr.strip().lower(), _display_name(name)
    return "", " ".join(re.sub(r"[<>\"]", " ", from_header).split())


def _addresses(pairs: Pairs) -> tuple[str, ...]:
    found = (_clean(_repair(addr)).strip().lower() for _name, addr in pairs)
    return tuple(dict.fromkeys(addr for addr in found if "@" in addr))


# --------------------------------------------------------------------------- body


def _walk(part: Message, body: _Body, depth: int) -> None:
    if depth > _MAX_DEPTH:
        body.defects.append("nesting too deep")
        return
    ctype = part.get_content_type()
    try:
        if ctype in _FORWARDED_TYPES and part.is_multipart():
            _forwarded(part, body, depth)
        elif part.is_multipart():
            if part.get_content_maintype() == "multipart":
                for sub in part.get_payload():
                    if isinstance(sub, Message):
                        _walk(sub, body, depth + 1)
        else:
            _leaf(part, ctype, body)
    except Exception as exc:
        body.defects.append(f"{ctype} part skipped: {type(exc).__name__}")


def _leaf(part: Message, ctype: str, body: _Body) -> None:
    filename = _filename(part)
    if _is_attachment(part, ctype, filename):
        body.attachments.append(_attachment(part, ctype, filename))
    elif ctype == "text/html":
        body.html.append(_part_text(part, body))
    elif ctype == "text/plain" or part.get_content_maintype() == "multipart":
        # A multipart without a usable boundary: its payload is all there is.
        body.plain.append(_part_text(part, body))


def _is_attachment(part: Message, ctype: str, filename: str) -> bool:
    if filename or part.get_content_disposition() == "attachment":
        return True
    # Inline images (Content-ID) and other unnamed non-text parts are files too.
    return part.get_content_maintype() not in ("text", "multipart")


def _part_text(part: Message, body: _Body) -> str:
    label = part.get_content_charset()
    if label and _codec(label) is None:
        body.defects.append(f"unknown charset {str(label)[:40]}")
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text, used = _decode_with(payload, label)
    declared = _codec(label) if label else "ascii"  # None: unknown, reported above
    if declared == "ascii" and not payload.isascii():
        body.defects.append(f"8-bit text without its charset, read as {used}")
    elif declared is not None and declared not in _WESTERN_CODECS and used != declared:
        body.defects.append(f"text not valid {declared}, read as {used}")
    return _newlines(text)


def _attachment(part: Message, ctype: str, filename: str) -> ParsedAttachment:
    payload = part.get_payload(decode=True)
    return ParsedAttachment(
        filename=_safe_filename(filename, ctype),
        content_type=ctype,
        payload=payload if isinstance(payload, bytes) else b"",
        content_id=_content_id(part),
    )


def _forwarded(part: Message, body: _Body, depth: int) -> None:
    """An attached mail: kept as a file, and its text kept aside."""
    inner = part.get_payload(0)
    if not isinstance(inner, Message):
        raise TypeError("attached message has no message")
    ctype = part.get_content_type()
    body.attachments.append(
        ParsedAttachment(
            filename=_safe_filename(_filename(part), ctype),
            content_type=ctype,
            payload=_message_bytes(inner, body),
            content_id=_content_id(part),
        )
    )
    inner_body = _Body()
    _walk(inner, inner_body, depth + 1)
    inner_text = _body_text(inner_body)
    if inner_text:
        body.forwarded.append(inner_text)
    body.defects.extend(inner_body.defects)


def _message_bytes(msg: Message, body: _Body) -> bytes:
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False).flatten(msg)
    except Exception as exc:
        body.defects.append(f"attached message not serialisable: {type(exc).__name__}")
        return b""
    return buffer.getvalue()


def _content_id(part: Message) -> str:
    for name, value in part.raw_items():
        if _header_name(name) == "content-id":
            return _decode_header(value).strip().strip("<>").strip()
    return ""


def _body_text(body: _Body) -> str:
    plain = "\n".join(text for text in body.plain if text.strip())
    if plain.strip():
        return _tidy(plain)
    html = "\n".join(body.html)
    if html.strip():
        return _tidy(_html_to_text(html))
    return "\n\n".join(body.forwarded)


_TAGS = re.compile(r"<[^>]*>")


def _html_to_text(html: str) -> str:
    try:
        return str(get_text(html))
    except Exception:
        return _TAGS.sub(" ", html)


# --------------------------------------------------------------------------- filenames


def _param_text(value: str | tuple[str | None, str | None, str]) -> str:
    if isinstance(value, tuple):  # RFC 2231: (charset, language, text as latin-1)
        charset, _language, text = value
        return _decode_bytes(text.encode("raw-unicode-escape"), charset)
    return _decode_header(value)


def _filename(part: Message) -> str:
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = part.get_param(param, header=header)
        if value:
            text = _param_text(value)
            if text.strip():
                return text
    return ""


_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')


def _safe_filename(name: str, content_type: str) -> str:
    """Basename only, no control characters, no leading dots, never empty."""
    name = unicodedata.normalize("NFC", _clean(name))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE_CHARS.sub("_", name).strip().lstrip(".").rstrip(". ").strip()
    if not name:
        return _default_filename(content_type)
    stem, ext = os.path.splitext(name)
    if len(ext) > 16:
        stem, ext = name, ""
    return stem[: _MAX_FILENAME - len(ext)] + ext


def _default_filename(content_type: str) -> str:
    if content_type in _FORWARDED_TYPES:
        return "forwarded.eml"
    return "attachment" + (mimetypes.guess_extension(content_type) or "")
