"""The steering step: a mail with commands, or an answer from staff or a contractor.

A proven mail's commands are carried out (desk/steering.py), a staff answer is relayed to
the customer, and the sender is told what changed. A mail that does not prove who sent it
changes nothing: it is kept internal and the owner of the address is told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from smartmail.desk import cases, notify
from smartmail.desk.commands import Tagged
from smartmail.desk.report import Report
from smartmail.desk.steering import Steering
from smartmail.mail.guard import GuardResult
from smartmail.mail.parse import ParsedMail
from smartmail.mail.proof import Proof
from smartmail.pipeline.attach import store_attachments
from smartmail.pipeline.envelope import Outcome
from smartmail.pipeline.thread import Thread
from smartmail.rules.model import Rules
from smartmail.store.blobs import BlobStore
from smartmail.store.db import insert_object
from smartmail.store.models import Case, Message, Party

log = logging.getLogger(__name__)

_UNPROVEN_WARNING_EVERY = timedelta(minutes=10)


def wants_steering(
    mail: ParsedMail, guard: GuardResult, role: str, tagged: Tagged, case: Case | None
) -> bool:
    """Commands, or an answer from staff or a contractor: from a person we can answer."""
    if guard.machine or not mail.from_addr:
        return False
    if role == "customer":  # their words may start with "#": only real commands count
        return bool(tagged.commands)
    return bool(tagged.commands or tagged.problems) or case is not None


@dataclass(frozen=True)
class SteerStep:
    rules: Rules
    context: notify.Context
    blobs: BlobStore

    def run(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        thread: Thread,
        role: str,
        tagged: Tagged,
        proof: Proof,
        now: datetime,
    ) -> Outcome:
        case = thread.case
        sender = cases.party_for(session, mail.from_addr, mail.from_name, now)
        if tagged.commands:
            message.text = tagged.body
        if not proof.ok:
            return self._unproven(session, mail, message, case, sender, role, proof.reason, now)
        # A staff mail whose commands had mistakes may be a mistyped #note: keep it internal.
        internal = tagged.is_note or role == "contractor" or bool(tagged.problems)
        self._keep(session, mail, message, case, sender, role, internal, now, not tagged.commands)
        report = Steering(session, self.rules, self.context, sender, role, message, now).run(
            tagged, case
        )
        if case is not None and not tagged.is_note and role in ("staff", "manager"):
            self._answer(session, mail, case, tagged, sender, report, now)
        if case is not None and role in ("customer", "contractor"):
            notify.tell_owner(self.context, session, case, sender, tagged.body, now)
        if tagged.commands or tagged.problems:
            notify.confirmation(
                self.context, session, case, sender.email, mail.subject, report, now, mail
            )
        number = case.number if case is not None else None
        return Outcome(
            "reply" if case else "commands", mail.message_id, number, "; ".join(report.problems)
        )

    def _answer(
        self,
        session: Session,
        mail: ParsedMail,
        case: Case,
        tagged: Tagged,
        sender: Party,
        report: Report,
        now: datetime,
    ) -> None:
        """Relay a staff answer to the customer (and to those of cases merged into it)."""
        if not (tagged.body or mail.attachments):
            return
        if tagged.problems:  # a mistyped #note must not reach the customer
            report.problems.append("your text was not sent to the customer: correct and resend")
            return
        notify.answer(self.context, session, case, tagged.body, sender, now, mail.attachments)
        cases.first_response(session, case, sender.email, now)

    def _keep(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        case: Case | None,
        sender: Party,
        role: str,
        internal: bool,
        now: datetime,
        reopen: bool = True,
    ) -> None:
        """Store the mail: on its case (internal for notes and contractors), else on its own."""
        if case is None:
            message.visibility = "internal"
            insert_object(session, message)
        elif internal:
            cases.add_note(session, case, message, sender, role, now)
        else:
            cases.add_inbound(session, case, message, sender, role, now, self.rules, reopen)
        store_attachments(session, self.blobs, mail, message)

    def _unproven(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        case: Case | None,
        sender: Party,
        role: str,
        reason: str,
        now: datetime,
    ) -> Outcome:
        """Commands or an answer we cannot tie to the sender: kept internal, nothing changes."""
        self._keep(session, mail, message, case, sender, role, True, now)
        if case is not None:
            cases.record_event(
                session, case, "unproven_mail", sender.email, now, message, reason=reason
            )
        if not _warned_lately(session, sender.email, now):
            notify.unproven(self.context, session, case, mail, reason, now)
        log.warning("unproven mail from %s (%s): nothing changed", sender.email, reason)
        number = case.number if case is not None else None
        return Outcome(
            "reply" if case else "stored", mail.message_id, number, f"unproven: {reason}"
        )


def _warned_lately(session: Session, address: str, now: datetime) -> bool:
    """Did we tell this address lately that its mail did not count?"""
    query = select(Message.id).where(
        Message.to_addrs == address.lower(),
        Message.direction == "out",
        Message.template == "unproven",
        Message.created_at >= now - _UNPROVEN_WARNING_EVERY,
    )
    return session.exec(query).first() is not None
