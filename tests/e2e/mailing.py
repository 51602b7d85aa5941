"""Writing mail as people do: new mails and replies to what the daemon sent them."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

DESK = "felanmalan@bostad.example"


def new_mail(sender: str, subject: str, body: str, to: str = DESK, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "example.org")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def reply(to: EmailMessage, sender: str, body: str) -> EmailMessage:
    """A reply as a mail client writes it: to Reply-To, Re: subject, threading headers, quote."""
    quoted = "\n".join("> " + line for line in to.get_content().splitlines())
    msg = new_mail(
        sender,
        "Re: " + str(to["Subject"]),
        f"{body}\n\nDen 23 nov. 2026 kl. 10:12 skrev {to['From']}:\n{quoted}\n",
        to=str(to["Reply-To"] or to["From"]),
        In_Reply_To=str(to["Message-ID"]),
        References=str(to["Message-ID"]),
    )
    return msg


def send(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        assert client.send_message(msg) == {}
