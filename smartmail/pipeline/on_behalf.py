"""A case that staff open for a customer who called, came by or wrote a letter (#customer).

The rest of the staff member's mail is the case's first message; the case is routed, owned
and acknowledged as if the customer had mailed it (`#quiet`: not acknowledged), its channel
is what `#channel` says (phone when it says nothing), the mail's other commands act on it,
and the staff member is told its number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlmodel import Session

from smartmail.desk import cases, notify
from smartmail.desk.commands import Tagged
from smartmail.desk.report import Report
from smartmail.desk.steering import Steering
from smartmail.mail.guard import GuardResult
from smartmail.mail.msgid import plain_subject
from smartmail.mail.parse import ParsedMail
from smartmail.mail.phrases import N_, phrase, word
from smartmail.mail.tokens import base_address
from smartmail.pipeline.envelope import Outcome
from smartmail.rules.model import Rules
from smartmail.store.db import insert_object
from smartmail.store.models import Case, Message

DEFAULT_CHANNEL = "phone"
# Commands that say how the case opens; the others act on it once it is open.
_OPENING = ("customer", "quiet", "channel", "cases")

# (session, the customer's mail, its message row, guard, channel, now) -> the new case
OpenCase = Callable[[Session, ParsedMail, Message, GuardResult, str, datetime], Case]


def opens_case(role: str, tagged: Tagged) -> bool:
    """A staff member's mail with #customer opens a case for that customer."""
    return role in ("staff", "manager") and tagged.customer is not None


def customer_mail(mail: ParsedMail, tagged: Tagged, subject: str) -> ParsedMail:
    """The staff member's mail as the customer's: their address and name, the text below
    the commands, no thread of the staff member's (it answers nothing of the customer's)."""
    customer = tagged.customer
    assert customer is not None
    return replace(
        mail,
        from_addr=customer.email,
        from_name=customer.name,
        subject=subject,
        text=tagged.body,
        reply_text=tagged.body,
        in_reply_to=(),
        references=(),
    )


@dataclass(frozen=True)
class OnBehalfStep:
    rules: Rules
    context: notify.Context
    open_case: OpenCase
    own_addresses: frozenset[str]

    def run(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        guard: GuardResult,
        role: str,
        tagged: Tagged,
        now: datetime,
    ) -> Outcome:
        customer = tagged.customer
        assert customer is not None
        if base_address(customer.email) in self.own_addresses:
            return self._refuse(session, mail, message, role, customer.email, now)
        channel = next(
            (str(c.value) for c in tagged.commands if c.name == "channel"), DEFAULT_CHANNEL
        )
        subject = plain_subject(_without_token(mail.subject))
        for_customer = customer_mail(mail, tagged, subject)
        message.text, message.subject = tagged.body, subject
        # The guard judged the staff member's mail; the acknowledgement is the customer's.
        quiet = tagged.is_quiet
        opening = replace(guard, hits=(), may_answer=not quiet)
        case = self.open_case(session, for_customer, message, opening, channel, now)
        sender = cases.party_for(session, mail.from_addr, mail.from_name, now)
        rest = replace(tagged, commands=tuple(c for c in tagged.commands if c.name not in _OPENING))
        steering = Steering(session, self.rules, self.context, sender, role, message, now)
        report = steering.run(rest, case)
        opened = phrase(
            N_("case {number} opened for {customer} ({channel}); {acknowledged}"),
            number=case.number,
            customer=for_customer.from_addr,
            channel=word("channel", channel),
            acknowledged=phrase(
                N_("the customer got no acknowledgement")
                if quiet
                else N_("the customer got an acknowledgement")
            ),
        )
        report.changes.insert(0, opened)
        notify.confirmation(self.context, session, case, sender.email, subject, report, now, mail)
        return Outcome("new_case", mail.message_id, case.number, f"opened by {sender.email}")

    def _refuse(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        role: str,
        address: str,
        now: datetime,
    ) -> Outcome:
        """A case for one of our own addresses would answer itself: kept, nothing opens."""
        message.visibility = "internal"
        insert_object(session, message)
        why = phrase(N_("#customer {address}: that is an address of ours"), address=address)
        report = Report(problems=[why], help_for=role)
        notify.confirmation(
            self.context, session, None, mail.from_addr, mail.subject, report, now, mail
        )
        return Outcome("commands", mail.message_id, None, report.problem_text())


def _without_token(subject: str) -> str:
    """A subject of ours the staff member answered keeps no case token of another case."""
    return " ".join(part for part in subject.split() if not part.startswith("[#"))
