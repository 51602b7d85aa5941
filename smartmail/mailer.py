"""Outgoing mail: jinja2 templates -> EmailMessage with the right headers -> outbox rows.

Nothing here talks to the network; `smartmail.sender` delivers what is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_datetime as babel_datetime
from sqlmodel import Session

from smartmail import cases
from smartmail.guard import LOOP_HEADER
from smartmail.models import Case, Message, Outbox

_PACKAGE = Path(__file__).resolve().parent
# Installed wheels carry the templates inside the package; a checkout has them at the top.
TEMPLATE_DIRS = [p for p in (_PACKAGE / "templates", _PACKAGE.parent / "templates") if p.is_dir()]
FALLBACK_LANGUAGE = "en"


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
        chosen = template.name.split("/", 1)[0] if template.name else language

        def when(value: datetime | None) -> str:
            if value is None:
                return "-"
            local = value.astimezone(timezone)
            return str(babel_datetime(local, "EEEE d MMMM y, HH:mm", locale=chosen))

        text = template.render(when=when, **context)
        first, _, body = text.partition("\n")
        if not first.startswith("Subject:"):
            raise jinja2.TemplateError(f"{template.name}: the first line must be 'Subject: ...'")
        return Rendered(first.removeprefix("Subject:").strip(), body.lstrip("\n"))


@dataclass(frozen=True)
class Identity:
    """Who we are on the wire: the function address and its domain."""

    address: str
    name: str = ""

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


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
) -> EmailMessage:
    """A mail with our Message-ID, Date, loop header and, for machine mail, RFC 3834 marks."""
    msg = EmailMessage()
    msg["From"] = formataddr((identity.name, identity.address))
    msg["To"] = ", ".join(to)
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=identity.domain)
    if reply_to:
        msg["Reply-To"] = reply_to
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    refs = list(references or [])
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        msg["References"] = " ".join(refs[-20:])  # the newest; long chains break some servers
    if auto_submitted:
        msg["Auto-Submitted"] = auto_submitted
        # Exchange and friends: no out-of-office answers to machine mail
        msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = identity.address
    msg.set_content(rendered.body, cte="quoted-printable")
    return msg


def queue(
    session: Session,
    msg: EmailMessage,
    *,
    case: Case | None,
    now: datetime,
    visibility: str = "public",
    channel: str = "system",
    template: str = "",
) -> Message:
    """Store `msg` as an outgoing Message and an outbox row, in the caller's transaction."""
    recipients = [addr.lower() for _name, addr in getaddresses([str(msg["To"])]) if addr]
    message = Message(
        message_id=str(msg["Message-ID"]),
        direction="out",
        channel=channel,
        from_addr=parseaddr(str(msg["From"]))[1].lower(),
        to_addrs=",".join(recipients),
        subject=str(msg["Subject"]),
        text=_plain_text(msg),
        visibility=visibility,
        automatic=msg["Auto-Submitted"] is not None,
        template=template,
        created_at=now,
    )
    if case is not None:
        cases.add_outbound(session, case, message, now)
    else:
        session.add(message)
        session.flush()
    session.add(
        Outbox(
            message_pk=message.id,
            mail_from=message.from_addr,
            rcpt_to=message.to_addrs,
            body=msg.as_bytes(policy=SMTP),  # CRLF line ends, as on the wire
            created_at=now,
            next_attempt_at=now,
        )
    )
    return message


def _plain_text(msg: EmailMessage) -> str:
    """The text a person reads (also when the mail carries attachments or HTML)."""
    body = msg.get_body(preferencelist=("plain",))
    return str(body.get_content()) if isinstance(body, EmailMessage) else ""
