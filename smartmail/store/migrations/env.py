"""Alembic's entry: runs the revisions on the connection `smartmail.store.schema` hands it, or,
for writing a new revision, on the scratch database `SMARTMAIL_DATABASE_URL` names (the
README's "Upgrading" gives the two commands)."""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from smartmail.store import models, search  # models registers the tables


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:  # from smartmail.store.schema: its transaction, its lock
        _run_on(connection)
        return
    url = os.environ.get("SMARTMAIL_DATABASE_URL")
    if not url:
        raise SystemExit("set SMARTMAIL_DATABASE_URL to a scratch database")
    with create_engine(url).begin() as scratch:
        _run_on(scratch)


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite alters a table by copying it
        compare_type=True,
        render_item=_render_item,
        include_object=search.include_object,  # the search index is no model's
    )
    with context.begin_transaction():
        context.run_migrations()


def _render_item(kind: str, item: Any, _context: Any) -> str | Literal[False]:
    """A new revision names plain SQLAlchemy types, as the database stores them: it must
    not import the models, which change after it."""
    if kind == "type" and isinstance(item, AutoString):
        return "sa.String()"
    if kind == "type" and isinstance(item, models.UTCDateTime):
        return "sa.DateTime()"
    return False


run()
