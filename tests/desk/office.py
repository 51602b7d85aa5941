"""An office on disk for privacy tests: the `smartmail` command in-process, mail by
`smartmail ingest` at chosen times, our mail to the SMTP sink, the database read by SQL.
On SQLite, or on PostgreSQL (tests/e2e/postgres.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import create_engine, text

from smartmail.cli import main
from tests.conftest import Sink
from tests.e2e.mailing import new_mail, reply

EVA = "eva@kund.example"
OLLE = "olle@grannar.example"
KALLE = "kalle@bostad.example"
ROR = "jobb@rorab.example"
PDF = b"%PDF-1.4 kvitto fran Bauhaus\n"


@dataclass
class Office:
    data: Path
    url: str
    sink: Sink
    capsys: pytest.CaptureFixture[str]
    files: list[Path] = field(default_factory=list)

    def run(self, *args: str, at: datetime | None = None) -> tuple[int, str]:
        """`smartmail ARGS` (as of `at`); its exit code and what it printed."""
        self.capsys.readouterr()
        if at is None:
            code = main(list(args))
        else:
            with time_machine.travel(at, tick=True):
                code = main(list(args))
        return code, self.capsys.readouterr().out

    def json(self, *args: str) -> Any:
        code, out = self.run(*args, "--json")
        assert code == 0, out
        return json.loads(out)

    def ingest(self, msg: EmailMessage, at: datetime) -> str:
        path = self.data.parent / f"mail-{len(self.files)}.eml"
        path.write_bytes(bytes(msg))
        self.files.append(path)
        code, out = self.run("ingest", str(path), at=at)
        assert code == 0, out
        return out

    def sweep(self, at: datetime) -> str:
        code, out = self.run("sweep", "--now", at.isoformat())
        assert code == 0, out
        return out

    def rows(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                return [tuple(r) for r in connection.execute(text(query), params)]
        finally:
            engine.dispose()

    def last_to(self, address: str, subject: str = "") -> EmailMessage:
        return self.sink.wait_to(address, 1, subject=subject)[-1]

    def report(self, sender: str, subject: str, body: str, at: datetime, **headers: str) -> int:
        """A new mail from `sender`; the number of the case it opened."""
        out = self.ingest(new_mail(sender, subject, body, **headers), at)
        return int(out.split()[2])

    def answer(self, to: EmailMessage, sender: str, body: str, at: datetime) -> str:
        return self.ingest(reply(to, sender, body), at)

    def all_bytes(self) -> bytes:
        """Every byte under the data dir."""
        return b"".join(p.read_bytes() for p in sorted(self.data.rglob("*")) if p.is_file())

    def dump(self) -> str:
        """Every row of every table, as text (PostgreSQL keeps its files elsewhere)."""
        listing = (
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            if self.url.startswith("sqlite")
            else "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        tables = [r[0] for r in self.rows(listing)]
        return "\n".join(
            repr(row) for table in tables for row in self.rows(f'SELECT * FROM "{table}"')
        )


def with_attachment(msg: EmailMessage, payload: bytes = PDF) -> EmailMessage:
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename="kvitto.pdf")
    return msg


@pytest.fixture(name="office", params=["sqlite", "postgresql"])
def office_fixture(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    rules_path: Path,
    sink: Sink,
    capsys: pytest.CaptureFixture[str],
) -> Office:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'smartmail.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("SMARTMAIL_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(data))
    monkeypatch.setenv("SMARTMAIL_RULES", str(rules_path))
    monkeypatch.setenv("SMARTMAIL_SECRET", "privacy-secret")
    monkeypatch.setenv("SMARTMAIL_OUTBOUND", f"smtp://127.0.0.1:{sink.port}")
    return Office(data, url, sink, capsys)
