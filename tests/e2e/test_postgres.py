"""The shared engine on a real PostgreSQL: the pipeline, races SQLite serialises, two daemons."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TypeVar

import pytest
import time_machine
from sqlalchemy import ColumnElement, Engine, func
from sqlmodel import col, select

from smartmail.app import App
from smartmail.clock.scheduler import SweepReport, sweep
from smartmail.outbound.sender import DeliveryReport, deliver_due
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.store import schema
from smartmail.store.db import make_engine, transaction
from smartmail.store.models import Case, Message, Notice, Outbox
from tests.conftest import Sink, assert_routed_as_a_blocked_drain
from tests.e2e.daemon import RunningDaemon, daemon_env, start_daemon
from tests.e2e.mailing import DESK, new_mail, send
from tests.e2e.postgres import pg_app, postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.store.test_schema import create_as_before_revisions, differences, revision

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
EVA = "eva@kund.example"
RACERS = 4
T = TypeVar("T")


def raw_mail(subject: str, body: str, sender: str = EVA, message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, DESK, subject
    msg["Message-ID"] = message_id or make_msgid(domain="kund.example")
    msg.set_content(body)
    return msg.as_bytes()


def process(app: App, raw: bytes, sender: str = EVA, at: datetime = NOW) -> Outcome:
    return app.pipeline.process(raw, Envelope("smtp", sender, (DESK,)), at)


def race(work: Callable[[], T], racers: int = RACERS) -> list[T]:
    """Run `work` in `racers` threads released at the same moment; re-raises what they raise."""
    start = threading.Barrier(racers)

    def go() -> T:
        start.wait(timeout=30)
        return work()

    with ThreadPoolExecutor(max_workers=racers) as pool:
        futures = [pool.submit(go) for _ in range(racers)]
        return [future.result(timeout=60) for future in futures]


def count(
    engine: Engine, model: type[Message] | type[Case], *where: ColumnElement[bool] | bool
) -> int:
    with transaction(engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


# -- the pipeline in-process -----------------------------------------------------------------


def test_the_pipeline_stores_threads_and_dedupes_on_postgresql(pg_app: App) -> None:  # noqa: F811
    first = process(pg_app, raw_mail("Stopp i avloppet", "Det är stopp i avloppet."))
    assert (first.kind, first.case_number) == ("new_case", 1)
    with transaction(pg_app.engine) as session:
        assert_routed_as_a_blocked_drain(session.get(Case, 1), NOW)
        ack = session.exec(select(Message).where(Message.template == "ack")).one()
        queued = session.exec(select(Outbox).where(Outbox.message_pk == ack.id)).one()
    assert ack.to_addrs == EVA
    assert "[#1-" in ack.subject
    assert (queued.status, queued.rcpt_to) == ("queued", EVA)

    token_reply = raw_mail("SV: " + ack.subject, "Det rinner över nu också.")
    later = NOW + timedelta(minutes=10)
    replied = process(pg_app, token_reply, at=later)
    assert (replied.kind, replied.case_number, replied.detail) == ("reply", 1, "token")
    again = process(pg_app, token_reply, at=later)
    assert again.kind == "duplicate"

    with transaction(pg_app.engine) as session:
        inbound = session.exec(
            select(Message).where(Message.direction == "in").order_by(col(Message.id))
        ).all()
    assert [(m.case_id, m.thread_signal) for m in inbound] == [(1, "new"), (1, "token")]
    assert count(pg_app.engine, Case) == 1
    assert deliver_due(pg_app.engine, pg_app.transport, later).failed == 0


# -- races that SQLite serialises and PostgreSQL does not --------------------------------------


def test_the_same_message_id_from_four_threads_is_stored_once(pg_app: App) -> None:  # noqa: F811
    raw = raw_mail("Stopp i avloppet", "Det är stopp.", message_id="<samma@kund.example>")
    outcomes = race(lambda: process(pg_app, raw))
    assert sorted(o.kind for o in outcomes) == ["duplicate"] * (RACERS - 1) + ["new_case"]
    assert count(pg_app.engine, Message, Message.message_id == "<samma@kund.example>") == 1
    assert count(pg_app.engine, Case) == 1
    acks = count(pg_app.engine, Message, Message.template == "ack", Message.to_addrs == EVA)
    assert acks == 1


def test_different_mails_racing_under_one_message_id_are_each_kept(pg_app: App) -> None:  # noqa: F811
    mails = iter(
        raw_mail(f"Ärende {n}", f"Text {n}.", message_id="<skript@kund.example>")
        for n in range(RACERS)
    )
    lock = threading.Lock()

    def next_mail() -> Outcome:
        with lock:
            raw = next(mails)
        return process(pg_app, raw)

    outcomes = race(next_mail)
    assert sorted(o.kind for o in outcomes) == ["new_case"] * RACERS
    assert len({o.message_id for o in outcomes}) == RACERS
    assert count(pg_app.engine, Case) == RACERS


def test_first_mails_from_a_new_sender_at_once_each_open_a_case(pg_app: App) -> None:  # noqa: F811
    # Each thread creates the same new party; all but one hit its unique address.
    def first_mail() -> Outcome:
        return process(pg_app, raw_mail("Stopp i avloppet", "Stopp.", sender="ny@kund.example"))

    outcomes = race(first_mail)
    assert [o.kind for o in outcomes] == ["new_case"] * RACERS
    assert len({o.case_number for o in outcomes}) == RACERS
    assert count(pg_app.engine, Case) == RACERS


def test_sweeps_racing_send_one_reminder_one_escalation_and_one_digest(pg_app: App) -> None:  # noqa: F811
    number = process(pg_app, raw_mail("Stopp i avloppet", "Det är stopp.")).case_number
    assert number == 1
    due = NOW + timedelta(hours=24)  # akut: 24 h on the always clock, reminder 4 h before

    def sweeps_at(at: datetime) -> list[SweepReport]:
        with time_machine.travel(at, tick=False):
            return race(lambda: sweep(pg_app, at))

    before = sweeps_at(due - timedelta(hours=2))  # Tuesday 08:00 in Stockholm: also digests
    assert sum(r.reminders for r in before) == 1
    assert sum(r.digests for r in before) == 1  # Kalle's open cases
    after = sweeps_at(due + timedelta(minutes=5))
    assert sum(r.escalations for r in after) == 1
    assert count(pg_app.engine, Message, Message.template == "reminder") == 1
    assert count(pg_app.engine, Message, Message.template == "escalation") == 1
    assert count(pg_app.engine, Message, Message.template == "digest_mine") == 1
    with transaction(pg_app.engine) as session:
        keys = session.exec(select(Notice.key).where(Notice.case_id == number)).all()
    assert sorted(k.split(":")[0] for k in keys) == ["escalate", "remind"]


class CountingTransport:
    """Thread-safe: what was sent, and how often each Message-ID was."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[bytes] = []

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        time.sleep(0.005)  # a relay takes a moment: gives the other sender time to try the row
        with self.lock:
            self.sent.append(body)


