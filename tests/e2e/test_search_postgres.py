"""Search on PostgreSQL: its full-text search (the `swedish` configuration) finds what the
embedded SQLite's FTS5 finds, and the schema revision indexes the mail there already is."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import text

from smartmail.app import App, open_app
from smartmail.store import schema
from smartmail.store.db import make_engine, transaction
from tests.conftest import MemoryTransport, settings_under
from tests.desk.test_search import assert_search_finds, numbers, open_cases
from tests.e2e.postgres import SUPERUSER, Postgres, postgres_server  # noqa: F401  (fixtures)
from tests.store.test_schema import differences

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_app(tmp_path: Path, rules_path: Path, postgres_server: Postgres) -> Iterator[App]:  # noqa: F811
    """An app on a database whose character type is UTF-8, as a Swedish office's is: with
    the C locale (the test server's default) PostgreSQL's text search does not take å, ä
    and ö for letters."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(
        host="127.0.0.1",
        port=postgres_server.port,
        user=SUPERUSER,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        connection.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'".encode()
        )
    url = postgres_server.url(name)
    app = open_app(
        settings_under(tmp_path, rules_path, SMARTMAIL_DATABASE_URL=url),
        transport=MemoryTransport(),
    )
    try:
        yield app
    finally:
        app.engine.dispose()


def test_search_finds_by_words_and_filters_on_postgresql(pg_app: App) -> None:
    assert_search_finds(pg_app)


def test_the_revision_indexes_the_mail_there_already_is_on_postgresql(pg_app: App) -> None:
    open_cases(pg_app)
    url = pg_app.engine.url.render_as_string(hide_password=False)
    with pg_app.engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "0004")
        tables = connection.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        ).scalars()
        assert "case_search" not in set(tables)
        command.upgrade(schema.alembic_config(connection), "head")
    pg_app.engine.dispose()
    pg_app.engine = make_engine(url)
    assert differences(pg_app.engine) == []
    assert numbers(pg_app, "fönstret") == [2]
    assert numbers(pg_app, "avlopp") == [4, 1]


def test_a_changed_message_is_found_by_its_new_words_on_postgresql(pg_app: App) -> None:
    open_cases(pg_app)
    with transaction(pg_app.engine) as session:
        session.execute(text("UPDATE message SET text = 'Bortredigerat.' WHERE case_id = 2"))
    assert numbers(pg_app, "fönstret") == []
    assert numbers(pg_app, "bortredigerat") == [2]
    assert numbers(pg_app, "kallt") == [2]  # its subject is still there
