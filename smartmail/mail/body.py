"""A mail's parts: which part is the text, the attachments, the mails it forwards.

Each text part is read by charsets.decode (its label when that reads plausibly, else
what charset-normalizer finds). The text is the text/plain part, unless that is a stub
("this mail is in HTML", "view it in your browser", a lone link, far shorter than the
HTML's text): then the HTML's text. A mail that only forwards another (as an attached
message/rfc822, its own text empty or only a signature) has the forwarded mail's text.
"""

from __future__ import annotations

import io
import mimetypes
import os.path
import re
import unicodedata
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message

from smartmail.mail.charsets import clean, decode, describe
from smartmail.mail.encoded_words import decode_value
from smartmail.mail.reply_text import only_forwards
from smartmail.mail.spooled import MARKER, Spooled

MAX_DEPTH = 30
_MAX_FILENAME = 150
FORWARDED_TYPES = frozenset({"message/rfc822", "message/global"})
_WESTERN_CODECS = frozenset({"ascii", "cp1252"})


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str  # safe for a file system: no path parts, no control characters, never empty
    content_type: str  # e.g. "application/pdf"
    payload: bytes  # b"" when spooled: read() gives the bytes either way
    content_id: str = ""  # without angle brackets, "" when none
    spooled: Spooled | None = None  # decoded into a file of its own (mime_scan.py)

    @property
    def size(self) -> int:
        return self.spooled.size if self.spooled else len(self.payload)

    def read(self) -> bytes:
        """The attachment's bytes, from its file when it was spooled."""
        return self.spooled.read() if self.spooled else self.payload


@dataclass
class Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)  # text of attached mails
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how it was read, for parse_notes
    charset: str | None = None  # the first non-Western charset a text part was read in
    spooled: dict[str, Spooled] = field(default_factory=dict)  # by the token in MARKER


def walk(part: Message, body: Body, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        body.defects.append("nesting too deep")
        return
    ctype = part.get_content_type()
    try:
        if ctype in FORWARDED_TYPES and part.is_multipart():
            _forwarded(part, body, depth)
        elif part.is_multipart():
            if part.get_content_maintype() == "multipart":
                for sub in part.get_payload():
                    if isinstance(sub, Message):
                        walk(sub, body, depth + 1)
        else:
            _leaf(part, ctype, body)
    except Exception as exc:
        body.defects.append(f"{ctype} part skipped: {type(exc).__name__}")


def _leaf(part: Message, ctype: str, body: Body) -> None:
    filename = attachment_name(part)
    if is_attachment(part, ctype, filename):
        body.attachments.append(_attachment(part, ctype, filename, body))
    elif ctype == "text/html":
        body.html.append(_part_text(part, body))
    elif ctype == "text/plain" or part.get_content_maintype() == "multipart":
        # A multipart without a usable boundary: its payload is all there is.
        body.plain.append(_part_text(part, body))


def is_attachment(part: Message, ctype: str, filename: str) -> bool:
    if filename or part.get_content_disposition() == "attachment":
        return True
    # Inline images (Content-ID) and other unnamed non-text parts are files too.
    return part.get_content_maintype() not in ("text", "multipart")


def _part_text(part: Message, body: Body) -> str:
    label = part.get_content_charset()
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    decoded = decode(payload, label, body.charset)
    note = describe(decoded, label)
    if note:
        body.notes.append(f"{part.get_content_type()}: {note}")
        body.defects.append(_defect(label, decoded.codec))
    if body.charset is None and decoded.codec not in _WESTERN_CODECS:
        body.charset = decoded.codec
    return newlines(decoded.text)


def _defect(label: str | None, used: str) -> str:
    if not label:
        return f"8-bit text without its charset, read as {used}"
    return f"text not valid {clean(str(label))[:40]}, read as {used}"


def _attachment(part: Message, ctype: str, filename: str, body: Body) -> ParsedAttachment:
    spooled = body.spooled.get(str(part.get(MARKER, "")))
    payload = b"" if spooled else part.get_payload(decode=True)
    return ParsedAttachment(
        filename=_safe_filename(filename, ctype),
        content_type=ctype,
        payload=payload if isinstance(payload, bytes) else b"",
        content_id=_content_id(part),
        spooled=spooled,
    )


def _forwarded(part: Message, body: Body, depth: int) -> None:
    """An attached mail: kept as a file, and its text kept aside."""
    inner = part.get_payload(0)
    if not isinstance(inner, Message):
        raise TypeError("attached message has no message")
    ctype = part.get_content_type()
    body.attachments.append(
        ParsedAttachment(
            filename=_safe_filename(attachment_name(part), ctype),
            content_type=ctype,
            payload=_message_bytes(inner, body),
            content_id=_content_id(part),
        )
    )
    inner_body = Body(charset=body.charset)  # nothing in an attached mail is spooled
    walk(inner, inner_body, depth + 1)
    inner_text = body_text(inner_body)
    if inner_text:
        body.forwarded.append(inner_text)
    body.defects.extend(inner_body.defects)


def _message_bytes(msg: Message, body: Body) -> bytes:
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False).flatten(msg)
    except Exception as exc:
        body.defects.append(f"attached message not serialisable: {type(exc).__name__}")
        return b""
    return buffer.getvalue()