def test_senders_racing_send_each_outbox_row_once(pg_app: App) -> None:  # noqa: F811
    for n in range(6):
        process(pg_app, raw_mail(f"Fråga {n}", "Hej!", sender=f"kund{n}@kund.example"))
    with transaction(pg_app.engine) as session:
        queued = session.exec(select(Outbox.id).where(Outbox.status == "queued")).all()
    assert len(queued) >= 6
    transport = CountingTransport()
    reports: list[DeliveryReport] = race(
        lambda: deliver_due(pg_app.engine, transport, NOW + timedelta(minutes=1)), racers=2
    )
    assert sum(r.sent for r in reports) == len(queued)
    assert len(transport.sent) == len(set(transport.sent)) == len(queued)
    with transaction(pg_app.engine) as session:
        rows = session.exec(select(Outbox)).all()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


# -- two real daemons on one database ----------------------------------------------------------


@pytest.fixture
def daemons(
    tmp_path: Path,
    rules_path: Path,
    sink: Sink,
    postgres_url: str,  # noqa: F811
) -> Iterator[list[RunningDaemon]]:
    running: list[RunningDaemon] = []
    try:
        for name in ("a", "b"):
            env = daemon_env(
                tmp_path / name,
                rules_path,
                SMARTMAIL_DATABASE_URL=postgres_url,
                SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
            )
            running.append(start_daemon(env, tmp_path))
        yield running
    finally:
        for daemon in running:
            daemon.stop()


def inbound_signals(url: str) -> dict[int, list[str]]:
    """Case number -> what threaded each inbound mail on it, oldest first."""
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            rows = session.exec(
                select(Message.case_id, Message.thread_signal)
                .where(Message.direction == "in")
                .order_by(col(Message.id))
            ).all()
    finally:
        engine.dispose()
    signals: dict[int, list[str]] = {}
    for case_id, signal in rows:
        assert case_id is not None
        signals.setdefault(case_id, []).append(signal)
    return signals


