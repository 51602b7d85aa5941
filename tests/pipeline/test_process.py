"""The pipeline in-process: threading, dedupe, guard effects, quarantine, outbox."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlmodel import col, select

from smartmail.app import App, open_app
from smartmail.config import Settings
from smartmail.desk import cases
from smartmail.errors import PermanentFailure, TemporaryFailure
from smartmail.outbound.sender import deliver_due
from smartmail.pipeline.envelope import Envelope
from smartmail.rules.model import Route, Rules
from smartmail.store.db import transaction
from smartmail.store.models import Attachment, Case, Event, Message, Outbox, Quarantine, RawMail
from tests.conftest import MemoryTransport, assert_routed_as_a_blocked_drain

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CUSTOMER = "eva@kund.example"
DESK = "felanmalan@bostad.example"


def raw_mail(
    subject: str = "Stopp i avloppet",
    body: str = "Det är stopp i avloppet.",
    sender: str = CUSTOMER,
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = DESK
    msg["Subject"] = subject
    if "Message_ID" not in headers:
        msg["Message-ID"] = make_msgid(domain="kund.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def process(app: App, raw: bytes, mail_from: str | None = CUSTOMER, at: datetime = NOW):
    return app.pipeline.process(raw, Envelope("smtp", mail_from, (DESK,)), at)


def outgoing(app: App) -> list[Message]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Message).where(Message.direction == "out")).all())


def test_a_new_mail_opens_a_routed_case_and_is_acknowledged(app: App) -> None:
    raw = raw_mail()
    outcome = process(app, raw)
    assert outcome.kind == "new_case"
    assert outcome.case_number == 1
    with transaction(app.engine) as session:
        assert_routed_as_a_blocked_drain(session.get(Case, 1), NOW)
    sent = {m.to_addrs: m for m in outgoing(app)}
    assert set(sent) == {CUSTOMER, "kalle@bostad.example"}
    assert "[#1-" in sent[CUSTOMER].subject
    assert kept_raw(app) == raw


def kept_raw(app: App) -> bytes:
    with transaction(app.engine) as session:
        message = session.exec(select(Message).where(Message.direction == "in")).one()
        assert message.raw_sha256
        kept = session.get(RawMail, message.raw_sha256)
        assert kept is not None
        return kept.data


def test_the_same_message_id_is_stored_and_answered_once(app: App) -> None:
    raw = raw_mail()
    assert process(app, raw).kind == "new_case"
    assert process(app, raw).kind == "duplicate"
    assert len(outgoing(app)) == 2


def test_a_resend_with_other_trace_headers_is_a_duplicate(app: App) -> None:
    raw = raw_mail()
    assert process(app, raw).kind == "new_case"
    again = b"Received: from mx2.kund.example by mx.bostad.example; Mon, 23 Nov 2026\n" + raw
    assert process(app, again).kind == "duplicate"
    assert len(outgoing(app)) == 2


def test_another_mail_under_a_known_message_id_is_kept_and_answered(app: App) -> None:
    first = raw_mail(Message_ID="<1@skript.example>")
    other = raw_mail("Hissen står still", "Hissen i port B.", Message_ID="<1@skript.example>")
    olles = raw_mail(sender="olle@kund.example", Message_ID="<1@skript.example>")
    assert process(app, first).kind == "new_case"
    second = process(app, other)
    assert (second.kind, second.case_number) == ("new_case", 2)
    assert second.message_id.endswith("@reused.smartmail>")
    third = process(app, olles, mail_from="olle@kund.example")
    assert (third.kind, third.case_number) == ("new_case", 3)
    assert third.message_id not in (second.message_id, "<1@skript.example>")
    # Each is itself once: resent, the one that reused the ID is a duplicate too.
    assert process(app, b"Received: by mx2.kund.example\n" + other).kind == "duplicate"
    assert process(app, first).kind == "duplicate"
    with transaction(app.engine) as session:
        kept = {
            m.subject: m.raw_sha256 for m in session.exec(select(Message)) if m.direction == "in"
        }
        assert kept["Hissen står still"] == hashlib.sha256(other).hexdigest()
    acks = [m for m in outgoing(app) if "kund.example" in m.to_addrs]
    assert len(acks) == 3


def test_a_subject_with_a_broken_encoded_word_is_answered(app: App) -> None:
    raw = raw_mail().replace(
        b"Subject: Stopp i avloppet",
        b"Subject: =?utf-8,zE\xba-\t\xa5\xb4?q?Fuktfl=C3=A4ck_i_taket?=",
    )
    outcome = process(app, raw)
    assert outcome.kind == "new_case"
    subjects = [m.subject for m in outgoing(app)]
    assert len(subjects) == 2
    assert all("?q?Fuktfl=C3=A4ck_i_taket?=" in subject for subject in subjects)


def test_a_mail_without_message_id_is_deduplicated_by_content(app: App) -> None:
    raw = raw_mail(Message_ID="")
    first = process(app, raw)
    assert first.message_id.endswith("@generated.smartmail>")
    assert process(app, raw).kind == "duplicate"
    # the same mail by another way: other trace headers, the same content
    assert process(app, b"Received: by mx2.kund.example\n" + raw).kind == "duplicate"
    other = raw_mail(body="Och nu i badrummet också.", Message_ID="")
    assert process(app, other).kind == "new_case"


def test_a_stranger_quoting_a_thread_gets_a_case_of_their_own(app: App) -> None:
    process(app, raw_mail())
    ack = next(m for m in outgoing(app) if m.to_addrs == CUSTOMER)
    stranger = raw_mail(
        "Re: avlopp", "Jag med!", "mallory@evil.example", In_Reply_To=ack.message_id
    )
    outcome = process(app, stranger, "mallory@evil.example")
    assert outcome.kind == "new_case"
    assert outcome.case_number == 2
    with transaction(app.engine) as session:
        message = session.exec(
            select(Message).where(Message.case_id == 2, Message.direction == "in")
        ).one()
        assert "references case 1 but is no party to it" in message.thread_signal


def test_the_customer_reply_by_reference_lands_on_the_case(app: App) -> None:
    process(app, raw_mail())
    ack = next(m for m in outgoing(app) if m.to_addrs == CUSTOMER)
    outcome = process(app, raw_mail("Re: hej", "Det är värre nu.", In_Reply_To=ack.message_id))
    assert (outcome.kind, outcome.case_number, outcome.detail) == ("reply", 1, "references")


@pytest.mark.parametrize(
    ("headers", "mail_from", "kind"),
    [
        ({"Auto_Submitted": "auto-replied"}, CUSTOMER, "new_case"),
        ({"Precedence": "bulk"}, CUSTOMER, "new_case"),
        ({}, "", "stored"),
        ({"X_Smartmail_Loop": DESK}, CUSTOMER, "stored"),
    ],
)
def test_machine_mail_is_stored_but_never_answered(
    app: App, headers: dict[str, str], mail_from: str, kind: str
) -> None:
    outcome = process(app, raw_mail(**headers), mail_from)
    assert outcome.kind == kind
    assert all(m.to_addrs != CUSTOMER for m in outgoing(app))
    with transaction(app.engine) as session:
        stored = session.exec(select(Message).where(Message.direction == "in")).one()
        assert stored.automatic
        assert stored.visibility == "internal"


def test_mail_from_our_own_address_opens_nothing(app: App) -> None:
    outcome = process(app, raw_mail(sender=DESK), DESK)
    assert outcome.kind == "stored"
    assert "from_self" in outcome.detail
    assert outgoing(app) == []


def test_a_reply_to_a_resolved_case_reopens_it(app: App) -> None:
    process(app, raw_mail())
    with transaction(app.engine) as session:
        case = session.get(Case, 1)
        assert case is not None
        cases.set_status(session, case, "resolved", "kalle@bostad.example", NOW)
    ack = next(m for m in outgoing(app) if m.to_addrs == CUSTOMER)
    process(app, raw_mail(ack.subject, "Det är stopp igen."))
    with transaction(app.engine) as session:
        case = session.get(Case, 1)
        assert case is not None
        assert case.status == "assigned"
        assert case.reopen_count == 1
        kinds = session.exec(select(Event.kind).where(Event.case_id == 1)).all()
        assert "reopened" in kinds


def test_a_reply_to_a_closed_case_opens_a_follow_up(app: App) -> None:
    process(app, raw_mail())
    with transaction(app.engine) as session:
        case = session.get(Case, 1)
        assert case is not None
        cases.set_status(session, case, "closed", "kalle@bostad.example", NOW)
    ack = next(m for m in outgoing(app) if m.to_addrs == CUSTOMER)
    outcome = process(app, raw_mail(ack.subject, "Stopp igen, en månad senare."))
    assert (outcome.kind, outcome.case_number) == ("follow_up", 2)


def test_attachments_are_kept_content_addressed_with_safe_names(app: App) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CUSTOMER, DESK, "Bild på skadan"
    msg.set_content("Se bild.")
    msg.add_attachment(b"\x89PNG fake", maintype="image", subtype="png", filename="../köket.png")
    process(app, msg.as_bytes())
    with transaction(app.engine) as session:
        attachment = session.exec(select(Attachment)).one()
    assert "/" not in attachment.filename
    assert attachment.filename.endswith("köket.png")
    stored = app.pipeline.attachment_store.path(attachment.sha256)
    assert stored.read_bytes() == b"\x89PNG fake"


class BrokenOnce:
    """Rules whose routing raises once: a bug met by one mail, fixed before the replay."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.broken = True

    def __getattr__(self, name: str) -> object:
        return getattr(self.rules, name)

    def route(self, mail: object, to_address: str | None = None, known: str = "") -> Route:
        if self.broken:
            raise RuntimeError("routing bug")
        return self.rules.route(mail, to_address)  # type: ignore[arg-type]


