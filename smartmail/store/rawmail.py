"""A mail's raw bytes kept once, in the transaction of all it caused, without copying them.

Bound as one value, SQLite's driver copies the bytes once and SQLite's row building once
more: a 20 MB mail cost 40 MB beyond its own bytes. A large mail's row is therefore made
with a zero-filled blob of its size (which SQLite does not hold in memory when the blob
is the row's last column, see revision 0011), and the bytes are written into it in
pieces. Small mail keeps the plain INSERT: the pieces cost a little more time and save
nothing worth it. PostgreSQL binds the bytes as one value (its driver sends them as they
are).
"""

from __future__ import annotations

import functools
import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal_column
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from smartmail.store import prepared
from smartmail.store.db import insert_once
from smartmail.store.models import RawMail

IN_PIECES_FROM = 256 * 1024  # bytes; below, the plain INSERT is faster and copies little
PIECE = 1024 * 1024  # bytes written into the blob at a time


def keep_raw(session: Session, sha256: str, raw: bytes, received_at: datetime) -> None:
    """Store the mail's bytes under their SHA-256, unless they are kept already."""
    connection = session.connection()
    if connection.dialect.name != "sqlite" or len(raw) < IN_PIECES_FROM:
        insert_once(session, RawMail, sha256=sha256, data=raw, received_at=received_at)
        return
    values = {"sha256": sha256, "received_at": received_at, "length": len(raw)}
    rowid = prepared.insert(session, _insert_zeroed(), values)
    if rowid is None:  # the same bytes are there already
        return
    driver = connection.connection.driver_connection
    try:
        _write_in_pieces(driver, rowid, raw)
    except sqlite3.Error as exc:
        # As SQLAlchemy raises it: a full disk is an OperationalError, a temporary failure.
        raise DBAPIError.instance(
            "write rawmail.data", None, exc, sqlite3.Error, dialect=connection.dialect
        ) from exc


@functools.cache
def _insert_zeroed() -> Any:
    return (
        sqlite.insert(RawMail)
        .values(data=func.zeroblob(bindparam("length")))
        .on_conflict_do_nothing()
        .returning(literal_column("rowid"))
    )


def _write_in_pieces(driver: Any, rowid: int, raw: bytes) -> None:
    view = memoryview(raw)
    with driver.blobopen(RawMail.__tablename__, "data", rowid) as blob:
        for start in range(0, len(view), PIECE):
            blob.write(view[start : start + PIECE])
