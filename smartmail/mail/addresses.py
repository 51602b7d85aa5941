"""Who sent a mail: the one address a reader of a broken From would see, and the name.

The From header is read as the RFC says first; where that finds nothing (a missing angle
bracket, an unbalanced quote, a trailing dot, the address only in a comment, the whole
address in one encoded word, raw 8-bit bytes, a CR/LF inside an encoded name), the
address is looked for in the decoded text. Then the next From line, then Sender,
Reply-To, Return-Path and the envelope, in that order; which one gave the address is
recorded.

Whatever is found is ONE addr-spec as mail is sent to: a dot-atom local part, a dotted
domain, no quotes, commas, spaces or controls. A From naming several addresses, or
text in which several could be meant, gives none: `"x,evil@evil.example,y"@kund.example`
names no evil@evil.example.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
_CANDIDATE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ANGLE = re.compile(r"<([^<>]*)>")
_NAME_JUNK = re.compile(r"[<>()\"]")
_CONTROLS = re.compile("[\x00-\x1f\x7f]")
#: Machine senders written without a domain; the domain of their Message-ID is theirs.
_BARE_MACHINES = frozenset({"mailer-daemon", "postmaster"})
_MAX_ADDRESS = 254


@dataclass(frozen=True)
class Sender:
    address: str  # one valid addr-spec, lower-cased; "" when none can be found
    name: str  # display name, decoded, one line
    source: str  # where the address came from, for the notes; "" for a plain From


def addr_spec(text: str) -> str:
    """`text` as one valid addr-spec, lower-cased, or ""."""
    value = text.strip().removeprefix("mailto:").strip().rstrip(".")
    if len(value) > _MAX_ADDRESS or not _ADDR_SPEC.fullmatch(value):
        return ""
    return value.lower()


def sender(
    froms: Sequence[str],
    fallbacks: Sequence[tuple[str, str]],
    envelope_from: str | None,
    message_id: str,
    decode: Callable[[str], str],
) -> Sender:
    """The sender from the raw From values, else from (header name, raw value) fallbacks,
    else the envelope; `decode` turns a raw value into text (encoded words, 8-bit)."""
    name = ""
    for index, value in enumerate(froms):
        address, found_name, how = _read(value, decode)
        name = name or found_name
        if address:
            source = how if index == 0 else f"from line {index + 1}{how and ', ' + how}"
            return Sender(address, name, source)
    for header, value in fallbacks:
        address, found_name, _how = _read(value, decode)
        if address:
            return Sender(address, name or found_name, header)
    if envelope_from and addr_spec(envelope_from):
        return Sender(addr_spec(envelope_from), name, "envelope")
    return Sender(_bare_machine(froms, message_id, decode), name, "")


def _read(value: str, decode: Callable[[str], str]) -> tuple[str, str, str]:
    """(address, name, how) from one raw header value; how is "" when read as written."""
    pairs = _pairs(value)
    if pairs is not None:
        return pairs[0], _name(pairs[1], decode), ""
    text = _CONTROLS.sub(" ", decode(value))
    pairs = _pairs(text)
    if pairs is not None:
        return pairs[0], _name(pairs[1], decode), "decoded"
    return _searched(text)


def _pairs(value: str) -> tuple[str, str] | None:
    """(address, raw name) when the RFC reading finds exactly one address, and it is valid."""
    try:
        found = email.utils.getaddresses([value])
    except Exception:
        return None
    named = [(name, addr) for name, addr in found if addr.strip()]
    if len(named) != 1:
        return None
    name, addr = named[0]
    address = addr_spec(addr)
    return (address, name) if address else None


def _searched(text: str) -> tuple[str, str, str]:
    """The one address in free text (quoted strings aside), and what is left as the name."""
    unquoted = _QUOTED.sub(" ", text) if text.count('"') % 2 == 0 else text
    found = {addr_spec(m) for m in _ANGLE.findall(unquoted) + _CANDIDATE.findall(unquoted)}
    found.discard("")
    if len(found) != 1:
        return "", _free_name(text, ""), ""
    (address,) = found
    return address, _free_name(text, address), "repaired"


def _free_name(text: str, address: str) -> str:
    left = re.sub(re.escape(address) + r"\.?", " ", text, flags=re.IGNORECASE) if address else text
    left = re.sub(r"\bmailto:", " ", _NAME_JUNK.sub(" ", left))
    return " ".join(left.split()).strip("'., ")


def _name(raw: str, decode: Callable[[str], str]) -> str:
    return " ".join(_CONTROLS.sub(" ", decode(raw)).split()).strip("\"' ")


def _bare_machine(froms: Sequence[str], message_id: str, decode: Callable[[str], str]) -> str:
    """MAILER-DAEMON or postmaster written without a domain: theirs is their Message-ID's."""
    domain = message_id.strip("<>").rpartition("@")[2]
    if not froms or not domain or domain.endswith(".smartmail"):
        return ""
    words = set(_NAME_JUNK.sub(" ", decode(froms[0])).lower().split())
    machines = words & _BARE_MACHINES
    if len(machines) != 1:
        return ""
    return addr_spec(f"{machines.pop()}@{domain}")