def test_a_mail_that_raises_is_quarantined_and_replayed(app: App) -> None:
    broken = BrokenOnce(app.rules())
    app.pipeline.rules = lambda: broken  # type: ignore[assignment, return-value]
    outcome = process(app, raw_mail())
    assert outcome.kind == "quarantined"
    assert "RuntimeError: routing bug" in outcome.detail
    assert app.pipeline.replay() == ["#1: still failing: RuntimeError: routing bug"]
    broken.broken = False
    assert app.pipeline.replay() == ["#1: new_case case 1"]
    assert app.pipeline.replay() == []
    with transaction(app.engine) as session:
        assert session.exec(select(Quarantine)).one().replayed_at is not None


def test_the_outbox_retries_temporary_failures_and_records_permanent_ones(app: App) -> None:
    process(app, raw_mail())
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    transport.fail_with = TemporaryFailure("421 try later")
    report = deliver_due(app.engine, transport, NOW)
    assert (report.sent, report.retried) == (0, 2)
    assert deliver_due(app.engine, transport, NOW + timedelta(seconds=30)).retried == 0
    transport.fail_with = PermanentFailure("550 no such user")
    assert deliver_due(app.engine, transport, NOW + timedelta(minutes=6)).failed == 2
    with transaction(app.engine) as session:
        rows = session.exec(select(Outbox)).all()
        assert {r.status for r in rows} == {"failed"}
        assert all("550" in r.last_error for r in rows)
        kinds = session.exec(select(Event.kind).where(Event.case_id == 1)).all()
        assert kinds.count("delivery_failed") == 2


