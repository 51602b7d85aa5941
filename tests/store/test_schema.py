"""Schema revisions: a new database, an old one from before revisions, and the models agree."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

from smartmail.store import schema, search
from smartmail.store.db import make_engine, transaction
from smartmail.store.models import Party


def differences(engine: Engine) -> list[Any]:
    """What the database lacks or has beyond the models; [] when they agree. The search
    index (an FTS5 table, a generated column) is left out by name: the models do not
    describe it, and `index_is_there` checks it."""
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_object": search.include_object}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, SQLModel.metadata))


def create_as_before_revisions(url: str) -> None:
    """A database as smartmail made it before it kept revisions: the baseline's tables
    (revision 0001) and no record of a revision."""
    old = create_engine(url)
    with old.begin() as connection:
        command.upgrade(schema.alembic_config(connection), schema.BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))
    old.dispose()


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return schema.revision_of(connection)


def test_head_names_the_newest_revision_there_is() -> None:
    scripts = ScriptDirectory.from_config(schema.alembic_config(None))
    assert scripts.get_current_head() == schema.HEAD
    assert scripts.get_base() == schema.BASELINE


def test_a_new_database_is_created_at_the_newest_revision_as_the_models_describe_it(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'smartmail.db'}")
    assert revision(engine) == schema.HEAD
    assert differences(engine) == []


def test_a_database_from_before_revisions_is_stamped_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'smartmail.db'}"
    create_as_before_revisions(url)
    old = create_engine(url)
    with old.begin() as connection:
        connection.execute(
            text("INSERT INTO party (email, name, created_at) VALUES (:e, :n, :at)"),
            {"e": "eva@kund.example", "n": "Eva", "at": datetime(2026, 11, 1)},
        )
    old.dispose()

    engine = make_engine(url)
    assert revision(engine) == schema.HEAD
    assert differences(engine) == []
    with transaction(engine) as session:
        party = session.get(Party, 1)
        assert party is not None
        assert party.email == "eva@kund.example"
        assert party.created_at == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_database_at_the_newest_revision_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'smartmail.db'}"
    make_engine(url).dispose()

    def must_not_run(_connection: Any) -> None:
        raise AssertionError("upgraded a database that is at the newest revision")

    monkeypatch.setattr(schema, "_upgrade", must_not_run)
    make_engine(url).dispose()


def test_every_revision_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'smartmail.db'}")
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "base")
    tables = set(inspect(engine).get_table_names())
    assert tables <= {"alembic_version"}
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "head")
    assert revision(engine) == schema.HEAD
    assert differences(engine) == []


def _open_when_all_are_ready(url: str, ready: Any) -> None:
    ready.wait()
    make_engine(url).dispose()


def test_commands_opening_a_new_database_at_once_create_it_once(tmp_path: Path) -> None:
    # As when an MTA pipes the first mails of a new install to `smartmail ingest` at once.
    url = f"sqlite:///{tmp_path / 'smartmail.db'}"
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(3)
    starts = [context.Process(target=_open_when_all_are_ready, args=(url, ready)) for _ in range(3)]
    for start in starts:
        start.start()
    for start in starts:
        start.join(60)
    assert [start.exitcode for start in starts] == [0, 0, 0]
    engine = make_engine(url)
    assert revision(engine) == schema.HEAD
    assert differences(engine) == []
