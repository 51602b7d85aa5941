"""The generated machine and human mails through the pipeline: which got an acknowledgement."""

from __future__ import annotations

from sqlmodel import select

from smartmail.app import App
from smartmail.mail.parse import parse
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Message
from tests.mail.machine_mails import Sample, human_mails, machine_mails
from tests.pipeline.test_process import DESK, NOW


def _acknowledged(app: App, samples: list[Sample]) -> set[str]:
    """The senders of `samples` that got an acknowledgement."""
    mails = [
        (sample.raw, Envelope("smtp", parse(sample.raw).from_addr, (DESK,))) for sample in samples
    ]
    outcomes = app.pipeline.process_many(mails, NOW)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    with transaction(app.engine) as session:
        acks = session.exec(select(Message.to_addrs).where(Message.template == "ack")).all()
    return set(acks)


def test_no_machine_gets_an_acknowledgement_and_every_person_does(app: App) -> None:
    machines = [s for s in machine_mails() if not s.staff]
    assert _acknowledged(app, machines) == set()
    people = [s for s in human_mails() if not s.staff]
    senders = {parse(s.raw).from_addr for s in people}
    assert _acknowledged(app, people) == senders
