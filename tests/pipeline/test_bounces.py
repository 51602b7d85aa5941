"""Bounces of our own mail, in-process: on the right case, the owner told once, the address
held back from automatic mail, and nothing for a forged return path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from smartmail.app import App, open_app
from smartmail.desk import cases, suppressions
from smartmail.mail import compose
from smartmail.mail.compose import Identity, Rendered
from smartmail.mail.dsn import one_line
from smartmail.mail.tokens import bounce_address, parse_bounce_address
from smartmail.outbound.sender import deliver_due
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.store.db import transaction
from smartmail.store.models import Case, Event, Message, Outbox, Suppression
from tests.conftest import TEST_RULES, MemoryTransport, settings_under
from tests.mail import bounce_mails

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
CUSTOMER = "eva@kund.example"
OWNER = "kalle@bostad.example"
DESK = "felanmalan@bostad.example"
SECRET = b"test-secret"


def customer_mail(subject: str = "Stopp i avloppet", body: str = "Det är stopp.") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Eva Svensson <{CUSTOMER}>"
    msg["To"] = DESK
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content(body)
    return msg.as_bytes()


def intake(app: App, raw: bytes, at: datetime = NOW) -> Outcome:
    return app.pipeline.process(raw, Envelope("smtp", CUSTOMER, (DESK,)), at)


def bounce(app: App, raw: bytes, to: str, at: datetime = LATER, mail_from: str = "") -> Outcome:
    return app.pipeline.process(raw, Envelope("smtp", mail_from, (to,)), at)


def sent_to(app: App, address: str) -> list[tuple[Message, Outbox]]:
    with transaction(app.engine) as session:
        query = (
            select(Message, Outbox)
            .join(Outbox, col(Outbox.message_pk) == col(Message.id))
            .where(Message.to_addrs == address)
            .order_by(col(Message.id))
        )
        return [(m, o) for m, o in session.exec(query).all()]


def ack_of_case_1(app: App) -> tuple[str, str]:
    """(return path, Message-ID) of the acknowledgement to the customer."""
    (message, row), *_ = sent_to(app, CUSTOMER)
    return row.mail_from, message.message_id


def events(app: App, case: int, kind: str | None = None) -> list[tuple[str, dict[str, object]]]:
    with transaction(app.engine) as session:
        rows = session.exec(select(Event).where(Event.case_id == case).order_by(col(Event.id)))
        found = [(e.kind, json.loads(e.detail) if e.detail else {}) for e in rows]
    return [e for e in found if kind is None or e[0] == kind]


def templates_to(app: App, address: str) -> list[str]:
    return [m.template for m, _row in sent_to(app, address)]


def count_cases(app: App) -> int:
    with transaction(app.engine) as session:
        return len(session.exec(select(Case.id)).all())


@pytest.fixture
def opened(app: App) -> tuple[str, str]:
    """Case 1, opened by the customer and owned by Kalle; its acknowledgement's return
    path and Message-ID."""
    assert intake(app, customer_mail()).kind == "new_case"
    return ack_of_case_1(app)


def test_every_mail_we_send_has_its_own_signed_return_path(app: App) -> None:
    intake(app, customer_mail())
    with transaction(app.engine) as session:
        rows = session.exec(select(Outbox)).all()
    assert len(rows) == 2  # the acknowledgement and the owner's notice
    for row in rows:
        parsed = parse_bounce_address(row.mail_from)
        assert parsed is not None, row.mail_from
        assert (parsed.base, parsed.number) == (DESK, row.message_pk)
        assert parsed.genuine(SECRET)
    deliver_due(app.engine, app.transport, NOW)
    assert isinstance(app.transport, MemoryTransport)
    assert {mail_from for mail_from, _to, _body in app.transport.sent} == {
        row.mail_from for row in rows
    }


def test_a_report_to_the_return_path_lands_on_the_case(app: App, opened: tuple[str, str]) -> None:
    verp, ack_id = opened
    raw = bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER)
    outcome = bounce(app, raw, verp)
    assert (outcome.kind, outcome.case_number) == ("bounce", 1)
    assert outcome.detail == f"{CUSTOMER} 5.1.1"
    ((_kind, failed),) = events(app, 1, "delivery_failed")
    assert failed == {
        "to": CUSTOMER,
        "status": "5.1.1",
        "error": f"550 5.1.1 <{CUSTOMER}>: Recipient address rejected: User unknown",
        "permanent": True,
        "via": "bounce",
    }
    ((_kind, held),) = events(app, 1, "suppressed")
    assert held["address"] == CUSTOMER
    assert held["until"] == str(LATER + timedelta(days=30))
    assert templates_to(app, OWNER) == ["new_case", "bounce"]
    assert templates_to(app, CUSTOMER) == ["ack"]  # a bounce is never answered
    assert count_cases(app) == 1
    with transaction(app.engine) as session:
        kept = session.exec(select(Message).where(Message.thread_signal == "bounce_address")).one()
        assert (kept.case_id, kept.visibility, kept.automatic) == (1, "internal", True)
        row = session.get(Suppression, CUSTOMER)
        assert row is not None
        assert (row.case_id, row.until) == (1, LATER + timedelta(days=30))
        assert row.reason.startswith("5.1.1 550 5.1.1")


def test_the_owner_is_told_once_and_each_bounce_is_an_event(
    app: App, opened: tuple[str, str]
) -> None:
    verp, ack_id = opened
    bounce(app, bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER), verp)
    text = bounce_mails.qmail_text(to=verp, recipient=CUSTOMER, returned_id=ack_id)
    assert bounce(app, text, verp, LATER + timedelta(hours=1)).kind == "bounce"
    assert len(events(app, 1, "delivery_failed")) == 2
    assert templates_to(app, OWNER).count("bounce") == 1


def test_the_owners_notice_says_who_failed_and_why(app: App, opened: tuple[str, str]) -> None:
    verp, ack_id = opened
    bounce(app, bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER), verp)
    ((_message, row),) = [(m, o) for m, o in sent_to(app, OWNER) if m.template == "bounce"]
    notice = message_from_bytes(row.body, policy=policy.default)
    assert "[#1-" in str(notice["Subject"])
    text = notice.get_content()
    assert CUSTOMER in text
    assert "5.1.1" in text
    assert "Recipient address rejected: User unknown" in text
    assert f"smartmail suppressed remove {CUSTOMER}" in text


def test_automatic_mail_to_a_suppressed_address_is_skipped_and_says_so(
    app: App, opened: tuple[str, str]
) -> None:
    verp, ack_id = opened
    bounce(app, bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER), verp)
    again = intake(app, customer_mail("Ingen värme", "Elementen är kalla."), LATER)
    assert (again.kind, again.case_number) == ("new_case", 2)
    assert templates_to(app, CUSTOMER) == ["ack"]  # only the first one
    ((_kind, skipped),) = events(app, 2, "mail_skipped")
    assert skipped == {
        "to": CUSTOMER,
        "template": "ack",
        "until": str(LATER + timedelta(days=30)),
        "reason": "suppressed",
    }
    assert templates_to(app, "anna@bostad.example") == ["new_case"]  # the owner still hears


def test_a_persons_answer_still_goes_to_a_suppressed_address(
    app: App, opened: tuple[str, str]
) -> None:
    verp, ack_id = opened
    bounce(app, bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER), verp)
    rendered = Rendered("Svar", "Vi kommer i morgon.")
    with transaction(app.engine) as session:
        case = session.get(Case, 1)
        for automatic in ("auto-generated", None):
            msg = compose.compose(
                Identity(DESK),
                to=[CUSTOMER],
                rendered=rendered,
                now=LATER,
                auto_submitted=automatic,
            )
            compose.queue(session, msg, case=case, now=LATER, template="answer", secret=SECRET)
    assert len(sent_to(app, CUSTOMER)) == 2  # the acknowledgement and the answer
    assert len(events(app, 1, "mail_skipped")) == 1


def test_the_hold_ends_after_suppress_for(app: App, opened: tuple[str, str]) -> None:
    verp, ack_id = opened
    bounce(app, bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER), verp)
    intake(app, customer_mail("Ingen värme"), LATER + timedelta(days=29))
    assert templates_to(app, CUSTOMER) == ["ack"]
    intake(app, customer_mail("Trasig dörr"), LATER + timedelta(days=30, minutes=1))
    assert templates_to(app, CUSTOMER) == ["ack", "ack"]


def test_a_transient_failure_is_an_event_only(app: App, opened: tuple[str, str]) -> None:
    verp, ack_id = opened
    raw = bounce_mails.rfc3464(
        to=verp,
        returned_id=ack_id,
        recipient=CUSTOMER,
        action="delayed",
        status="4.2.2",
        diagnostic="smtp; 452 4.2.2 Mailbox full",
    )
    assert bounce(app, raw, verp).kind == "bounce"
    ((_kind, failed),) = events(app, 1, "delivery_failed")
    assert (failed["status"], failed["permanent"]) == ("4.2.2", False)
    assert events(app, 1, "suppressed") == []
    assert templates_to(app, OWNER) == ["new_case"]
    with transaction(app.engine) as session:
        assert suppressions.suppressed_until(session, CUSTOMER, LATER) is None


def test_a_forged_signature_changes_nothing(app: App, opened: tuple[str, str]) -> None:
    verp, ack_id = opened
    parsed = parse_bounce_address(verp)
    assert parsed is not None
    forged = verp.replace(parsed.signature, "a" * 10)
    before = events(app, 1)
    raw = bounce_mails.rfc3464(to=forged, returned_id=ack_id, recipient=CUSTOMER)
    outcome = bounce(app, raw, forged)
    assert (outcome.kind, outcome.case_number) == ("stored", None)
    assert events(app, 1) == before
    assert count_cases(app) == 1
    assert templates_to(app, OWNER) == ["new_case"]
    with transaction(app.engine) as session:
        assert session.exec(select(Suppression)).all() == []


def test_a_return_path_of_another_mail_number_is_forged_too(
    app: App, opened: tuple[str, str]
) -> None:
    verp, ack_id = opened
    parsed = parse_bounce_address(verp)
    assert parsed is not None
    other = verp.replace(f"+b-{parsed.number}-", f"+b-{parsed.number + 1}-")
    raw = bounce_mails.rfc3464(to=other, returned_id=ack_id, recipient=CUSTOMER)
    assert bounce(app, raw, other).kind == "stored"
    assert events(app, 1, "delivery_failed") == []


def test_a_report_to_the_function_address_naming_our_mail_lands_on_its_case(
    app: App, opened: tuple[str, str]
) -> None:
    _verp, ack_id = opened
    raw = bounce_mails.rfc3464(to=DESK, returned_id=ack_id, recipient=CUSTOMER)
    outcome = bounce(app, raw, DESK)
    assert (outcome.kind, outcome.case_number) == ("bounce", 1)
    assert len(events(app, 1, "delivery_failed")) == 1
    with transaction(app.engine) as session:
        kept = session.exec(select(Message).where(Message.thread_signal == "report")).one()
        assert kept.case_id == 1


def test_a_report_about_mail_we_never_sent_opens_no_case(app: App, opened: object) -> None:
    raw = bounce_mails.rfc3464(to=DESK, returned_id="<spam@elsewhere.example>", recipient=CUSTOMER)
    outcome = bounce(app, raw, DESK)
    assert (outcome.kind, outcome.case_number) == ("stored", None)  # backscatter
    assert count_cases(app) == 1
    assert events(app, 1, "delivery_failed") == []


def test_a_report_blames_only_someone_the_mail_went_to(app: App, opened: tuple[str, str]) -> None:
    """The customer may forge a report about their own acknowledgement; it can hold back
    mail to nobody but them."""
    verp, ack_id = opened
    raw = bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=OWNER)
    bounce(app, raw, verp)
    with transaction(app.engine) as session:
        assert suppressions.suppressed_until(session, OWNER, LATER) is None
        assert suppressions.suppressed_until(session, CUSTOMER, LATER) is not None


def test_a_text_bounce_naming_nobody_is_about_the_mails_recipient(
    app: App, opened: tuple[str, str]
) -> None:
    verp, _ack_id = opened
    outcome = bounce(app, bounce_mails.unnamed_text(to=verp), verp)
    assert outcome.detail == f"{CUSTOMER} 5.7.1"
    ((_kind, failed),) = events(app, 1, "delivery_failed")
    assert (failed["to"], failed["permanent"]) == (CUSTOMER, True)


def test_an_autoresponder_at_the_return_path_is_kept_but_no_failure(
    app: App, opened: tuple[str, str]
) -> None:
    verp, _ack_id = opened
    outcome = bounce(app, bounce_mails.autoreply(to=verp, sender=CUSTOMER), verp)
    assert (outcome.kind, outcome.case_number) == ("bounce", 1)
    assert events(app, 1, "delivery_failed") == []
    assert templates_to(app, CUSTOMER) == ["ack"]
    assert templates_to(app, OWNER) == ["new_case"]


def test_a_person_writing_to_the_return_path_is_ordinary_mail(
    app: App, opened: tuple[str, str]
) -> None:
    verp, ack_id = opened
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CUSTOMER, verp, "Re: ärendet"
    msg["Message-ID"], msg["In-Reply-To"] = make_msgid(domain="kund.example"), ack_id
    msg.set_content("Det rinner fortfarande.")
    outcome = bounce(app, msg.as_bytes(), verp, mail_from=CUSTOMER)
    assert (outcome.kind, outcome.case_number) == ("reply", 1)


def test_a_bounce_of_mail_about_no_case_suppresses_without_a_case(app: App) -> None:
    rendered = Rendered("Dina ärenden", "Inga.")
    with transaction(app.engine) as session:
        msg = compose.compose(Identity(DESK), to=[OWNER], rendered=rendered, now=NOW)
        compose.queue(session, msg, case=None, now=NOW, template="digest_mine", secret=SECRET)
    ((message, row),) = sent_to(app, OWNER)
    raw = bounce_mails.rfc3464(to=row.mail_from, returned_id=message.message_id, recipient=OWNER)
    outcome = bounce(app, raw, row.mail_from)
    assert (outcome.kind, outcome.case_number) == ("bounce", None)
    with transaction(app.engine) as session:
        held = session.get(Suppression, OWNER)
        assert held is not None
        assert held.case_id is None
        again = compose.compose(Identity(DESK), to=[OWNER], rendered=rendered, now=LATER)
        compose.queue(session, again, case=None, now=LATER, template="digest_mine", secret=SECRET)
    assert len(sent_to(app, OWNER)) == 1


@pytest.mark.parametrize(
    "diagnostic",
    [
        "smtp; 550 x\r\nBcc: mallory@evil.example",
        "smtp; 550 =?utf-8?q?=0D=0ABcc:_mallory@evil.example?=",
        "smtp; 550 \x00\x07\x1b[2J{{ case.customer }}{% raw %}",
    ],
)
def test_a_hostile_reason_stays_in_the_notice_body(
    app: App, opened: tuple[str, str], diagnostic: str
) -> None:
    verp, ack_id = opened
    raw = bounce_mails.rfc3464(
        to=verp, returned_id=ack_id, recipient=CUSTOMER, diagnostic=diagnostic
    )
    bounce(app, raw, verp)
    ((_message, row),) = [(m, o) for m, o in sent_to(app, OWNER) if m.template == "bounce"]
    notice = message_from_bytes(row.body, policy=policy.default)
    assert notice["Bcc"] is None
    assert [str(v) for v in notice.get_all("To")] == [OWNER]
    assert row.rcpt_to == OWNER
    assert "mallory" not in str(notice["Subject"])
    for line in notice.get_content().splitlines():
        assert line.isprintable()


@pytest.fixture
def app_without_hold(tmp_path: Path) -> Iterator[App]:
    rules = tmp_path / "no-hold.yaml"
    rules.write_text(TEST_RULES + "bounces: {suppress_for: 0}\n", encoding="utf-8")
    settings = settings_under(tmp_path, rules)
    application = open_app(settings, transport=MemoryTransport())
    yield application
    application.engine.dispose()


def test_suppress_for_zero_tells_the_owner_but_holds_nothing_back(app_without_hold: App) -> None:
    app = app_without_hold
    intake(app, customer_mail())
    verp, ack_id = ack_of_case_1(app)
    bounce(app, bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER), verp)
    assert len(events(app, 1, "delivery_failed")) == 1
    assert events(app, 1, "suppressed") == []
    assert templates_to(app, OWNER) == ["new_case", "bounce"]
    intake(app, customer_mail("Ingen värme"), LATER)
    assert templates_to(app, CUSTOMER) == ["ack", "ack"]


def test_without_a_secret_the_return_path_is_the_function_address(app: App) -> None:
    rendered = Rendered("Hej", "Hej.")
    with transaction(app.engine) as session:
        msg = compose.compose(Identity(DESK), to=[OWNER], rendered=rendered, now=NOW)
        compose.queue(session, msg, case=None, now=NOW)
    ((_message, row),) = sent_to(app, OWNER)
    assert row.mail_from == DESK
    assert bounce_address(DESK, 1, SECRET) != DESK


_TEMPLATES = compose.Templates()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=600), st.sampled_from(["sv", "en"]))
def test_any_reason_in_a_report_stays_in_the_notice_body(text: str, language: str) -> None:
    """Whatever a report's Diagnostic-Code says reaches the owner as one line of body text."""
    reason = one_line(text)
    case = SimpleNamespace(number=7, subject="Stopp", status="assigned", due_at=None)
    rendered = _TEMPLATES.render(
        language,
        "bounce",
        ZoneInfo("Europe/Stockholm"),
        case=case,
        status_name="assigned",
        address=DESK,
        customer=None,
        failed=CUSTOMER,
        status="5.1.1",
        reason=reason,
        until=NOW,
    )
    msg = compose.compose(Identity(DESK), to=[OWNER], rendered=rendered, now=NOW)
    notice = message_from_bytes(compose.wire_bytes(msg), policy=policy.default)
    assert [str(v) for v in notice.get_all("To")] == [OWNER]
    assert notice["Bcc"] is None
    assert notice["Cc"] is None
    assert str(notice["Subject"]) == rendered.subject
    body = notice.get_content()
    assert reason.strip() in body
    assert all(line.isprintable() for line in body.splitlines())


def test_a_bounce_about_a_merged_case_lands_on_the_case_it_went_into(
    app: App, opened: tuple[str, str]
) -> None:
    verp, ack_id = opened
    intake(app, customer_mail("Ingen värme", "Elementen är kalla."))
    with transaction(app.engine) as session:
        merged, survivor = session.get(Case, 1), session.get(Case, 2)
        assert merged is not None
        assert survivor is not None
        cases.merge(session, merged, survivor, OWNER, NOW, None)
    outcome = bounce(
        app, bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER), verp
    )
    assert outcome.case_number == 2
    assert len(events(app, 2, "delivery_failed")) == 1
    assert events(app, 1, "delivery_failed") == []
