"""A post becomes a mail: RFC 5322 bytes for the pipeline, as if the tenant had written it.

Every value comes from a stranger: each one-line field is made one line of printable text
before it goes near a header, the address is one checked addr-spec (`mail.addr`), and the
email package encodes what is not ASCII. Files keep names of our own making.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from smartmail.mail.phrases import N_, phrase, render
from smartmail.pipeline.envelope import FORM_CATEGORY_HEADER, WEB_CHANNEL_HEADER
from smartmail.web.uploads import Upload

SUBJECT_LENGTH = 78


def one_line(text: str, limit: int) -> str:
    """Printable text on one line: controls, line and paragraph breaks and format
    characters (bidi marks) become spaces, runs of space one, at most `limit` long."""
    kept = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in unicodedata.normalize("NFC", text)
    )
    return " ".join(kept.split())[:limit]


def body_text(text: str) -> str:
    """A multi-line text as a mail body holds it: lines kept, other controls gone."""
    lines = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        c for c in lines if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs")
    ).strip()


def subject_of(description: str) -> str:
    """The first line of the description, cut at a word near the length a subject has."""
    first = one_line(description.strip().split("\n", 1)[0], 200)
    if len(first) <= SUBJECT_LENGTH:
        return first
    cut = first[:SUBJECT_LENGTH].rsplit(" ", 1)[0]
    return f"{cut}…"


@dataclass(frozen=True)
class Report:
    """A valid post of the fault-report page, each field as checked."""

    name: str
    email: str
    phone: str
    address: str
    category: str  # one the page offers, or "" for "other"
    description: str
    files: tuple[Upload, ...]


def header_text(text: str) -> str:
    """A header value as it was typed: the email package decodes what looks like an encoded
    word (`=?utf-8?q?=0A...?=`) when a header is set, and writes what it decoded as it is,
    line ends too; "=?" broken up is never read as one."""
    return text.replace("=?", "= ?")


def _new_mail(name: str, address: str, to: str, subject: str, now: datetime) -> EmailMessage:
    ascii_only = address.isascii()
    msg = EmailMessage(policy=policy.SMTP if ascii_only else policy.SMTPUTF8)
    msg["From"] = Address(display_name=header_text(name), addr_spec=address)
    msg["To"] = to
    msg["Subject"] = header_text(subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("web", domain=to.rpartition("@")[2] or "localhost")
    msg[WEB_CHANNEL_HEADER] = "web"
    return msg


def _attach(msg: EmailMessage, files: tuple[Upload, ...], stem: str) -> None:
    for number, upload in enumerate(files, 1):
        maintype, _, subtype = upload.content_type.partition("/")
        msg.add_attachment(
            upload.payload,
            maintype=maintype,
            subtype=subtype,
            filename=f"{stem}-{number}.{upload.extension}",
        )


def report_mail(report: Report, function_address: str, language: str, now: datetime) -> bytes:
    """The tenant's report as a mail to the function address; the details below a
    signature line, labelled in the office's language (a new case keeps all of it)."""
    subject = subject_of(report.description)
    msg = _new_mail(report.name, report.email, function_address, subject, now)
    if report.category:  # one of the rules' own names
        msg[FORM_CATEGORY_HEADER] = report.category
    details = [
        (N_("Name"), report.name),
        (N_("E-mail"), report.email),
        (N_("Phone"), report.phone),
        (N_("Address and apartment number"), report.address),
        (N_("Category"), report.category),
    ]
    lines = [f"{render(phrase(label), language)}: {value}" for label, value in details if value]
    msg.set_content(f"{report.description}\n\n-- \n" + "\n".join(lines) + "\n")
    _attach(msg, report.files, "photo")
    return msg.as_bytes()


def reply_mail(
    sender: str,
    sender_name: str,
    reply_to_address: str,
    subject: str,
    text: str,
    files: tuple[Upload, ...],
    now: datetime,
) -> bytes:
    """A customer's message from the page that follows their case, to the case's reply
    address made for them: it lands on the case as their reply."""
    name, subject = one_line(sender_name, 200), one_line(subject, 300)
    msg = _new_mail(name, sender, reply_to_address, subject, now)
    msg.set_content(text + "\n")
    _attach(msg, files, "photo")
    return msg.as_bytes()
