"""Outgoing mail: jinja2 templates -> EmailMessage with the right headers -> outbox rows.

Nothing here talks to the network; `smartmail.outbound.sender` delivers what is queued.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import functools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8, Policy
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale
from babel.dates import format_datetime as babel_datetime
from sqlmodel import Session

from smartmail.desk import cases, suppressions
from smartmail.errors import MailRefused
from smartmail.mail import headercheck, msgid
from smartmail.mail.addr import recipient
from smartmail.mail.guard import LOOP_HEADER
from smartmail.mail.tokens import bounce_address
from smartmail.store.db import insert_row
from smartmail.store.models import Case, Message, Outbox

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent.parent  # smartmail/
# Installed wheels carry the templates inside the package; a checkout has them at the top.
TEMPLATE_DIRS = [p for p in (_PACKAGE / "templates", _PACKAGE.parent / "templates") if p.is_dir()]
FALLBACK_LANGUAGE = "en"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class Templates:
    """Mail templates, one folder per language; the first line of each is `Subject: ...`."""

    def __init__(self, dirs: list[Path] | None = None) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in (dirs or TEMPLATE_DIRS)]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # plain-text mail  # noqa: S701
        )

    def render(self, language: str, name: str, timezone: ZoneInfo, **context: Any) -> Rendered:
        """Render `name` in `language` (else English); dates shown in `timezone`."""
        template = self.env.select_template(
            [f"{language}/{name}.txt", f"{FALLBACK_LANGUAGE}/{name}.txt"]
        )
        chosen = _locale(template.name.split("/", 1)[0] if template.name else language)

        def when(value: datetime | None) -> str:
            if value is None:
                return "-"
            return _local_time(value, timezone, chosen)

        text = template.render(when=when, **context)
        first, _, body = text.partition("\n")
        if not first.startswith("Subject:"):
            raise jinja2.TemplateError(f"{template.name}: the first line must be 'Subject: ...'")
        return Rendered(first.removeprefix("Subject:").strip(), body.lstrip("\n"))


@functools.lru_cache(maxsize=1024)  # a case's deadline is in its receipt and its owner's notice
def _local_time(value: datetime, timezone: ZoneInfo, locale: Locale) -> str:
    local = value.astimezone(timezone)  # the zone marked, as `case show` prints it
    return f"{babel_datetime(local, 'EEEE d MMMM y, HH:mm', locale=locale)} {local:%Z}"


@functools.lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    # Parsed once: babel would otherwise look the locale up again for every date.
    return Locale.parse(language)


@dataclass(frozen=True)
class Identity:
    """Who we are on the wire: the function address and its domain."""

    address: str
    name: str = ""

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


# policy.default and policy.SMTP fold header lines at 78 characters; a stored line that is
# longer gets refolded (correctly, but slowly) by the policy when the mail is flattened.
_FOLD_AT = 78
_TEXT_PLAIN_UTF8 = 'text/plain; charset="utf-8"'  # as set_content writes it
_LINE_END = re.compile(r"\r\n|\r|\n")  # what the generator takes for a line end
# RFC 2047 words in base64 ("=?utf-8?b?...?="): as widely read as Q, and their length is
# known from the byte count alone.
_WORD_CHROME = len("=?utf-8?b??=")


@functools.lru_cache(maxsize=256)
def _parsed_header(policy: Policy[Any], name: str, value: str) -> Any:
    """A header object for stored wire text; they are immutable, so one serves all reads."""
    return policy.header_fetch_parse(name, value)


@dataclass(frozen=True)
class Summary:
    """What `queue` stores of a mail besides its bytes."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    automatic: bool
    text: str


class Composed(EmailMessage):
    """An EmailMessage built by `compose`: headers kept as folded wire text, read cheaply.

    The headers are stored as the parser stores them, not parsed into header objects up
    front; reading one gives the usual header object, parsed once per distinct value (our
    From, Content-Type and the like are the same in every mail). `summary` is what compose
    wrote; any header set or deleted afterwards (an attachment added, say) voids it.
    """

    summary: Summary | None = None

    def __setitem__(self, name: str, value: Any) -> None:
        self.summary = None
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self.summary = None
        super().__delitem__(name)

    def get(self, name: str, failobj: Any = None) -> Any:
        """As EmailMessage.get; `msg[name]` comes here too."""
        name = name.lower()
        for key, value in self.raw_items():
            if key.lower() == name:
                if type(value) is str:
                    return _parsed_header(self.policy, key, value)
                return self.policy.header_fetch_parse(key, value)
        return failobj


def _wire_ready(value: str) -> bool:
    """Printable ASCII with nothing a reader would take for an RFC 2047 encoded word."""
    return value.isascii() and value.isprintable() and "=?" not in value