def wait_until_delivered(url: str, sink: Sink, timeout: float = 20.0) -> list[EmailMessage]:
    """Wait until no outbox row is queued and the sink holds every sent row; returns those."""
    engine = make_engine(url)
    try:
        end = time.monotonic() + timeout
        while True:
            with transaction(engine) as session:
                statuses = session.exec(select(Outbox.status)).all()
            with sink.lock:
                received = list(sink.messages)
            if "queued" not in statuses and len(received) >= statuses.count("sent"):
                assert set(statuses) == {"sent"}
                return received
            if time.monotonic() > end:
                raise AssertionError(f"outbox {sorted(statuses)}, sink holds {len(received)}")
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_two_daemons_share_one_database(
    daemons: list[RunningDaemon],
    sink: Sink,
    postgres_url: str,  # noqa: F811
) -> None:
    customers = [f"kund{n}@kund.example" for n in range(4)]
    subjects = ["Stopp i avloppet", "Trasig dörr", "Stopp i köket", "Fråga om hyran"]
    for n, (customer, subject) in enumerate(zip(customers, subjects, strict=True)):
        send(daemons[n % 2].port, new_mail(customer, subject, "Hej, det gäller lägenhet 3."))
    acks = {customer: sink.wait_to(customer, 1)[0] for customer in customers}

    # The answer to an acknowledgement goes to the other daemon: the subject token finds it.
    for n, customer in enumerate(customers):
        answer = new_mail(customer, "SV: " + str(acks[customer]["Subject"]), "Det är värre nu.")
        send(daemons[(n + 1) % 2].port, answer)

    # The same mail to both daemons, one after the other and at the same moment.
    twice = new_mail("olle@kund.example", "Trasigt fönster", "Fönstret går inte att stänga.")
    for daemon in daemons:
        send(daemon.port, twice)
    at_once = new_mail("stina@kund.example", "Stopp i diskhon", "Diskhon är stopp.")
    turn = iter(daemons)
    race(lambda: send(next(turn).port, at_once), racers=2)

    listed = daemons[0].cli("case", "list", "--json")
    assert listed.returncode == 0, listed.stderr.decode()
    rows = json.loads(listed.stdout)
    everyone = [*customers, "olle@kund.example", "stina@kund.example"]
    assert sorted(row["customer"] for row in rows) == sorted(everyone)
    # Six cases; a PostgreSQL sequence skips the numbers that duplicates rolled back.
    assert len({row["number"] for row in rows}) == 6
    numbers = {row["customer"]: row["number"] for row in rows}
    for customer in customers:
        assert f"[#{numbers[customer]}-" in str(acks[customer]["Subject"])
    inbound = inbound_signals(postgres_url)
    assert {customer: inbound[numbers[customer]] for customer in customers} == {
        customer: ["new", "token"] for customer in customers
    }
    assert inbound[numbers["olle@kund.example"]] == ["new"]
    assert inbound[numbers["stina@kund.example"]] == ["new"]
    shown = daemons[1].case(numbers[customers[0]])
    assert [m["thread_signal"] for m in shown["messages"] if m["direction"] == "in"] == [
        "new",
        "token",
    ]

    received = wait_until_delivered(postgres_url, sink)
    ids = [str(m["Message-ID"]) for m in received]
    assert len(ids) == len(set(ids))  # no mail went out twice
    for customer in everyone:
        to_them = [m for m in received if customer in str(m["To"])]
        assert len(to_them) == 1, customer  # one acknowledgement; replies get none
    for daemon in daemons:
        log = "".join(daemon.log)
        assert "quarantined" not in log
        assert "Traceback" not in log


def test_daemons_starting_together_create_the_schema_once_as_the_models_describe_it(
    postgres_url: str,  # noqa: F811
) -> None:
    start = threading.Barrier(RACERS)

    def open_engine() -> Engine:
        start.wait()
        return make_engine(postgres_url)

    with ThreadPoolExecutor(RACERS) as pool:
        engines = list(pool.map(lambda _: open_engine(), range(RACERS)))
    try:
        assert revision(engines[0]) == schema.HEAD
        assert differences(engines[0]) == []
    finally:
        for engine in engines:
            engine.dispose()


def test_a_database_from_before_revisions_is_stamped_not_created_again(
    postgres_url: str,  # noqa: F811
) -> None:
    create_as_before_revisions(postgres_url)
    engine = make_engine(postgres_url)
    try:
        assert revision(engine) == schema.HEAD
        assert differences(engine) == []
    finally:
        engine.dispose()
