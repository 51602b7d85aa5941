"""A mail's raw bytes kept once: read back as they came, gone with a rollback, not copied."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from smartmail.store.db import make_engine, savepoint, transaction
from smartmail.store.models import RawMail
from smartmail.store.rawmail import IN_PIECES_FROM, PIECE, keep_raw

AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'smartmail.db'}")


def noise(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def kept(engine: Engine) -> dict[str, bytes]:
    with transaction(engine) as session:
        return {row.sha256: row.data for row in session.exec(select(RawMail)).all()}


@pytest.mark.parametrize(
    "size",
    [0, 1, IN_PIECES_FROM - 1, IN_PIECES_FROM, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 17],
)
def test_the_bytes_read_back_are_the_bytes_kept(engine: Engine, size: int) -> None:
    raw = noise(size, seed=size)
    with transaction(engine) as session:
        keep_raw(session, "mail", raw, AT)
    assert kept(engine) == {"mail": raw}
    with transaction(engine) as session:
        row = session.get(RawMail, "mail")
        assert row is not None
        assert (row.received_at, row.size, row.erased_at) == (AT, None, None)


def test_the_same_bytes_again_are_kept_once(engine: Engine) -> None:
    large = noise(2 * IN_PIECES_FROM)
    with transaction(engine) as session:
        keep_raw(session, "large", large, AT)
        keep_raw(session, "small", b"From: eva\r\n\r\nHej\r\n", AT)
    with transaction(engine) as session:  # a resend: the row there stays as it is
        keep_raw(session, "large", large, datetime(2026, 12, 5, tzinfo=UTC))
        keep_raw(session, "small", b"From: eva\r\n\r\nHej\r\n", AT)
        keep_raw(session, "small", large, AT)  # a small row is not written over either
    assert kept(engine) == {"large": large, "small": b"From: eva\r\n\r\nHej\r\n"}
    with transaction(engine) as session:
        row = session.get(RawMail, "large")
        assert row is not None
        assert row.received_at == AT


def keep_then_fail(engine: Engine, sha: str, raw: bytes) -> None:
    with transaction(engine) as session:
        keep_raw(session, sha, raw, AT)
        raise RuntimeError("the mail's case could not be stored")


@pytest.mark.parametrize("size", [100, 3 * PIECE])
def test_a_rollback_leaves_no_row(engine: Engine, size: int) -> None:
    with pytest.raises(RuntimeError):
        keep_then_fail(engine, "mail", noise(size))
    assert kept(engine) == {}


def keep_in_a_failing_savepoint(session: Session, sha: str, raw: bytes) -> None:
    with savepoint(session):
        keep_raw(session, sha, raw, AT)
        raise RuntimeError("this mail failed")


def test_a_savepoints_rollback_leaves_no_row_and_the_rest_is_kept(engine: Engine) -> None:
    other = noise(2 * PIECE, seed=1)
    with transaction(engine) as session:
        keep_raw(session, "other", other, AT)
        with pytest.raises(RuntimeError):
            keep_in_a_failing_savepoint(session, "failed", noise(3 * PIECE, seed=2))
    assert kept(engine) == {"other": other}


_MEASURE = """
import random, sys
from datetime import UTC, datetime
from smartmail.store.db import make_engine, transaction
from smartmail.store.rawmail import keep_raw

def field(name):
    for line in open("/proc/self/status"):
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024

engine = make_engine("sqlite:///" + sys.argv[1])
raw = random.Random(0).randbytes(int(sys.argv[2]))
with transaction(engine) as session:  # the first transaction's one-off costs
    keep_raw(session, "warm", raw[:4 * 1024 * 1024], datetime.now(UTC))
with open("/proc/self/clear_refs", "w") as reset:
    reset.write("5")  # the peak (VmHWM) starts again from now
before = field("VmRSS")
with transaction(engine) as session:
    keep_raw(session, "mail", raw, datetime.now(UTC))
print(field("VmHWM") - before)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")
def test_a_large_mail_is_kept_without_a_copy_of_it_in_memory(tmp_path: Path) -> None:
    # The bytes bound as one value cost two copies of them (the driver's, SQLite's row):
    # 32 MB here. In pieces, what grows is SQLite's page cache and a piece or two.
    size = 16 * 1024 * 1024
    database = tmp_path / "smartmail.db"
    make_engine(f"sqlite:///{database}").dispose()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(database), str(size)],
        capture_output=True,
        text=True,
        check=True,
    )
    grown = int(done.stdout)
    assert grown < size // 4, f"keeping {size} bytes took {grown} bytes more memory"