def test_one_pass_sends_in_batches_up_to_its_limit_oldest_first(app: App) -> None:
    for n in range(12):  # 24 mails (an ack and an owner notice each): several batches
        process(app, raw_mail(f"Stopp nr {n}", sender=f"kund{n}@kund.example"), f"kund{n}@x")
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    assert deliver_due(app.engine, transport, NOW, limit=10).sent == 10
    assert deliver_due(app.engine, transport, NOW).sent == 14
    assert deliver_due(app.engine, transport, NOW).sent == 0
    with transaction(app.engine) as session:
        rows = session.exec(select(Outbox).order_by(col(Outbox.id))).all()
    assert [[row.rcpt_to] for row in rows] == [rcpt for _from, rcpt, _body in transport.sent]
    assert {row.attempts for row in rows} == {1}


def test_the_outbox_sends_once(app: App) -> None:
    process(app, raw_mail())
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    assert deliver_due(app.engine, transport, NOW).sent == 2
    assert deliver_due(app.engine, transport, NOW + timedelta(hours=1)).sent == 0
    assert len(transport.sent) == 2
    _from, _rcpt, body = transport.sent[0]
    assert b"Auto-Submitted: auto-replied" in body


def new_drain_case(app: App, n: int) -> Case:
    outcome = process(app, raw_mail(f"Stopp {n}", "Stopp i avloppet."))
    with transaction(app.engine) as session:
        found = session.get(Case, outcome.case_number)
        assert found is not None
        return found


