"""Every mail about a case threads: over SMTP in and out, read back by Python's own parser.

A case's life as the customer and the staff live it: the customer's mail, our
acknowledgement, a reply from the customer, the owner's answer relayed to the customer, a
contractor's job, a new owner, a reminder and an escalation, the resolved notice, the
auto-close notice. Each mail we send must carry References that start with the customer's
first Message-ID and an In-Reply-To that is the last of them, and each person's mails
about the case must follow each other.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlmodel import select

from smartmail.store.db import transaction
from smartmail.store.models import Case
from tests.conftest import TEST_RULES
from tests.mail.conftest import DESK, Desk, read

EVA = "eva@kund.example"
KALLE = "kalle@bostad.example"
LISA = "lisa@bostad.example"
ANNA = "anna@bostad.example"
ROR = "jobb@rorab.example"
OFFICE = "Bostad AB Felanmälan"
STACKED = re.compile(r"^(?:(?:re|sv|aw|vs|fwd|fw)\s*:\s*){2,}", re.IGNORECASE)


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    """The test rules with the office's name, the display name of our From."""
    path = tmp_path / "rules.yaml"
    path.write_text(f"name: {OFFICE}\n{TEST_RULES}", encoding="utf-8")
    return path


def new_mail(sender: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Eva Svensson <{sender}>"
    msg["To"] = DESK
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg.set_content(body)
    return msg


def reply(to: EmailMessage, sender: str, body: str, prefix: str = "Re: ") -> EmailMessage:
    """A reply as a mail client writes it: to Reply-To, the parent's References and its id."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(to["Reply-To"] or to["From"])
    msg["Subject"] = prefix + str(to["Subject"])
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg["In-Reply-To"] = str(to["Message-ID"])
    msg["References"] = " ".join([*str(to["References"] or "").split(), str(to["Message-ID"])])
    msg.set_content(f"{body}\n\n> {to.get_content().splitlines()[0]}\n")
    return msg


def send(desk: Desk, msg: EmailMessage, sent: dict[str, list[str]] | None = None) -> None:
    sender = msg["From"].addresses[0].addr_spec
    desk.send(msg.as_bytes(), sender, to=msg["To"].addresses[0].addr_spec)
    if sent is not None:
        sent.setdefault(sender, []).append(str(msg["Message-ID"]))


def ours(desk: Desk, address: str) -> list[EmailMessage]:
    """What `address` got about case 1, each read back from its wire bytes."""
    return [m for m in map(read, desk.sink.raw_to(address)) if "[#1-" in str(m["Subject"])]


def ids(value: object) -> list[str]:
    return str(value or "").split()


def test_a_case_threads_for_the_customer_and_for_each_person(desk: Desk) -> None:
    sent: dict[str, list[str]] = {}  # the ids of what each person sent us
    first = new_mail(EVA, "Stopp i avloppet", "Det är stopp i avloppet i köket.")
    send(desk, first, sent)
    (ack,) = ours(desk, EVA)
    (notice,) = ours(desk, KALLE)
    send(desk, reply(ack, EVA, "Det rinner över nu också."), sent)
    send(desk, reply(notice, KALLE, "Hej Eva! Vi kommer i morgon bitti."), sent)
    send(desk, reply(notice, KALLE, f"#forward {ROR}", prefix="SV: Re: Sv: Re: "), sent)
    send(desk, reply(ours(desk, KALLE)[-1], KALLE, f"#assign {LISA}"), sent)
    with transaction(desk.app.engine) as session:
        case = session.exec(select(Case)).one()
        due = case.due_at
    assert due is not None
    desk.sweep(due - timedelta(hours=3))  # the reminder, to Lisa
    desk.sweep(due + timedelta(hours=1))  # the escalation, to the managers' team
    send(desk, reply(ours(desk, LISA)[-1], LISA, "#status resolved"), sent)
    with transaction(desk.app.engine) as session:
        resolved_at = session.exec(select(Case)).one().resolved_at
    assert resolved_at is not None
    desk.sweep(resolved_at + timedelta(days=8))  # closed, and the customer told

    got = {who: ours(desk, who) for who in (EVA, KALLE, LISA, ANNA, ROR)}
    kinds = {who: [m["Subject"].split(":")[0] for m in mails] for who, mails in got.items()}
    assert len(got[EVA]) == 4, kinds  # acknowledgement, answer, resolved, auto-closed
    assert len(got[KALLE]) >= 4, kinds  # new case, customer's reply, confirmations
    assert len(got[LISA]) == 3, kinds  # assigned, reminder, confirmation
    assert len(got[ANNA]) == 1, kinds  # the escalation
    assert len(got[ROR]) == 1, kinds  # the job
    root = first["Message-ID"]
    for who, mails in got.items():
        earlier: list[str] = []
        for msg in mails:
            refs = ids(msg["References"])
            assert refs[0] == root, (who, msg["Subject"])
            assert msg["In-Reply-To"] == refs[-1], (who, msg["Subject"])
            if earlier:  # it follows the person's previous mail from us, or answers theirs
                answered = msg["In-Reply-To"] in sent.get(who, [])
                assert earlier[-1] in refs or answered, (who, msg["Subject"])
            earlier.append(msg["Message-ID"])
            assert msg["From"].addresses[0].display_name == OFFICE
            assert msg["From"].addresses[0].addr_spec == DESK
            subject = str(msg["Subject"])
            assert not STACKED.match(subject), subject
            assert "  " not in subject, subject
            assert len(re.findall(r"\[#1-", subject)) == 1, subject


def test_the_customers_conversation_rethreads_with_pythons_parser(desk: Desk) -> None:
    """The customer's mailbox, threaded as a mail client does: by References, else
    In-Reply-To. Their mail, our acknowledgement, the relayed answer and the resolved
    notice are one conversation under the first mail."""
    first = new_mail(EVA, "Trasig dörr", "Dörren till förrådet går inte att låsa.")
    send(desk, first)
    notice = next(m for m in map(read, desk.sink.raw_to(ANNA)) if "[#1-" in str(m["Subject"]))
    send(desk, reply(notice, ANNA, "Hej Eva, en låssmed kommer på torsdag."))
    send(desk, reply(notice, ANNA, "#status resolved"))

    mailbox = [read(first.as_bytes()), *map(read, desk.sink.raw_to(EVA))]
    assert len(mailbox) == 4  # hers, the acknowledgement, the answer, the resolved notice
    by_id = {str(m["Message-ID"]): m for m in mailbox}
    assert len(by_id) == 4
    parent: dict[str, str | None] = {}
    for msg in mailbox:
        chain = ids(msg["References"]) or ids(msg["In-Reply-To"])
        known = [i for i in chain if i in by_id]
        parent[str(msg["Message-ID"])] = known[-1] if known else None
    roots = {mid for mid, up in parent.items() if up is None}
    assert roots == {first["Message-ID"]}

    def depth(mid: str) -> int:
        up = parent[mid]
        return 0 if up is None else 1 + depth(up)

    # Each of ours answers the one before it: a chain, not four mails under one root.
    assert sorted(depth(mid) for mid in parent) == [0, 1, 2, 3]
    assert [str(m["Subject"]).split(" [#")[0] for m in mailbox[1:]] == [
        "Vi har tagit emot ditt ärende 1: Trasig dörr",
        "Trasig dörr",
        "Ditt ärende 1 är åtgärdat: Trasig dörr",
    ]