def _put(msg: EmailMessage, name: str, value: str, *, fold: bool = False) -> None:
    """Store `name: value` ready for the wire; whatever is unusual goes through the policy."""
    if _wire_ready(value):
        if fold and len(name) + 2 + len(value) > _FOLD_AT:
            # Folded at spaces only, so unfolding gives back `value` exactly; unless the first
            # word does not fit the first line: the policy refolds that one when flattening.
            folded = Header(value, header_name=name).encode(splitchars=" ", linesep="\n")
            if not folded.startswith("\n"):
                value = folded
        msg.set_raw(name, value)
    else:
        msg[name] = value  # parsed, and encoded or refolded, by policy.default


def _put_text(msg: EmailMessage, name: str, value: str) -> None:
    """Like `_put`, for free text (printable, see `_printable`): anything but plain ASCII
    goes as UTF-8 encoded words, so the reader sees `value` exactly, even text that looks
    like an encoded word (the email package would decode that, or fail to fold it)."""
    if _wire_ready(value):
        _put(msg, name, value, fold=True)
    else:
        msg.set_raw(name, _encoded_words(value, name))


def _printable(text: str) -> str:
    """`text` with each control character (a customer's subject may hold any) as a space."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else " " for char in text)


def _encoded_words(text: str, name: str) -> str:
    """`text` as UTF-8 base64 encoded words, folded: what the email package's Header (with
    a base64 UTF-8 charset) writes for a header `name` of ordinary length, in one pass.
    Header finds where to split by encoding the words again for every character added.
    """
    # Bytes per word: the first line also holds "Name: "; later ones start with a space.
    first, later = ((_FOLD_AT - used - _WORD_CHROME) // 4 * 3 for used in (len(name) + 2, 1))
    words: list[str] = []
    word: list[str] = []
    size, room = 0, first
    for char in text:
        width = len(char.encode())
        if size + width > room:
            words.append("".join(word))
            word, size, room = [], 0, later
        word.append(char)
        size += width
    words.append("".join(word))
    return "\n ".join(
        f"=?utf-8?b?{base64.b64encode(word.encode()).decode('ascii')}?=" for word in words
    )


def _put_from(msg: EmailMessage, identity: Identity) -> None:
    """From: the function address with the office's name, encoded as the policy does."""
    name = " ".join(_printable(identity.name).split())
    if _wire_ready(identity.address):
        msg.set_raw("From", _from_field(name, identity.address))
    else:
        msg["From"] = formataddr((name, identity.address))  # the policy's way, as before


@functools.lru_cache(maxsize=64)
def _from_field(name: str, address: str) -> str:
    """`name <address>` as wire text, folded: what policy.SMTP writes for an Address.

    An ASCII name is quoted if it must be; any other goes in encoded words, runs of
    non-ASCII words in one (formataddr would encode the whole name as one word of any
    length, and a refold of that by the policy leaves its quotes bare). Where the policy
    leaves a special character bare among encoded words (a `;` say), so that the field
    reads as another address, or folds it too long (to be refolded, and broken, when the
    mail is written), the whole name goes as encoded words. One per identity.
    """
    msg = EmailMessage()
    msg["From"] = Address(display_name=name, addr_spec=address)
    head = msg.as_string(policy=SMTP.clone(linesep="\n"))
    folded = head.partition(":")[2].strip(" \n")
    fits = all(len(line) <= _FOLD_AT for line in f"From: {folded}".split("\n"))
    if fits and _reads_as(folded, name, address):
        return folded
    return f"{_encoded_words(name, 'From')}\n <{address}>"


def _reads_as(value: str, name: str, address: str) -> bool:
    """Does From `value` read as `name <address>` (spaces aside: readers differ on those
    between adjacent encoded words)?"""
    try:
        found = _parsed_header(email.policy.default, "From", value).addresses
    except (ValueError, IndexError, TypeError, AttributeError):
        return False
    if len(found) != 1 or found[0].addr_spec != address:
        return False
    return "".join(found[0].display_name.split()) == "".join(name.split())


