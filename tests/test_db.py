"""Transactions on the embedded SQLite: writers of one process take turns in the process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from smartmail.db import make_engine, transaction


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
