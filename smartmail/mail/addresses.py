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
#: What separates the words of free text; each word holding an "@" may be an address.
_WORD_BREAKS = re.compile(r"[\s<>()\[\],;:\"]+")
#: `Name <addr>`, `"Name" <addr>`, `<addr>` or `addr`: read without the full RFC parse.
_SIMPLE_MAILBOX = re.compile(
    r'\s*(?:(?:"(?P<quoted>[^"\\]*)"|(?P<plain>[^"<>,;:@()\\]*?))\s*<(?P<angle>[^<>\s"]+)>'
    r'|(?P<bare>[^<>\s"(),;:\\]+))\s*'
)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ANGLE = re.compile(r"<([^<>]*)>")  # in names: what is left of an address
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?]*\?=")
_NAME_JUNK = re.compile(r"[<>()\[\]\"]")
_CONTROLS = re.compile("[\x00-\x1f\x7f]")
#: Machine senders written without a domain.
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
    if len(value) > _MAX_ADDRESS or not _ADDR_SPEC.fullmatch(value) or "?=" in value:
        return ""  # "?=": an encoded word, which is text to decode, not a mailbox
    return value.lower()


def sender(
    froms: Sequence[str],
    fallbacks: Sequence[tuple[str, str]],
    envelope_from: str | None,
    message_id: str,
    decode: Callable[[str], str],
) -> Sender:
    """The sender from the raw From values, else from (header name, raw value) fallbacks,
    else the envelope; `decode` turns a raw value into text (encoded words, 8-bit).

    A From of MAILER-DAEMON or postmaster without a domain stays that machine: it gets
    the domain of its Message-ID, else of the address the fallbacks find."""
    name = ""
    for index, value in enumerate(froms):
        address, found_name, how = _read(value, decode)
        name = found_name if address and found_name else name or found_name
        if address:
            source = how if index == 0 else f"from line {index + 1}{how and ', ' + how}"
            return Sender(address, name, source)
    found = _fallback(fallbacks, envelope_from, decode)
    machine = _bare_machine(froms, decode)
    if machine:
        return _machine(machine, name, message_id, found)
    if found is not None:
        return Sender(found.address, name or found.name, found.source)
    return Sender("", name, "")


def _fallback(
    fallbacks: Sequence[tuple[str, str]], envelope_from: str | None, decode: Callable[[str], str]
) -> Sender | None:
    for header, value in fallbacks:
        address, name, _how = _read(value, decode)
        if address:
            return Sender(address, name, header)
    address = addr_spec(envelope_from or "")
    return Sender(address, "", "envelope") if address else None


def _machine(machine: str, name: str, message_id: str, found: Sender | None) -> Sender:
    domain = message_id.strip("<>").rpartition("@")[2]
    if domain and not domain.endswith(".smartmail") and addr_spec(f"{machine}@{domain}"):
        return Sender(addr_spec(f"{machine}@{domain}"), name, f"{machine}, message-id domain")
    if found is not None:
        domain = found.address.rpartition("@")[2]
        return Sender(f"{machine}@{domain}", name, f"{machine}, {found.source} domain")
    return Sender("", name, "")


def _read(value: str, decode: Callable[[str], str]) -> tuple[str, str, str]:
    """(address, name, how) from one raw header value; how is "" when read as written.

    Read as written; else the one address in the raw text, its encoded words aside (a
    name may decode to anything, CR/LF and addresses included); else the decoded text
    read as written, then searched (a whole address in one encoded word)."""
    pairs = _pairs(value)
    if pairs is not None:
        return pairs[0], _name(pairs[1], decode), ""
    text = _CONTROLS.sub(" ", decode(value))
    address = _one_address(_ENCODED_WORD.sub(" ", value))
    if address:
        return address, _free_name(text, address), "repaired"
    pairs = _pairs(text)
    if pairs is not None:
        return pairs[0], _name(pairs[1], decode), "decoded"
    address = _one_address(text)
    return address, _free_name(text, address), "decoded" if address else ""


def _pairs(value: str) -> tuple[str, str] | None:
    """(address, raw name) when the RFC reading finds exactly one address, and it is valid."""
    simple = _SIMPLE_MAILBOX.fullmatch(value)
    if simple is not None:  # most mail: spare the full parse
        address = addr_spec(simple["angle"] or simple["bare"])
        if address:
            return address, simple["quoted"] or simple["plain"] or ""
    try:
        found = email.utils.getaddresses([value])
    except Exception:
        return None
    named = [(name, addr) for name, addr in found if addr.strip()]
    if len(named) != 1:
        return None
    name, addr = named[0]
    address = addr_spec(addr)
    # The RFC reading takes a quoted string for a local part; a quote pair holds a name.
    outside = "".join(_QUOTED.sub(" ", value).lower().split())
    return (address, name) if address and address in outside else None


def _one_address(text: str) -> str:
    """The one address in free text, quoted strings aside: "" when no word holds an "@",
    or several words do that are not all this address, or one is no valid address."""
    unquoted = _QUOTED.sub(" ", text)  # what a quote pair holds is a name, never an address
    found = {addr_spec(word) for word in _WORD_BREAKS.split(unquoted) if "@" in word}
    return found.pop() if len(found) == 1 else ""


def _free_name(text: str, address: str) -> str:
    """What is left of free text as a name: the address and any <...> taken out."""
    left = re.sub(re.escape(address) + r"\.?", " ", text, flags=re.IGNORECASE) if address else text
    if _ANGLE.sub("", left).strip():
        left = _ANGLE.sub(" ", left)
    left = re.sub(r"\bmailto:", " ", _NAME_JUNK.sub(" ", left))
    return " ".join(left.split()).strip("'., ")


def _name(raw: str, decode: Callable[[str], str]) -> str:
    return " ".join(_CONTROLS.sub(" ", decode(raw)).split()).strip("\"' ")


def _bare_machine(froms: Sequence[str], decode: Callable[[str], str]) -> str:
    """mailer-daemon or postmaster, when the first From names one without a domain."""
    if not froms:
        return ""
    words = set(_NAME_JUNK.sub(" ", decode(froms[0])).lower().split())
    machines = words & _BARE_MACHINES
    return machines.pop() if len(machines) == 1 else ""
