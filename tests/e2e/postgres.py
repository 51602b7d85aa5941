"""A private PostgreSQL server on a free loopback port, for tests of the shared engine.

It is started once per test session from its own data dir under /tmp (`initdb -A trust`,
listening on 127.0.0.1 only, its unix socket inside that dir), and each test gets a database
of its own. Nothing in /etc and no packaged cluster is touched. PostgreSQL refuses to run as
root, so as root the server runs as Debian's `postgres` user (else `nobody`).

Tests use the `postgres_url` fixture (or `pg_app`, an app on it); a test module imports the
fixtures it uses from here.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from smartmail.app import App, open_app
from tests.conftest import MemoryTransport, free_port, settings_under

NOT_INSTALLED = "PostgreSQL server not installed: apt-get install postgresql"
SUPERUSER = "postgres"
PROGRAMS = ("initdb", "pg_ctl", "postgres")
# Fast and small: a test server need not survive a power cut.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=32MB"
)


def find_server() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres that work: PATH first, then Debian's."""
    candidates: list[Path] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
        candidates.append(Path(found).parent)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    for directory in dict.fromkeys(candidates):
        if all(os.access(directory / name, os.X_OK) for name in PROGRAMS) and _runs(directory):
            return directory
    return None


def _runs(directory: Path) -> bool:
    try:
        result = subprocess.run(
            [str(directory / "postgres"), "--version"], capture_output=True, timeout=10
        )
    except OSError:
        return False
    return result.returncode == 0


def _server_user() -> pwd.struct_passwd | None:
    """Whom to run the server as: None for ourselves, else an unprivileged user (as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a `postgres` nor a `nobody` user exists")


@dataclass
class Postgres:
    bin: Path
    dir: Path
    port: int
    user: pwd.struct_passwd | None

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a server program as the server's user, in its dir; raise with its output."""
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]], **self._as_user(), timeout=timeout
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise AssertionError(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log}"
            )
        return result

    def _as_user(self) -> dict[str, Any]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "HOME": str(self.dir),
        }
        options: dict[str, Any] = {
            "cwd": self.dir,
            "env": env,
            "capture_output": True,
            "text": True,
            "stdin": subprocess.DEVNULL,
        }
        if self.user is not None:
            options.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        return options

    def init(self) -> None:
        self.run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.dir} {SERVER_OPTIONS}"
        )
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def _start_on_a_free_port(server: Postgres, tries: int = 3) -> None:
    """Start; should another process take the free port first, try another."""
    for attempt in range(tries):
        try:
            server.start()
            return
        except AssertionError:
            if attempt == tries - 1:
                raise
            server.stop()
            server.port = free_port()


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A started server for the duration of the block; skips the test when none is installed."""
    directory = find_server()
    if directory is None:
        pytest.skip(NOT_INSTALLED)
    user = _server_user()
    # Directly under /tmp (world-traversable), owned by the server's user: data dir, socket, log.
    path = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    server = Postgres(directory, path, free_port(), user)
    try:
        server.init()
        _start_on_a_free_port(server)
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One private PostgreSQL server for the whole test session."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> str:
    """A fresh database on the session's server, as a `postgresql+psycopg://` URL."""
    return postgres_server.create_database()


@pytest.fixture
def pg_app(tmp_path: Path, rules_path: Path, postgres_url: str) -> Iterator[App]:
    """An app on a fresh PostgreSQL database, its mail kept in memory."""
    settings = settings_under(tmp_path, rules_path, SMARTMAIL_DATABASE_URL=postgres_url)
    app = open_app(settings, transport=MemoryTransport())
    assert app.engine.dialect.name == "postgresql"
    try:
        yield app
    finally:
        app.engine.dispose()
