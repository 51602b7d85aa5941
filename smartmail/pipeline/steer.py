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
from smartmail.mail.parse import ParsedAttachment, ParsedMail
from smartmail.mail.phrases import N_, Phrase, phrase
from smartmail.mail.proof import Proof
from smartmail.pipeline.envelope import Outcome
from smartmail.pipeline.stored import store_attachments
from smartmail.pipeline.thread import Thread
from smartmail.rules.model import Rules
from smartmail.store.blobs import BlobStore
from smartmail.store.db import insert_object
from smartmail.store.models import Attachment, Case, Message, Party

log = logging.getLogger(__name__)

_UNPROVEN_WARNING_EVERY = timedelta(minutes=10)

Answer = tuple[str, tuple[ParsedAttachment, ...]]  # a text for the customer, its attachments


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
        if tagged.problems:  # kept as written: #send may let it go later
            message.text = tagged.text
        elif tagged.commands:
            message.text = tagged.body
        if not proof.ok:
            return self._unproven(session, mail, message, case, sender, role, tagged, proof, now)
        answer = _answer_kind(mail, case, role, tagged)
        # A staff mail whose commands had mistakes may be a mistyped #note: keep it internal.
        internal = tagged.is_note or role == "contractor" or bool(tagged.problems)
        if _unknown_reply(tagged, self.rules):  # its text was meant to follow that answer
            internal, answer = True, ""
        self._keep(session, mail, message, case, sender, role, internal, now, not tagged.commands)
        answering = case.number if case is not None and answer in ("relay", "send") else None
        steering = Steering(
            session, self.rules, self.context, sender, role, message, now, answering
        )
        report = steering.run(tagged, case)
        if case is not None and answer == "held":
            self._hold(session, case, message, sender, report, now)
        self._answer(session, mail, case, tagged, sender, steering, answer == "relay", now)
        if case is not None and role in ("customer", "contractor"):
            notify.tell_owner(self.context, session, case, sender, tagged.body, now)
        if tagged.commands or tagged.problems:
            notify.confirmation(
                self.context, session, case, sender.email, mail.subject, report, now, mail
            )
        number = case.number if case is not None else None
        return Outcome(
            "reply" if case else "commands", mail.message_id, number, report.problem_text()
        )

    def _hold(
        self,
        session: Session,
        case: Case,
        message: Message,
        sender: Party,
        report: Report,
        now: datetime,
    ) -> None:
        """A staff answer under a line that looks like a command but is none: kept
        internal until its writer says #send (or corrects the command)."""
        cases.record_event(session, case, "answer_held", sender.email, now, message)
        report.problems.append(
            phrase(
                N_(
                    "your text was kept internal and NOT sent to the customer: a line at "
                    "the top starts with # but is no command we know. To send the text as "
                    "you wrote it, answer this mail with #send alone on the first line; to "
                    "steer the case, correct the command and send your mail again."
                )
            )
        )

    def _answer(
        self,
        session: Session,
        mail: ParsedMail,
        case: Case | None,
        tagged: Tagged,
        sender: Party,
        steering: Steering,
        relay: bool,
        now: datetime,
    ) -> None:
        """Relay staff answers, each to its case's customer: held ones that #send lets go,
        then this mail's own; a resolution this mail made is told in the last of them."""
        answers: dict[int, tuple[Case, list[Answer]]] = {}
        for target, held in steering.released:
            kept = (held.text, self._kept_attachments(session, held))
            answers.setdefault(target.number, (target, []))[1].append(kept)
        canned = dict(steering.canned)
        if relay and case is not None:
            own = canned.pop(case.number, None)
            text = _after(own[1] if own else "", tagged.body)
            answers.setdefault(case.number, (case, []))[1].append((text, mail.attachments))
        if not tagged.is_note:  # #reply on the other cases of #cases N M
            for number, (target, answer) in canned.items():
                if case is None or number != case.number:
                    text = _after(answer, tagged.body)
                    answers.setdefault(number, (target, []))[1].append((text, mail.attachments))
        for target, texts in answers.values():
            self._relay(session, target, texts, sender, steering, now)
        if case is not None and steering.folded.pop(case.number, "") == "resolved":
            notify.resolved(self.context, session, case, now)  # #send found nothing to send

    def _relay(
        self,
        session: Session,
        case: Case,
        texts: list[Answer],
        sender: Party,
        steering: Steering,
        now: datetime,
    ) -> None:
        """To the customer (and to those of cases merged into it), from the function address."""
        closing = steering.folded.pop(case.number, "")
        for index, (text, attachments) in enumerate(texts):
            last = index == len(texts) - 1
            notify.answer(
                self.context,
                session,
                case,
                text,
                sender,
                now,
                attachments,
                closing=closing if last else "",
            )
        cases.first_response(session, case, sender.email, now)
        steering.report.changes.append(
            phrase(N_("case {number}: your answer was sent to the customer"), number=case.number)
        )

    def _kept_attachments(self, session: Session, message: Message) -> tuple[ParsedAttachment, ...]:
        rows = session.exec(select(Attachment).where(Attachment.message_pk == message.id)).all()
        return tuple(
            ParsedAttachment(
                row.filename, row.content_type, self.blobs.path(row.sha256).read_bytes()
            )
            for row in rows
        )

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
        tagged: Tagged,
        proof: Proof,
        now: datetime,
    ) -> Outcome:
        """Commands or an answer we cannot tie to the sender: kept internal, nothing changes."""
        self._keep(session, mail, message, case, sender, role, True, now)
        if case is not None:
            cases.record_event(
                session, case, "unproven_mail", sender.email, now, message, reason=proof.reason
            )
        if not _warned_lately(session, sender.email, now):
            notify.unproven(
                self.context,
                session,
                case,
                mail,
                _why_unproven(proof),
                now,
                had_commands=bool(tagged.commands or tagged.problems),
                had_text=bool(message.text.strip() or mail.attachments),
            )
        log.warning("unproven mail from %s (%s): nothing changed", sender.email, proof.reason)
        number = case.number if case is not None else None
        return Outcome(
            "reply" if case else "stored", mail.message_id, number, f"unproven: {proof.reason}"
        )