def compose(
    identity: Identity,
    *,
    to: list[str],
    rendered: Rendered,
    now: datetime,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    reply_to: str | None = None,
    auto_submitted: str | None = "auto-generated",
) -> Composed:
    """A mail with our Message-ID, Date, loop header and, for machine mail, RFC 3834 marks.

    Headers are written as wire text with the email package's encoders (formataddr,
    Header, binascii's quoted-printable) instead of being parsed into header objects
    and refolded: that costs a fraction of the time, and the receiver decodes the same.

    Each of `to` must be one valid address (see `addr.recipient`), else MailRefused; the
    ids in `in_reply_to` and `references` are re-written as valid msg-ids or left out
    (see `msgid`), References capped to the thread's first id and the newest ones.
    """
    recipients = [recipient(address) for address in to]
    if not recipients:
        raise MailRefused("a mail without a recipient")
    msg = Composed()
    _put_from(msg, identity)
    _put(msg, "To", ", ".join(recipients))
    subject = _printable(rendered.subject)
    _put_text(msg, "Subject", subject)
    _put(msg, "Date", format_datetime(now))
    message_id = make_msgid(domain=identity.domain)
    _put(msg, "Message-ID", message_id)
    if reply_to:
        _put(msg, "Reply-To", reply_to)
    parent = msgid.clean_id(in_reply_to)
    if parent:
        _put(msg, "In-Reply-To", parent)
    # RFC 5322 3.6.4: the parent's References, then the parent itself
    refs = msgid.references([*(r for r in references or () if msgid.clean_id(r) != parent), parent])
    if refs:
        _put(msg, "References", " ".join(refs), fold=True)
    if auto_submitted:
        _put(msg, "Auto-Submitted", auto_submitted)
        # Exchange and friends: no out-of-office answers to machine mail
        msg.set_raw("X-Auto-Response-Suppress", "All")
    _put(msg, LOOP_HEADER, identity.address)
    # What set_content(body, cte="quoted-printable") makes, without parsing its own headers:
    # the body's line ends made "\n" (it splits bytes, so only at CR and LF), and a final one.
    data = b"\n".join(rendered.body.encode("utf-8").splitlines()) + b"\n"
    payload = binascii.b2a_qp(data, istext=True).decode("ascii")
    msg.set_raw("Content-Type", _TEXT_PLAIN_UTF8)
    msg.set_raw("Content-Transfer-Encoding", "quoted-printable")
    msg.set_raw("MIME-Version", "1.0")
    msg.set_payload(payload)
    msg.summary = Summary(
        message_id=message_id,
        sender=identity.address.lower(),
        recipients=tuple(address.lower() for address in recipients),
        subject=subject,
        automatic=auto_submitted is not None,
        text=data.decode("utf-8"),
    )
    return msg


# Set in a session's `info` where nothing may be sent (mail moved in by `smartmail import`):
# `queue` then writes no outgoing mail at all, so no acknowledgement, notice or answer.
SENDING_OFF = "smartmail.sending_off"


def queue(
    session: Session,
    msg: EmailMessage,
    *,
    case: Case | None,
    now: datetime,
    visibility: str = "public",
    channel: str = "system",
    template: str = "",
    secret: bytes | None = None,
) -> None:
    """Store `msg` as an outgoing Message and an outbox row, in the caller's transaction.

    Raises MailRefused, having stored nothing, when a recipient is not one valid address or
    the mail as it goes on the wire has a header line that was not written as one (a CR or
    LF that came in with a value): see `refusing`. Automatic mail is not queued to an
    address whose mail bounced for good (an event on the case says so). With `secret`, the
    envelope sender is the mail's own signed bounce address, so that a bounce names the
    mail it is about. In a session with `SENDING_OFF` set it writes nothing.
    """
    if session.info.get(SENDING_OFF):
        return
    summary = summarize(msg)
    if not summary.recipients:
        raise MailRefused("a mail without a recipient")
    for address in summary.recipients:
        recipient(address)
    body = checked_wire(msg)
    deliverable = _deliverable(session, summary, case, now, template)
    if not deliverable:
        return
    recipients = ",".join(deliverable)
    message = {
        "message_id": summary.message_id,
        "direction": "out",
        "channel": channel,
        "from_addr": summary.sender,
        "to_addrs": recipients,
        "subject": summary.subject,
        "text": summary.text,
        "visibility": visibility,
        "automatic": summary.automatic,
        "template": template,
        "created_at": now,
    }
    if case is not None:
        message_pk = cases.add_outbound(session, case, message, now)
    else:
        message_pk = insert_row(session, Message, message)
    row = {
        "message_pk": message_pk,
        "mail_from": _return_path(summary.sender, message_pk, secret),
        "rcpt_to": recipients,
        "body": body,
        "created_at": now,
        "next_attempt_at": now,
    }
    insert_row(session, Outbox, row)


@contextmanager
def refusing(
    session: Session, case: Case | None, *, to: str, template: str, now: datetime
) -> Iterator[None]:
    """Around composing and queueing one mail: a MailRefused is logged and, for a mail
    about a case, recorded on it as a `mail_refused` event; nothing is sent."""
    try:
        yield
    except MailRefused as refused:
        log.warning("not sending %s to %r: %s", template or "a mail", to, refused)
        if case is not None:
            reason = str(refused)
            cases.record_event(
                session,
                case,
                "mail_refused",
                cases.SYSTEM,
                now,
                to=to,
                template=template,
                reason=reason,
            )


