"""Two crude autoresponders answering each other through our reply addresses.

A staff member's and a customer's autoresponder (no Auto-Submitted, a fresh Message-ID,
"Re: " and the subject, to the Reply-To) answer everything they get. The sink is the relay
our mail goes out through; each autoresponder reads what the sink got for its owner and
mails back through the pipeline, for ten minutes of simulated time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlmodel import select

from smartmail.app import App, open_app
from smartmail.outbound.sender import deliver_due
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Event, Message
from tests.conftest import Sink, settings_under
from tests.pipeline.test_process import raw_mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EVA = "eva@kund.example"
KALLE = "kalle@bostad.example"
DESK = "felanmalan@bostad.example"
STEP = timedelta(seconds=5)  # how long one round through relay and autoresponder takes
LIMIT = 10  # the rules' loop_limit.mails (the default)

Text = Callable[[EmailMessage, int], str]


@pytest.fixture
def relayed(tmp_path: Path, rules_path: Path, sink: Sink) -> Iterator[App]:
    settings = settings_under(
        tmp_path, rules_path, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}"
    )
    app = open_app(settings)
    yield app
    app.engine.dispose()


def crude_answer(got: EmailMessage, owner: str, text: str) -> tuple[bytes, str]:
    """What a crude autoresponder sends back, and to which address: "Re: " and the subject
    to the Reply-To; or, for one whose text starts with "!", a subject of its own to From
    (which makes each of its answers a new case)."""
    to = str(got["Reply-To"] or got["From"])
    subject = "Re: " + str(got["Subject"])
    if text.startswith("!"):
        to, subject, text = str(got["From"]), "Mottaget", text[1:]
    msg = EmailMessage()
    msg["From"], msg["To"] = owner, to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=owner.rpartition("@")[2])
    msg.set_content(text)
    return msg.as_bytes(), to


def run_loop(app: App, sink: Sink, texts: dict[str, Text], minutes: int = 10) -> list[datetime]:
    """Eva reports a blocked drain; then ten minutes of the autoresponders of `texts` (owner
    -> text for the n-th answer). Returns when each mail reached the sink."""
    app.pipeline.process(raw_mail(), Envelope("smtp", EVA, (DESK,)), NOW)
    arrived: list[datetime] = []
    answers = itertools.count()
    now = NOW
    while now < NOW + timedelta(minutes=minutes):
        seen = len(sink.messages)
        deliver_due(app.engine, app.transport, now)
        fresh = sink.messages[seen:]
        arrived += [now] * len(fresh)
        now += STEP
        for got in fresh:
            for owner, text in texts.items():
                if owner in str(got["To"]).lower():
                    raw, to = crude_answer(got, owner, text(got, next(answers)))
                    app.pipeline.process(raw, Envelope("smtp", owner, (to,)), now)
    return arrived


def events(app: App, kind: str) -> list[Event]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)).all())


def varied(got: EmailMessage, n: int) -> str:
    # Each answer a text of its own, with nothing an away notice opens with: only the cap
    # can stop these two.
    return f"Tack, vi har fått ditt mejl ({got['Subject']}), svar nummer {n}."


def test_two_crude_autoresponders_stop_at_the_loop_limit(relayed: App, sink: Sink) -> None:
    arrived = run_loop(relayed, sink, {EVA: varied, KALLE: varied})
    to_eva, to_kalle = sink.to(EVA), sink.to(KALLE)
    print(f"\nin ten minutes: {len(to_eva)} mails to the customer, {len(to_kalle)} to the staff")
    assert len(to_eva) <= LIMIT
    assert len(to_kalle) <= LIMIT + 1  # and the one notice of the loop
    assert len(sink.to(KALLE, "slinga")) == 1  # the owner is told once
    assert len(events(relayed, "loop_limit")) == 1
    # Then silence: nothing at all in the last nine of the ten minutes.
    assert max(arrived) < NOW + timedelta(minutes=1)
    with transaction(relayed.engine) as session:
        held = session.exec(select(Message).where(Message.guard_hits.contains("loop_limit")))  # type: ignore[attr-defined]
        assert all(m.visibility == "internal" for m in held)


def test_an_autoresponder_that_opens_a_case_each_time_stops_at_the_limit(
    relayed: App, sink: Sink
) -> None:
    def new_each_time(got: EmailMessage, n: int) -> str:
        return "!" + varied(got, n)

    arrived = run_loop(relayed, sink, {EVA: new_each_time, KALLE: varied})
    print(f"\nin ten minutes: {len(sink.messages)} mails, {len(sink.to(EVA))} to the customer")
    assert len(sink.to(EVA)) <= LIMIT
    assert len(sink.to("", "slinga")) == 1  # to the owner of the case it stopped on
    assert max(arrived) < NOW + timedelta(minutes=2)


def test_commands_still_count_past_the_loop_limit(relayed: App, sink: Sink) -> None:
    run_loop(relayed, sink, {EVA: varied, KALLE: varied}, minutes=1)
    notice = sink.to(KALLE, "slinga")[0]
    raw, to = crude_answer(notice, KALLE, "#status resolved\nKlart, vi har lagat det.")
    relayed.pipeline.process(raw, Envelope("smtp", KALLE, (to,)), NOW + timedelta(minutes=2))
    with transaction(relayed.engine) as session:
        changed = session.exec(select(Event).where(Event.kind == "status")).all()
        assert [e.detail for e in changed if "resolved" in e.detail]


def test_an_out_of_office_text_never_reaches_the_customer(relayed: App, sink: Sink) -> None:
    def away(got: EmailMessage, n: int) -> str:
        return (
            "Jag är på semester till och med 14 augusti och läser inte min e-post. "
            "Vid brådskande ärenden, kontakta växeln."
        )

    def out_of_office(got: EmailMessage, n: int) -> str:
        return "Thank you for your message. I am out of the office until Monday."

    run_loop(relayed, sink, {EVA: out_of_office, KALLE: away})
    assert not [m for m in sink.to(EVA) if "semester" in m.get_content()]
    assert len(sink.to(EVA)) == 1  # the acknowledgement, nothing after it
    assert len(sink.to(KALLE)) <= 2  # the new case, and the customer's auto-reply


def test_the_same_text_again_is_kept_internal(relayed: App, sink: Sink) -> None:
    def generic(got: EmailMessage, n: int) -> str:
        return "Tack för ditt mejl! Jag återkommer så snart jag kan."

    run_loop(relayed, sink, {EVA: generic, KALLE: generic})
    answers = [m for m in sink.to(EVA) if "återkommer" in m.get_content()]
    assert len(answers) <= 1  # the first could be a person's; the same again is not
    assert len(sink.messages) <= 6


def test_an_owner_with_many_new_cases_still_answers_the_customer(relayed: App, sink: Sink) -> None:
    """A stormy morning: 22 tenants report in two minutes, to Kalle's team of two; his own
    answer still goes out."""
    for n in range(22):
        tenant = f"hyresgast{n}@kund.example"
        raw = raw_mail(body=f"Stopp i avloppet i lägenhet {1100 + n}.", sender=tenant)
        relayed.pipeline.process(raw, Envelope("smtp", tenant, (DESK,)), NOW + n * STEP)
    deliver_due(relayed.engine, relayed.transport, NOW + timedelta(minutes=2))
    assert len(sink.to(KALLE, "Nytt ärende")) >= LIMIT
    notice = sink.to(KALLE, "Nytt ärende")[-1]
    raw, to = crude_answer(notice, KALLE, "Hej! Jag kommer klockan tio och tittar på det.")
    relayed.pipeline.process(raw, Envelope("smtp", KALLE, (to,)), NOW + timedelta(minutes=3))
    deliver_due(relayed.engine, relayed.transport, NOW + timedelta(minutes=3))
    answered = [m for m in sink.messages if "klockan tio" in m.get_content()]
    assert len(answered) == 1
    assert "hyresgast" in str(answered[0]["To"])
    assert not sink.to("", "slinga")