def test_a_team_gives_its_cases_to_the_least_loaded_member(app: App) -> None:
    owners = [new_drain_case(app, n).assignee for n in range(2)]
    with transaction(app.engine) as session:  # Lisa closes hers: she is least loaded again
        lisas = session.get(Case, 2)
        assert lisas is not None
        cases.set_status(session, lisas, "closed", "lisa@bostad.example", NOW)
    owners += [new_drain_case(app, n).assignee for n in range(2, 4)]
    assert owners == [
        "kalle@bostad.example",
        "lisa@bostad.example",
        "lisa@bostad.example",
        "kalle@bostad.example",
    ]


def test_round_robin_takes_turns(app: App, rules_path: Path) -> None:
    text = rules_path.read_text().replace(
        "fastighetsskotare: {members: [kalle@bostad.example, lisa@bostad.example]}",
        "fastighetsskotare: {members: [kalle@bostad.example, lisa@bostad.example], "
        "assign: round_robin}",
    )
    rules_path.write_text(text)
    assert app.rules.reload(force=True)
    owners = [new_drain_case(app, n).assignee for n in range(3)]
    assert owners == ["kalle@bostad.example", "lisa@bostad.example", "kalle@bostad.example"]


def test_the_same_broken_mail_twice_is_quarantined_once(app: App) -> None:
    broken = BrokenOnce(app.rules())
    app.pipeline.rules = lambda: broken  # type: ignore[assignment, return-value]
    raw = raw_mail()
    assert process(app, raw).kind == "quarantined"
    assert process(app, raw).kind == "quarantined"
    with transaction(app.engine) as session:
        assert len(session.exec(select(Quarantine)).all()) == 1


def test_a_replayed_bounce_is_still_a_bounce(app: App) -> None:
    class BrokenRoles(BrokenOnce):
        def role_of(self, email: str) -> str:
            if self.broken:
                raise RuntimeError("roles bug")
            return self.rules.role_of(email)

    broken = BrokenRoles(app.rules())
    app.pipeline.rules = lambda: broken  # type: ignore[assignment, return-value]
    bounce = raw_mail("Undeliverable", "No such user.", "kvitto@shop.example")
    assert app.pipeline.process(bounce, Envelope("smtp", "", (DESK,)), NOW).kind == "quarantined"
    broken.broken = False
    assert app.pipeline.replay() == ["#1: stored"]  # the null sender survived the quarantine
    assert outgoing(app) == []


def test_a_mail_the_transport_chokes_on_does_not_block_the_others(app: App) -> None:
    process(app, raw_mail())
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    transport.fail_with = UnicodeEncodeError("ascii", "åsa", 0, 1, "no SMTPUTF8")
    report = deliver_due(app.engine, transport, NOW)
    assert report.retried == 2
    transport.fail_with = None
    assert deliver_due(app.engine, transport, NOW + timedelta(minutes=2)).sent == 2


def test_a_new_case_keeps_the_signature_with_the_address(app: App) -> None:
    body = "Det är stopp i avloppet.\n\nMvh\nEva Svensson\nStorgatan 5, lgh 1203\n070-123 45 67"
    process(app, raw_mail(body=body))
    with transaction(app.engine) as session:
        stored = session.exec(select(Message).where(Message.direction == "in")).one()
    assert "lgh 1203" in stored.text