def _content_id(part: Message) -> str:
    for name, value in part.raw_items():
        if str(name).strip().lower() == "content-id":
            return decode_value(unfold(value)).strip().strip("<>").strip()
    return ""


# --------------------------------------------------------------------------- which text


def body_text(body: Body) -> str:
    plain = tidy("\n".join(text for text in body.plain if text.strip()))
    html = "\n".join(body.html)
    # The HTML's text costs more than the rest of reading a mail; a plain part that is no
    # stub even beside every word between the HTML's tags (more words than its text has)
    # needs none of it.
    maybe_stub = bool(html.strip()) and (not plain or is_stub(plain, _TAGS.sub(" ", html)))
    html_text = tidy(_html_to_text(html)) if maybe_stub else ""
    own = plain
    if not plain or (html_text and is_stub(plain, html_text)):
        if plain:
            body.notes.append("text: the HTML part's (the plain part is a stub)")
        own = html_text or plain
    if body.forwarded and only_forwards(own):
        if own:
            body.notes.append("text: the forwarded mail's (nothing of its own)")
        return "\n\n".join([own, *body.forwarded]).strip() if own else "\n\n".join(body.forwarded)
    return own


#: What mail programs write into the plain part of an HTML mail instead of its text.
_STUB_WORDS = re.compile(
    r"html|browser|webbläsare|webbläsaren|navigateur|navegador|nettleser|webbrowser"
    r"|selain|e-?mail client|e-?postklient|mail program|e-?postprogram",
    re.IGNORECASE,
)
_URL = re.compile(r"(?:https?://|www\.)\S+|<\S+>", re.IGNORECASE)
#: A plain part with far less text than the HTML's is no version of it.
_STUB_SHARE = 0.2
_STUB_WORDS_MAX = 40


def is_stub(plain: str, html_text: str) -> bool:
    """True when the plain part stands in for the HTML rather than being its text."""
    plain_words = _URL.sub(" ", plain).split()
    html_words = _URL.sub(" ", html_text).split()
    if len(html_words) <= len(plain_words):
        return False
    if not plain_words:
        return True  # empty, or links only
    if len(plain_words) <= _STUB_WORDS_MAX and _STUB_WORDS.search(plain):
        return True
    return len(plain_words) < _STUB_SHARE * len(html_words) and len(html_words) >= 20


_TAGS = re.compile(r"<[^>]*>")


def _html_to_text(html: str) -> str:
    from inscriptis import get_text  # at the first HTML mail (the warm-up's)

    try:
        return str(get_text(html))
    except Exception:
        return _TAGS.sub(" ", html)


def newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tidy(text: str) -> str:
    return newlines(text).strip()


def unfold(value: object) -> str:
    """A raw header value on one line (8-bit bytes stay surrogates)."""
    return str(value).replace("\r", "").replace("\n", "")


# --------------------------------------------------------------------------- filenames


def _param_text(value: str | tuple[str | None, str | None, str]) -> str:
    if isinstance(value, tuple):  # RFC 2231: (charset, language, text as latin-1)
        charset, _language, text = value
        return decode(text.encode("raw-unicode-escape"), charset).text
    return decode_value(unfold(value))


def attachment_name(part: Message) -> str:
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
    name = unicodedata.normalize("NFC", clean(name))
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
    if content_type in FORWARDED_TYPES:
        return "forwarded.eml"
    return "attachment" + (mimetypes.guess_extension(content_type) or "")
