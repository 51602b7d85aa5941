"""The database layer on the embedded SQLite: rows made cheaply, writers taking turns."""

from __future__ import annotations

import gc
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import SQLModel

from smartmail.errors import TemporaryFailure
from smartmail.store.db import load, make_engine, new_row, reading, transaction
from smartmail.store.models import Case, Message, Party


def test_a_database_another_process_holds_is_a_temporary_failure(tmp_path: Path) -> None:
    path = tmp_path / "smartmail.db"
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    engine.dispose()
    other = sqlite3.connect(path, isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")
    try:
        with (
            pytest.raises(TemporaryFailure, match="database unavailable"),
            transaction(engine) as session,
        ):
            session.execute(text("SELECT 1"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with transaction(engine) as session:  # and the engine works once the lock is gone
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_a_second_writer_waits_its_turn_instead_of_hitting_the_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'smartmail.db'}")

    # SQLite itself gives up at once: only the turn taken in the process can make B wait.
    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    engine.dispose()
    a_writes = threading.Event()
    a_may_commit = threading.Event()
    done: list[str] = []
    failed: list[BaseException] = []

    def writer_a() -> None:
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE turn (who TEXT)"))
            a_writes.set()
            a_may_commit.wait(10)
            session.execute(text("INSERT INTO turn VALUES ('a')"))
        done.append("a")

    def writer_b() -> None:
        try:
            with transaction(engine) as session:
                session.execute(text("INSERT INTO turn VALUES ('b')"))
            done.append("b")
        except BaseException as exc:
            failed.append(exc)

    first = threading.Thread(target=writer_a)
    first.start()
    assert a_writes.wait(10)
    second = threading.Thread(target=writer_b)
    second.start()
    second.join(0.2)  # B is waiting for A (a pause to let it try, not a deadline)
    assert done == []
    a_may_commit.set()
    first.join(10)
    second.join(10)
    assert failed == []
    assert done == ["a", "b"]
    with transaction(engine) as session:
        assert [row[0] for row in session.execute(text("SELECT who FROM turn"))] == ["a", "b"]
    engine.dispose()


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Message, {"message_id": "<1@kund.example>", "direction": "in", "subject": "Stopp"}),
        (Case, {"subject": "Stopp i avloppet", "status": "assigned", "assignee": "lisa@x"}),
        (Party, {"email": "kund@kund.example", "name": "Kund"}),
    ],
)
def test_a_new_row_is_what_the_model_itself_makes(model: type[SQLModel], values: Any) -> None:
    made, built = model(**values), new_row(model, **values)
    stamp = {"created_at"} | ({"updated_at"} if model is Case else set())
    keys = [key for key in model.model_fields if key not in stamp]
    assert [getattr(built, key) for key in keys] == [getattr(made, key) for key in keys]
    assert all(getattr(built, key) is not None for key in stamp)


def test_a_new_row_is_written_and_changed_as_any_other(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'smartmail.db'}")
    with transaction(engine) as session:
        party = new_row(Party, email="kund@kund.example")
        session.add(party)
    with transaction(engine) as session:
        found = load(session, Party, email="kund@kund.example")
        assert found is not None
        assert found.id == party.id
        found.name = "Kund"
    with transaction(engine) as session:
        again = session.get(Party, party.id)
        assert again is not None
        assert again.name == "Kund"
    engine.dispose()


ADD_PARTY = (
    "INSERT INTO party (email, name, created_at) VALUES ('{0}@example.org', '', '2026-12-04')"
)


def test_a_reading_session_leaves_the_write_lock_to_writers(tmp_path: Path) -> None:
    path = tmp_path / "smartmail.db"
    engine = make_engine(f"sqlite:///{path}")
    with transaction(engine) as session:
        session.execute(text(ADD_PARTY.format("a")))
    other = sqlite3.connect(path, isolation_level=None, timeout=0)  # never waits: fails
    try:
        with reading(engine) as session:
            assert session.execute(text("SELECT count(*) FROM party")).scalar() == 1
            other.execute("BEGIN IMMEDIATE")  # a writer gets the lock while the read is open
            other.execute(ADD_PARTY.format("b"))
            other.execute("COMMIT")
            # and the read goes on with the snapshot it began with
            assert session.execute(text("SELECT count(*) FROM party")).scalar() == 1
        with transaction(engine) as session:  # a writing transaction still takes the lock
            session.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
    with reading(engine) as session:
        assert session.execute(text("SELECT count(*) FROM party")).scalar() == 2


def test_an_unflushed_commit_skips_the_disk_flush_and_the_next_one_flushes_again(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'smartmail.db'}")
    engine.pool.dispose()
    full, normal = 2, 1  # PRAGMA synchronous's answers

    def synchronous(session: Any) -> int:
        return int(session.execute(text("PRAGMA synchronous")).scalar())

    with transaction(engine, flushed=False) as session:
        assert synchronous(session) == normal
        session.execute(text(ADD_PARTY.format("a")))
    with transaction(engine) as session:  # the same pooled connection, flushed again
        assert synchronous(session) == full
    with transaction(engine, flushed=False), reading(engine) as session:
        assert synchronous(session) == full  # what reads or writes next is never left unflushed
    with reading(engine) as session:
        assert session.execute(text("SELECT count(*) FROM party")).scalar() == 1


def test_the_engines_for_reading_and_unflushed_commits_are_made_once_and_go_with_it() -> None:
    engine = make_engine("sqlite://")
    binds = []
    for _ in range(2):
        with reading(engine) as session:
            binds.append(session.get_bind())
        with transaction(engine, flushed=False) as session:
            binds.append(session.get_bind())
    assert binds[0] is binds[2]
    assert binds[1] is binds[3]
    assert binds[0] is not binds[1]
    gone = weakref.ref(engine)
    del engine, binds, session
    gc.collect()
    assert gone() is None
