"""Prepared statements on SQLite and on a real PostgreSQL server: they write and read what
SQLAlchemy would, and fail as SQLAlchemy would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from smartmail.store import prepared
from smartmail.store.db import insert_once, insert_row, load, make_engine, transaction
from smartmail.store.models import OPEN_STATUSES, Case, Message, Outbox, Party, RawMail
from tests.e2e.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

AT = datetime(2026, 11, 23, 9, 30, 15, 250000, tzinfo=timezone(timedelta(hours=1)))
BY_MESSAGE_ID = select(Message.id, Message.created_at, Message.automatic, Message.channel).where(
    Message.message_id == bindparam("message_id")
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'smartmail.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_row_goes_in_with_its_defaults_and_comes_back_as_the_orm_gives_it(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        first = insert_row(session, Message, {"message_id": "<a@x>", "direction": "in"} | at())
        second = insert_row(session, Message, {"message_id": "<b@x>", "direction": "out"} | at())
        found = prepared.rows(session, BY_MESSAGE_ID, message_id="<b@x>")
    assert second == first + 1
    # The left-out columns have their defaults; the time is UTC with its zone, as put in.
    assert found == [(second, AT.astimezone(UTC), False, "")]
    with transaction(engine) as session:
        stored = session.get(Message, second)
        assert stored is not None
        assert (stored.visibility, stored.created_at) == ("public", AT)


def at() -> dict[str, datetime]:
    return {"created_at": AT}


def test_a_query_sees_what_the_session_holds_pending_unless_autoflush_is_off(
    engine: Engine,
) -> None:
    open_cases = select(func.count()).where(col(Case.status).in_(OPEN_STATUSES))
    with transaction(engine) as session:
        session.add(Case(subject="stopp i avloppet", created_at=AT, updated_at=AT))
        with session.no_autoflush:
            assert prepared.first(session, open_cases) == 0
        assert prepared.first(session, open_cases) == 1  # an IN list written into the SQL


def test_a_duplicate_fails_as_sqlalchemy_fails_and_a_savepoint_takes_the_rows_back(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        insert_row(session, Message, {"message_id": "<a@x>", "direction": "in"} | at())
        with pytest.raises(IntegrityError):
            resend_in_a_savepoint(session)
        assert prepared.first(session, select(func.count()).select_from(Outbox)) == 0
        assert prepared.first(session, BY_MESSAGE_ID, message_id="<a@x>") is not None


def resend_in_a_savepoint(session: Session) -> None:
    with session.begin_nested():
        insert_row(session, Outbox, {"mail_from": "a@x", "rcpt_to": "b@x", "body": b"x"} | nx())
        insert_row(session, Message, {"message_id": "<a@x>", "direction": "in"} | at())


def nx() -> dict[str, datetime]:
    return {"created_at": AT, "next_attempt_at": AT}


def test_the_same_bytes_are_kept_once(engine: Engine) -> None:
    with transaction(engine) as session:
        for _ in range(2):
            insert_once(session, RawMail, sha256="ab12", data=b"mail", received_at=AT)
        kept = prepared.rows(session, select(RawMail.data, RawMail.received_at))
    assert kept == [(b"mail", AT.astimezone(UTC))]


def test_no_row_gives_none(engine: Engine) -> None:
    with transaction(engine) as session:
        assert prepared.first(session, BY_MESSAGE_ID, message_id="<nowhere@x>") is None
        assert prepared.rows(session, BY_MESSAGE_ID, message_id="<nowhere@x>") == []


def test_a_loaded_row_is_the_sessions_object_and_changes_as_one(engine: Engine) -> None:
    with transaction(engine) as session:
        eva = Party(email="eva@kund.example", name="Eva", created_at=AT)
        case = Case(subject="Stopp i avloppet", customer=eva, created_at=AT, updated_at=AT)
        session.add(case)
        session.flush()
        number, held = case.id, case
    with transaction(engine) as session:
        assert load(session, Case, id=12345) is None
        assert load(session, Party, email="nobody@x") is None
        case = load(session, Case, id=number)
        assert case is not None
        assert case is not held
        assert load(session, Case, id=number) is case  # the one the session holds
        assert (case.subject, case.created_at, case.due_at) == ("Stopp i avloppet", AT, None)
        customer = case.customer  # a relationship loads when first used
        assert customer is not None
        assert load(session, Party, email="eva@kund.example") is customer
        case.status = "resolved"
    with transaction(engine) as session:
        again = session.get(Case, number)
        assert again is not None
        assert again.status == "resolved"


def test_after_a_change_commits_another_writer_can_begin_at_once(tmp_path: Path) -> None:
    path = tmp_path / "smartmail.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with transaction(engine) as session:
            key = insert_row(
                session, Outbox, {"mail_from": "a@x", "rcpt_to": "b@x", "body": b"x"} | nx()
            )
        sent = update(Outbox).where(col(Outbox.id) == bindparam("row")).values(status="sent")
        with transaction(engine) as session:
            assert prepared.change(session, sent, row=key) == 1
            assert prepared.change(session, sent, row=key + 1) == 0
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # nothing of ours holds the write lock
            other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        engine.dispose()
