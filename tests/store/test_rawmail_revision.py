"""Revision 0011 on SQLite: raw mail's bytes become the table's last column, every row kept."""

from __future__ import annotations

import random
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

from smartmail.store import schema
from smartmail.store.db import make_engine
from tests.store.test_schema import differences, revision

# sha256, data, size, erased_at: a large mail, a small one, empty bytes, erased bytes
ROWS = [
    ("large", random.Random(1).randbytes(3 * 1024 * 1024 + 5), None, None),
    ("small", b"From: eva@kund.example\r\n\r\nHej\r\n", None, None),
    ("empty", b"", None, None),
    ("erased", b"", 2048, "2026-11-30 12:00:00.000000"),
]
RECEIVED = "2026-11-01 08:00:00.000000"
BYTES_LAST = ["sha256", "received_at", "size", "erased_at", "data"]


def columns(engine: Engine) -> list[str]:
    return [column["name"] for column in inspect(engine).get_columns("rawmail")]


def at_0010_with_raw_mail(url: str) -> None:
    """A database as smartmail left it at revision 0010, holding raw mail of every kind."""
    engine = make_engine(url)
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "0010")
        for sha, data, size, erased_at in ROWS:
            connection.execute(
                text(
                    "INSERT INTO rawmail (sha256, data, received_at, size, erased_at)"
                    " VALUES (:sha, :data, :at, :size, :erased_at)"
                ),
                {"sha": sha, "data": data, "at": RECEIVED, "size": size, "erased_at": erased_at},
            )
    engine.dispose()


def raw_rows(engine: Engine) -> set[tuple[object, ...]]:
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT sha256, data, received_at, size, erased_at FROM rawmail")
        )
        return {tuple(row) for row in found}


def expected_rows() -> set[tuple[object, ...]]:
    return {(sha, data, RECEIVED, size, erased_at) for sha, data, size, erased_at in ROWS}


def sqlite_checks(engine: Engine) -> tuple[list[object], list[object]]:
    with engine.connect() as connection:
        integrity = [row[0] for row in connection.execute(text("PRAGMA integrity_check"))]
        foreign = [tuple(row) for row in connection.execute(text("PRAGMA foreign_key_check"))]
    return integrity, foreign


def test_a_new_database_has_the_bytes_last_as_the_models_declare_them(tmp_path: Path) -> None:
    declared = create_engine(f"sqlite:///{tmp_path / 'declared.db'}")
    SQLModel.metadata.create_all(declared)
    created = make_engine(f"sqlite:///{tmp_path / 'smartmail.db'}")
    assert columns(declared) == columns(created) == BYTES_LAST


def test_the_upgrade_from_0010_keeps_every_raw_mail_byte_for_byte(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'smartmail.db'}"
    at_0010_with_raw_mail(url)
    old = create_engine(url)
    assert columns(old) == ["sha256", "data", "received_at", "size", "erased_at"]
    assert raw_rows(old) == expected_rows()
    old.dispose()

    engine = make_engine(url)  # as any command opening it: upgraded to HEAD
    assert revision(engine) == schema.HEAD
    assert columns(engine) == BYTES_LAST
    assert raw_rows(engine) == expected_rows()
    assert differences(engine) == []  # the primary key and the index on received_at too
    indexes = {
        index["name"]: index["column_names"] for index in inspect(engine).get_indexes("rawmail")
    }
    assert indexes == {"ix_rawmail_received_at": ["received_at"]}
    assert sqlite_checks(engine) == (["ok"], [])


def test_the_downgrade_to_0010_puts_the_bytes_back_and_keeps_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'smartmail.db'}"
    at_0010_with_raw_mail(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "0010")
    assert columns(engine) == ["sha256", "data", "received_at", "size", "erased_at"]
    assert raw_rows(engine) == expected_rows()
    assert sqlite_checks(engine) == (["ok"], [])
