"""Raw mail on PostgreSQL: a large mail through the listener read back byte for byte, a
rollback keeping none of it, and revision 0011 (a no-op there) keeping what there is."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from smartmail.app import App
from smartmail.store import schema
from smartmail.store.db import make_engine, transaction
from smartmail.store.models import RawMail
from smartmail.store.rawmail import PIECE, keep_raw
from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon, daemon_env, start_daemon
from tests.e2e.postgres import pg_app, postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.e2e.test_raw_mail import CUSTOMER, large_mail, send_raw, stored_raw
from tests.store.test_schema import revision

pytestmark = pytest.mark.e2e

AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def pg_daemon(
    tmp_path: Path,
    rules_path: Path,
    sink: Sink,
    postgres_url: str,  # noqa: F811
) -> Iterator[RunningDaemon]:
    env = daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_DATABASE_URL=postgres_url,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
    )
    running = start_daemon(env, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_a_large_mail_is_kept_byte_for_byte_on_postgresql(
    pg_daemon: RunningDaemon,
    sink: Sink,
    postgres_url: str,  # noqa: F811
) -> None:
    raw = large_mail(6 * 1024 * 1024)
    send_raw(pg_daemon.port, raw)
    sink.wait_to(CUSTOMER, 1)
    assert stored_raw(postgres_url, raw) == raw


def keep_then_fail(app: App, raw: bytes) -> None:
    with transaction(app.engine) as session:
        keep_raw(session, "mail", raw, AT)
        raise RuntimeError("the mail's case could not be stored")


def test_raw_mail_reads_back_and_a_rollback_keeps_none_on_postgresql(
    pg_app: App,  # noqa: F811
) -> None:
    large = random.Random(1).randbytes(3 * PIECE + 17)
    with pytest.raises(RuntimeError):
        keep_then_fail(pg_app, large)
    with transaction(pg_app.engine) as session:
        assert session.get(RawMail, "mail") is None
        keep_raw(session, "large", large, AT)
        keep_raw(session, "small", b"Hej\r\n", AT)
        keep_raw(session, "large", b"other bytes, same key: kept once", AT)
    with transaction(pg_app.engine) as session:
        found = session.execute(text("SELECT sha256, data FROM rawmail"))
        rows = {sha: data for sha, data in found}
    assert rows == {"large": large, "small": b"Hej\r\n"}


def test_revision_0011_keeps_raw_mail_as_it_is_on_postgresql(
    postgres_url: str,  # noqa: F811
) -> None:
    large = random.Random(2).randbytes(2 * PIECE)
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "0010")
        connection.execute(
            text("INSERT INTO rawmail (sha256, data, received_at) VALUES ('large', :data, :at)"),
            {"data": large, "at": datetime(2026, 11, 1)},
        )
        command.upgrade(schema.alembic_config(connection), "head")
    assert revision(engine) == schema.HEAD
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT data FROM rawmail WHERE sha256 = 'large'"))
        assert kept.scalar() == large
    engine.dispose()
