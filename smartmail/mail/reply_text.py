"""The latest reply of a mail's text: no quoted history, no signature.

mail-parser-reply does the reading, in the languages our senders write; what is here
keeps it to the first reply (it would otherwise read every older one in the history)
and mends the sign-offs it takes for signatures too eagerly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mailparser_reply import EmailMessage as ReplyMessage
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

#: Reply languages: Swedish first; mail-parser-reply 1.36 has no Norwegian.
REPLY_LANGUAGES: tuple[str, ...] = tuple(
    EmailReplyParser(languages=["sv", "en", "da", "no", "nb", "de", "fr"]).languages
)
#: The reply parser is regex based and slow on huge bodies; the latest reply
#: is at the top, so it only gets to see the beginning.
_REPLY_SCAN_CHARS = 100_000


def _signature_words(languages: Iterable[str]) -> str:
    words = (word for lang in languages for word in MAIL_LANGUAGES[lang].get("signatures", []))
    return "|".join(words)


_SIGNATURE_WORDS = _signature_words(REPLY_LANGUAGES)
_SIGNATURE_PREFIX = re.compile(rf"(?:> ?)*(?:{_SIGNATURE_WORDS})", re.IGNORECASE)
_SIGNATURE_WORD = re.compile(rf"(?:> ?)*(?:{_SIGNATURE_WORDS})(?:\W|$)", re.IGNORECASE)


def _false_signature(signature: str) -> bool:
    """True when a sign-off word only began a longer word ("Tak" in "Taket läcker")."""
    first = signature.strip().split("\n", 1)[0]
    return bool(_SIGNATURE_PREFIX.match(first)) and not _SIGNATURE_WORD.match(first)


def _reply_patterns() -> dict[str, Any]:
    """The reply parser's regexes, built once: it would rebuild them for every mail."""
    # keep_hyphen_lists: otherwise a "- item" list is taken for a signature.
    prototype = ReplyMessage(text="", languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
    return {
        "_header_regex": prototype.HEADER_REGEX,
        "_disclaimers_regex": prototype.DISCLAIMERS_REGEX,
        "_signature_regex": prototype.SIGNATURE_REGEX,
    }


_REPLY_PATTERNS = _reply_patterns()
_NO_HEADER = re.compile(r"(?!)")  # matches nowhere: the text was searched for headers already


def _latest_reply(text: str) -> str:
    text = text[:_REPLY_SCAN_CHARS]
    # The patterns depend only on the languages and keep_hyphen_lists, which match the prototype's.
    reply = ReplyMessage(
        text=text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True, **_REPLY_PATTERNS
    )
    # Only the first reply is kept. When text comes before the first header, that text is
    # the first reply: the parser is given only it, and told there is no header to look
    # for (it would look again, then read each older reply in the quoted history).
    first_header = _first_header_at(reply.text)
    if first_header is not None:
        reply.text = reply.text[:first_header]
        reply._header_regex = _NO_HEADER
    message = reply.read()
    if not message.replies:
        return ""
    first = message.replies[0]
    return str(first.full_body if _false_signature(first.signatures) else first.body)


def _first_header_at(text: str) -> int | None:
    """Where the parser's first reply ends: the first header, when text comes before it;
    the end when there is no header. None: the parser must read the text itself.

    As the parser finds it: the first header is the first non-empty group of the header
    pattern, looked up by its text.
    """
    if ":" not in text and "-----" not in text:
        return len(text)  # each header the parser knows has a colon, or is a dashed line
    for match in _REPLY_PATTERNS["_header_regex"].finditer(text):
        header = next((group for group in match.groups() if group), None)
        if header is not None:
            at = text.find(header)
            return at if text[:at].strip() else None
    return len(text)


def _strip_quoted(text: str) -> str:
    lines = (line for line in text.split("\n") if not line.lstrip().startswith(">"))
    return "\n".join(lines).strip()


def _reply_or_empty(text: str) -> str:
    try:
        return _latest_reply(text)
    except Exception:
        return ""


#: The line above an inline forwarded mail, as the mail programs our senders use write it.
_FORWARD_LINE = re.compile(
    r"^[ \t>]*(?:-{2,}\s*(?:forwarded message|vidarebefordrat (?:meddelande|brev)"
    r"|videresendt (?:melding|meddelelse)|weitergeleitete nachricht|message transf[ée]r[ée]"
    r"|mensaje reenviado|doorgestuurd bericht|välitetty viesti)\s*-{2,}"
    r"|begin forwarded message:|b[öo]rjan av vidarebefordrat (?:brev|meddelande):"
    r"|anfang der weitergeleiteten (?:e-mail|nachricht):"
    r"|d[ée]but du message r[ée]exp[ée]di[ée]\s?:)"
    r"[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
#: A separator above quoted history that the reply parser does not know.
_HISTORY_LINE = re.compile(
    r"^[ \t]*(?:-{3,}\s*(?:ursprungligt meddelande|opprinnelig melding|oprindelig meddelelse"
    r"|alkuper[äa]inen viesti|urspr[üu]ngliche nachricht|message d'origine|mensaje original"
    r"|oorspronkelijk bericht)\s*-{3,}|_{20,})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_BLOCK = re.compile(r"\A(?:[ \t>]*[\w -]{1,30}:[^\n]*\n)+\s*")


def only_forwards(text: str) -> bool:
    """True when `text` says nothing of its own: empty, or only a signature or mobile line."""
    forward = _forward_at(text)
    own = text[: forward.start()] if forward else text
    return not own.strip() or not _reply_or_empty(own).strip()


def _forward_at(text: str) -> re.Match[str] | None:
    """The forward line; or a history separator with nothing above it (Outlook's forward)."""
    forward = _FORWARD_LINE.search(text)
    if forward is not None:
        return forward
    history = _HISTORY_LINE.search(text)
    return history if history is not None and not text[: history.start()].strip() else None


def _forwarded_text(text: str, forward: re.Match[str]) -> str:
    """The forwarded mail's own text: after the forward line, its header block left out."""
    rest = text[forward.end() :]
    rest = _HEADER_BLOCK.sub("", rest.lstrip("\n"), count=1)
    unquoted = "\n".join(line.lstrip(">").removeprefix(" ") for line in rest.split("\n"))
    return _strip_history(unquoted.strip())


def _strip_history(text: str) -> str:
    """The text above a history separator the reply parser does not know, when there is any."""
    history = _HISTORY_LINE.search(text)
    if history is not None and text[: history.start()].strip():
        return text[: history.start()].rstrip()
    return text


def latest_reply(text: str) -> str:
    """The latest reply: no quoted history, no signature; the whole text if that fails.

    A mail that only forwards another (inline) has the forwarded mail's latest reply."""
    text = text.replace("\r\n", "\n")
    if not text.strip():
        return ""
    forward = _forward_at(text)
    if forward is not None:  # the forwarded mail, when nothing of one's own comes above it
        own = text[: forward.start()]
        text = (_forwarded_text(text, forward) or text) if only_forwards(own) else own
    text = _strip_history(text)
    reply = _reply_or_empty(text)
    return _strip_quoted(reply) or _strip_quoted(text) or text