def _answer_kind(mail: ParsedMail, case: Case | None, role: str, tagged: Tagged) -> str:
    """What becomes of a staff mail's text: relayed, held back, let go by #send, or none."""
    if case is None or role not in ("staff", "manager") or tagged.is_note:
        return ""
    has_text = bool(tagged.body or mail.attachments)
    if tagged.problems:
        return "held" if has_text else ""
    if has_text or any(c.name == "reply" for c in tagged.commands):
        return "relay"
    if any(c.name == "send" for c in tagged.commands):
        return "send"
    return ""


def _after(canned: str, text: str) -> str:
    """A canned answer, then what the staff member wrote below the commands."""
    return "\n\n".join(part for part in (canned, text) if part)


def _unknown_reply(tagged: Tagged, rules: Rules) -> bool:
    """Does the mail ask for a canned answer the rules do not have?"""
    return any(
        c.name == "reply" and rules.replies.find(str(c.value)) is None for c in tagged.commands
    )


def _why_unproven(proof: Proof) -> Phrase:
    """Why a mail proved nothing, as its reader may be told (the event keeps the detail)."""
    if "not made for this sender" in proof.reason:
        return phrase(N_("the reply address it went to was made for someone else"))
    if "DKIM" in proof.reason:
        return phrase(N_("our mail server could not confirm that it came from your domain"))
    return phrase(N_("it did not answer a mail we sent you"))


def _warned_lately(session: Session, address: str, now: datetime) -> bool:
    """Did we tell this address lately that its mail did not count?"""
    query = select(Message.id).where(
        Message.to_addrs == address.lower(),
        Message.direction == "out",
        Message.template == "unproven",
        Message.created_at >= now - _UNPROVEN_WARNING_EVERY,
    )
    return session.exec(query).first() is not None
