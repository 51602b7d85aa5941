"""Header values into text: RFC 2047 encoded words as a reader's mail client reads them.

Leniently: a word glued to the text around it, spaces inside a Q word, a multibyte
character split over two words, a misspelled or unknown charset name, bad base64
padding. Adjacent words of one charset are joined as bytes before they are decoded, so a
character split between them comes out whole. Raw 8-bit bytes (kept by the email
package as surrogates) and each word's bytes are read by charsets.decode, so a value
labelled with the wrong charset, or none, is read as what it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from smartmail.mail.charsets import Decoded, clean, decode, describe

#: One encoded word; its text may hold spaces and question marks (some senders encode
#: neither); a word cut off at the end of the value, its "?=" lost, counts too.
_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?((?:[^?]|\?(?!=)){0,2000}?)(?:\?=|\Z)")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")
_HEADER_CONTROLS = re.compile("[\x00-\x1f\x7f]")


@dataclass
class HeaderReading:
    """What reading a value found out: charsets other than declared, for the notes."""

    hint: str | None = None  # a charset the mail used elsewhere (its body's)
    notes: list[str] = field(default_factory=list)

    def read(self, data: bytes, label: str | None) -> str:
        decoded: Decoded = decode(data, label, self.hint)
        note = describe(decoded, label)
        if note and note not in self.notes:
            self.notes.append(note)
        return decoded.text


def decode_value(value: str, reading: HeaderReading | None = None) -> str:
    """An unfolded raw header value (8-bit bytes as surrogates) as one line of text."""
    if value.isascii() and "=?" not in value and "\x1b" not in value:
        return _HEADER_CONTROLS.sub(" ", value).strip()  # most values: nothing to decode
    reading = reading or HeaderReading()
    data = value.encode("utf-8", "surrogateescape")
    if b"=?" not in data:
        text = _plain(data, reading)
    else:
        text = "".join(_pieces(data.decode("ascii", "surrogateescape"), reading))
    return _HEADER_CONTROLS.sub(" ", clean(text)).strip()


def _plain(data: bytes, reading: HeaderReading) -> str:
    if data.isascii() and b"\x1b" not in data:  # ESC: ISO-2022-JP written raw
        return data.decode("ascii")
    return reading.read(data, None)


def _pieces(value: str, reading: HeaderReading) -> list[str]:
    """The value's text between words as it is, and runs of adjacent words decoded."""
    out: list[str] = []
    run: list[tuple[str, bytes]] = []  # (charset label, bytes) of adjacent words
    at = 0
    for match in _WORD.finditer(value):
        between = value[at : match.start()]
        if run and between.strip():
            out.append(_run_text(run, reading))
            run = []
        if between.strip() or not run:
            out.append(_plain(between.encode("ascii", "surrogateescape"), reading))
        label, kind, text = match.groups()
        run.append((label, _word_bytes(kind, text)))
        at = match.end()
    if run:
        out.append(_run_text(run, reading))
    out.append(_plain(value[at:].encode("ascii", "surrogateescape"), reading))
    return out


def _word_bytes(kind: str, text: str) -> bytes:
    data = text.encode("ascii", "surrogateescape")
    if kind in "qQ":
        return _QP_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), data.replace(b"_", b" "))
    compact = b"".join(data.split()).rstrip(b"=")
    for tried in (compact + b"=" * (-len(compact) % 4), compact[: len(compact) // 4 * 4]):
        try:
            return base64.b64decode(tried)
        except (binascii.Error, ValueError):
            continue
    return b""


def _run_text(run: list[tuple[str, bytes]], reading: HeaderReading) -> str:
    """Adjacent words: those of one charset joined as bytes, then read."""
    out: list[str] = []
    label, joined = run[0][0], b""
    for word_label, data in run:
        if word_label.lower() != label.lower():
            out.append(reading.read(joined, label))
            label, joined = word_label, b""
        joined += data
    out.append(reading.read(joined, label))
    return "".join(out)