class BrokenFor(BrokenOnce):
    """Routing raises for one subject only: the bug meets one mail of a batch."""

    def route(self, mail: object, to_address: str | None = None, known: str = "") -> Route:
        if getattr(mail, "subject", "") == "boom":
            raise RuntimeError("routing bug")
        return self.rules.route(mail, to_address)  # type: ignore[arg-type]


def test_mails_stored_together_each_keep_their_own_outcome(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = BrokenFor(app.rules())
    app.pipeline.rules = lambda: broken  # type: ignore[assignment, return-value]
    first = raw_mail(Message_ID="<first@kund.example>")
    reply = raw_mail("Re: Stopp", "Nu rinner det över.", In_Reply_To="<first@kund.example>")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "olle@kund.example", DESK, "Bild"
    msg.set_content("Se bild.")
    msg.add_attachment(b"cannot keep", maintype="image", subtype="png", filename="a.png")
    put = app.pipeline.attachment_store.put

    def full_disk(data: bytes) -> str:
        if data == b"cannot keep":
            raise OSError(28, "No space left on device")
        return put(data)

    monkeypatch.setattr(app.pipeline.attachment_store, "put", full_disk)
    batch = [first, first, reply, raw_mail("boom"), msg.as_bytes(), raw_mail("Hissen står still")]
    results = app.pipeline.process_many(
        [(raw, Envelope("smtp", CUSTOMER, (DESK,))) for raw in batch], NOW
    )

    kinds = [r.kind if not isinstance(r, Exception) else type(r).__name__ for r in results]
    assert kinds == [
        "new_case",
        "duplicate",
        "reply",
        "quarantined",
        "TemporaryFailure",
        "new_case",
    ]
    assert [r.case_number for r in results if not isinstance(r, Exception)] == [1, None, 1, None, 2]
    with transaction(app.engine) as session:
        assert len(session.exec(select(Case)).all()) == 2
        assert session.exec(select(Quarantine)).one().error == "RuntimeError: routing bug"
        subjects = set(session.exec(select(Message.subject).where(Message.direction == "in")))
        assert "Bild" not in subjects  # not stored: the sending server tries again
        created = session.exec(select(Event).where(Event.kind == "created")).all()
        assert [e.case_id for e in created] == [1, 2]  # nor the events of its rolled-back case
        assert session.get(RawMail, hashlib.sha256(msg.as_bytes()).hexdigest()) is None
    monkeypatch.setattr(app.pipeline.attachment_store, "put", put)
    assert process(app, msg.as_bytes()).kind == "new_case"  # its next try, disk freed


def test_a_recipient_our_relay_refuses_for_good_gets_no_automatic_mail_for_a_while(
    settings: Settings,
) -> None:
    """A 5xx at our own relay says what a bounce would: the address is held back too."""

    class RefusingTheCustomer(MemoryTransport):
        def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
            if CUSTOMER in rcpt_to:
                raise PermanentFailure("550 5.1.1 no such user")
            super().send(mail_from, rcpt_to, body)

    app = open_app(settings, transport=RefusingTheCustomer())
    try:
        process(app, raw_mail())
        assert app.deliver(NOW).failed == 1
        process(app, raw_mail("Stopp igen", "Fortfarande stopp."), at=NOW + timedelta(days=1))
        with transaction(app.engine) as session:
            first = session.exec(select(Event.kind).where(Event.case_id == 1)).all()
            second = session.exec(select(Event.kind).where(Event.case_id == 2)).all()
            queued = session.exec(select(Outbox.rcpt_to).where(Outbox.status == "queued")).all()
    finally:
        app.engine.dispose()
    assert {"delivery_failed", "suppressed"} <= set(first)
    assert "mail_skipped" in second  # the acknowledgement to the refused address
    assert CUSTOMER not in queued
    assert queued  # the new case's owner still hears of it
