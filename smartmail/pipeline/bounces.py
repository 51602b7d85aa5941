"""Bounces of our own mail: a report that a mail we sent did not arrive lands on its case.

A mail is taken here when it came to one of our bounce addresses (each mail we send has
its own signed return path, see mail/tokens.py), or when it is a delivery report
(multipart/report) naming a mail we sent by its Message-ID. It is kept on that mail's case
as internal machine mail, with a delivery_failed event per recipient it reports. For a
permanent failure (5.x.x) the address is suppressed for the rules' `bounces: suppress_for`
and the case's owner is told, once per case and address. A failure is believed only for
an address that mail was sent to. A bounce never opens a case and is never answered; one
to a bounce address with a forged signature is stored on no case, and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, select

from smartmail.desk import cases, notify
from smartmail.mail.dsn import Failure, Report, read_report
from smartmail.mail.parse import ParsedMail
from smartmail.mail.tokens import BounceAddress, parse_bounce_address
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.pipeline.stored import inbound_row
from smartmail.store import prepared
from smartmail.store.db import insert_object, load
from smartmail.store.models import Case, Message, RawMail

log = logging.getLogger(__name__)

_RAW = select(RawMail.data).where(RawMail.sha256 == bindparam("sha"))
_DAEMONS = ("mailer-daemon", "postmaster", "mail delivery subsystem", "mail delivery system")
_MAX_IDS = 5  # Message-IDs of a report looked up: the returned mail names one
_MAX_MERGE_HOPS = 10


@dataclass(frozen=True)
class BounceStep:
    context: notify.Context
    own_addresses: frozenset[str]

    def run(
        self, session: Session, mail: ParsedMail, sha: str, envelope: Envelope, now: datetime
    ) -> Outcome | None:
        """The bounce's Outcome when it was about our mail; None for any other mail."""
        address = _bounce_address(mail, envelope, self.own_addresses)
        if address is None and mail.content_type != "multipart/report":
            return None  # ordinary mail: it cost a look at the recipients
        if address is not None and not address.genuine(self.context.secret):
            log.warning("%s came to a forged bounce address: ignored", mail.message_id)
            insert_object(session, _kept(mail, sha, envelope, "forged_bounce_address", now))
            return Outcome("stored", mail.message_id, None, "forged bounce address")
        report = read_report(_raw(session, sha))
        if address is not None:
            sent = _sent(session, address.number)
            signal = "bounce_address"
        else:
            sent = _named(session, report) if report.standard else None
            signal = "report"
        if sent is None or not (report.standard or _from_a_daemon(mail, envelope)):
            return None  # not about our mail, or not a bounce (say, a person writing to it)
        failures = _believed(report, sent)
        return self._record(session, mail, sha, envelope, sent, failures, signal, now)

    def _record(
        self,
        session: Session,
        mail: ParsedMail,
        sha: str,
        envelope: Envelope,
        sent: Message,
        failures: dict[str, Failure],
        signal: str,
        now: datetime,
    ) -> Outcome:
        message = _kept(mail, sha, envelope, signal, now)
        case = _case_of(session, sent)
        if case is None:  # a mail about no case (a digest, a report)
            insert_object(session, message)
        else:
            cases.add_report(session, case, message, now)
        for address, failure in failures.items():
            self._failed(session, case, message, address, failure, now)
        detail = ", ".join(f"{a} {f.status or 'unknown'}" for a, f in failures.items())
        number = case.number if case is not None else None
        return Outcome("bounce", mail.message_id, number, detail or "no failure reported")

    def _failed(
        self,
        session: Session,
        case: Case | None,
        message: Message,
        address: str,
        failure: Failure,
        now: datetime,
    ) -> None:
        status, reason = failure.status, failure.reason
        if case is not None:
            cases.note_bounce(
                session,
                case,
                message,
                to=address,
                status=status,
                reason=reason,
                permanent=failure.permanent,
                now=now,
            )
        if not failure.permanent:
            return  # it may yet arrive, or the next one will: an event only
        hold = self.context.rules.bounce_suppress_for
        until = now + hold if hold else None
        if until is not None:
            why = f"{status} {reason}".strip() or "bounced"
            cases.suppress(session, case, address, why, until, now, message)
        if case is not None:
            notify.bounced(
                self.context,
                session,
                case,
                failed=address,
                status=status,
                reason=reason,
                until=until,
                now=now,
            )


def _bounce_address(
    mail: ParsedMail, envelope: Envelope, own: frozenset[str]
) -> BounceAddress | None:
    """The first recipient shaped like one of our bounce addresses (signed or not)."""
    headers = (mail.headers.get("delivered-to", ""), mail.headers.get("x-original-to", ""))
    for recipient in (*envelope.rcpt_to, *mail.to, *mail.cc, *headers):
        if "+b-" not in recipient.lower():
            continue
        found = parse_bounce_address(recipient)
        if found is not None and found.base in own:
            return found
    return None


def _case_of(session: Session, sent: Message) -> Case | None:
    """The case the mail was about; the one it was merged into, if it was."""
    case = load(session, Case, id=sent.case_id) if sent.case_id is not None else None
    for _hop in range(_MAX_MERGE_HOPS):
        if case is None or case.merged_into is None:
            break
        case = load(session, Case, id=case.merged_into)
    return case


def _raw(session: Session, sha: str) -> bytes:
    data = prepared.first(session, _RAW, sha=sha)
    return bytes(data) if data is not None else b""


def _sent(session: Session, number: int) -> Message | None:
    message = load(session, Message, id=number)
    return message if message is not None and message.direction == "out" else None


def _named(session: Session, report: Report) -> Message | None:
    """The mail we sent that a delivery report returns, by its Message-ID."""
    for message_id in report.message_ids[:_MAX_IDS]:
        message = load(session, Message, message_id=message_id)
        if message is not None and message.direction == "out":
            return message
    return None


def _from_a_daemon(mail: ParsedMail, envelope: Envelope) -> bool:
    """Sent as mail servers send bounces: from the null return path or a mailer daemon. A
    bounce in a server's own words is believed only then (a person's text may hold
    anything that looks like a status)."""
    sender = (mail.from_addr.partition("@")[0] or mail.from_name).lower()
    return (
        envelope.mail_from == ""
        or mail.headers.get("return-path", "").strip() == "<>"
        or sender.startswith(_DAEMONS)
    )


def _believed(report: Report, sent: Message) -> dict[str, Failure]:
    """Each failed address of the report that the mail was sent to, the worst failure of
    each. A report naming no one we wrote to, or someone it was forwarded to, is about the
    one recipient when the mail had one; else it is not believed."""
    ours = [a for a in sent.to_addrs.split(",") if a]
    found: dict[str, Failure] = {}
    for failure in report.failures:
        if failure.address in ours:
            address = failure.address
        elif failure.original in ours:
            address = failure.original
        elif len(ours) == 1:
            address = ours[0]
        else:
            continue
        if address not in found or (failure.permanent and not found[address].permanent):
            found[address] = failure
    return found


def _kept(mail: ParsedMail, sha: str, envelope: Envelope, signal: str, now: datetime) -> Message:
    """The bounce as a stored message: internal, by a machine, never answered."""
    return inbound_row(
        mail,
        sha,
        envelope,
        now,
        text=mail.text,
        visibility="internal",
        automatic=True,
        thread_signal=signal,
        guard_hits="bounce",
    )