def checked_wire(msg: EmailMessage) -> bytes:
    """`wire_bytes(msg)`, after checking that its header is the one written: every header
    line a field we set or the fold of one, no lone CR or LF, no line of blanks only (some
    readers end the header there), none too long; else MailRefused."""
    problem = headercheck.field_problem(msg)
    if problem is not None:
        raise MailRefused(problem)
    try:
        data = wire_bytes(msg)
    except (UnicodeError, ValueError, TypeError) as exc:  # what the generator raises on it
        raise MailRefused(f"cannot be written: {type(exc).__name__}: {exc}") from None
    problem = headercheck.wire_problem(msg, data)
    if problem is not None:
        raise MailRefused(problem)
    return data


def _deliverable(
    session: Session, summary: Summary, case: Case | None, now: datetime, template: str
) -> tuple[str, ...]:
    """The recipients of a mail, but for automatic mail none that is suppressed."""
    if not summary.automatic:
        return summary.recipients  # a person's words go, bounced before or not
    kept: list[str] = []
    for address in summary.recipients:
        until = suppressions.suppressed_until(session, address, now)
        if until is None:
            kept.append(address)
        elif case is not None:
            cases.note_skipped(session, case, address, template, until, now)
        else:
            log.info("%s to %s not sent: suppressed until %s", template, address, until)
    return tuple(kept)


def _return_path(sender: str, message_pk: int | None, secret: bytes | None) -> str:
    if secret is None or message_pk is None:
        return sender
    return bounce_address(sender, message_pk, secret)


def wire_bytes(msg: EmailMessage) -> bytes:
    """The mail as it goes on the wire, CRLF line ends: `msg.as_bytes(policy=SMTP)`.

    A mail as compose wrote it is wire text already, so its lines are joined as they are;
    the generator would check each header for refolding and copy the body line by line.
    """
    if isinstance(msg, Composed) and msg.summary is not None:
        joined = _joined(msg)
        if joined is not None:
            return joined
    return msg.as_bytes(policy=_SMTPUTF8 if _international(msg) else SMTP)


_ADDRESS_HEADERS = ("From", "To", "Cc", "Reply-To", "Sender")
# The text compose wrote is kept as it is (lines up to SMTP's 998): refolded with utf8 on,
# the email package writes a name's encoded words out raw and unquoted (`a, b <x@y>`).
_SMTPUTF8 = SMTPUTF8.clone(max_line_length=998)


def _international(msg: EmailMessage) -> bool:
    """Does an address header hold an address that is not ASCII (`åsa@...`)? Such a header
    goes as UTF-8 (RFC 6532, sent with SMTPUTF8): an encoded word is no address."""
    values = [str(value) for name in _ADDRESS_HEADERS for value in msg.get_all(name, [])]
    return any(not address.isascii() for _name, address in getaddresses(values))


def _joined(msg: Composed) -> bytes | None:
    """What the SMTP policy writes for these headers and text; None when it would refold one."""
    head: list[str] = []
    for name, value in msg.raw_items():
        if type(value) is not str:
            return None  # a header object: the policy folds it
        lines = value.splitlines() or [""]
        lines[0] = f"{name}: {lines[0]}"
        if any(len(line) > _FOLD_AT for line in lines):
            return None
        head.append("\r\n".join(lines) + "\r\n")
    payload = msg.get_payload()
    if not isinstance(payload, str):
        return None
    text = "".join([*head, "\r\n", _LINE_END.sub("\r\n", payload)])
    return text.encode("ascii") if text.isascii() else None


def summarize(msg: EmailMessage) -> Summary:
    """What compose wrote, else read off the headers and body."""
    if isinstance(msg, Composed) and msg.summary is not None:
        return msg.summary
    return Summary(
        message_id=str(msg["Message-ID"]),
        sender=parseaddr(str(msg["From"]))[1].lower(),
        recipients=tuple(addr.lower() for _name, addr in getaddresses([str(msg["To"])]) if addr),
        subject=str(msg["Subject"]),
        automatic=msg["Auto-Submitted"] is not None,
        text=_plain_text(msg),
    )


def _plain_text(msg: EmailMessage) -> str:
    """The text a person reads (also when the mail carries attachments or HTML)."""
    body = msg.get_body(preferencelist=("plain",))
    return str(body.get_content()) if isinstance(body, EmailMessage) else ""
