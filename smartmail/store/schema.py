"""The database schema: brought to the newest revision (Alembic) whenever smartmail opens it.

A database already at the newest revision costs one query; Alembic is loaded only when
there is something to do. A database made before smartmail kept revisions holds the
first revision's tables and is stamped with it, then upgraded like any other.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from smartmail.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# The newest revision in smartmail/store/migrations/versions; tests/store/test_schema.py
# keeps the two in step, so that a new revision cannot be forgotten here.
HEAD = "0011"
BASELINE = "0001"  # what a database made before revisions were kept already holds
SCRIPTS = "smartmail.store:migrations"

# Two daemons starting at once on one PostgreSQL database: one migrates, the other waits.
# SQLite needs no such lock: the transaction below starts with BEGIN IMMEDIATE.
_ADVISORY_LOCK = 0x736D6D6C  # "smml"


def migrate(engine: Engine) -> None:
    """Bring the database to HEAD: create it when empty, upgrade it when older."""
    with engine.connect() as connection:
        current = revision_of(connection)
    if current == HEAD:
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        _upgrade(connection)


def revision_of(connection: Connection) -> str | None:
    """The revision the database is at; None when it keeps none (empty, or made before)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(connection: Connection | None) -> Config:
    """Alembic's settings for the revisions, run on `connection` (see migrations/env.py)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    # Alembic is imported here: most starts find nothing to do and never need it.
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(connection)
    current = revision_of(connection)  # again: another process may have migrated meanwhile
    if current == HEAD:
        return
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if current is not None and current not in known:
        raise ConfigError(
            f"the database is at schema revision {current}, newer than this smartmail knows"
            f" (its newest is {HEAD}): run the version that upgraded it, or restore the backup"
            " made before that upgrade"
        )
    if current is None and inspect(connection).has_table("case"):
        command.stamp(config, BASELINE)
        current = BASELINE
    command.upgrade(config, "head")
    if current is None:
        log.info("created the database at schema revision %s", HEAD)
    else:
        log.info("upgraded the database from schema revision %s to %s", current, HEAD)
