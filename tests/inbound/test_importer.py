"""An import stopped half way and run again: what was stored stays, nothing is doubled."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from smartmail.app import App, open_app
from smartmail.inbound.importer import AHEAD, Counts, move_in
from smartmail.inbound.mailboxes import Found
from smartmail.store.db import transaction
from smartmail.store.models import Case, Event, Message, Outbox, SmsOutbox
from tests.conftest import MemoryTransport, settings_under
from tests.rules.on_call_rules import ON_CALL_RULES

NOW = datetime.now(UTC)


class Listed:
    """A mailbox of the given mails, dated a day apart; its `stop_at`th read is a Ctrl-C."""

    def __init__(self, mails: list[bytes], stop_at: int = 0) -> None:
        self.mails = mails
        self.stop_at = stop_at
        self.reads = 0

    def find(self) -> list[Found]:
        return [Found(i, NOW - timedelta(days=10 - i)) for i in range(len(self.mails))]

    def read(self, keys: Sequence[str | int]) -> Iterator[bytes]:
        self.reads += 1
        if self.reads == self.stop_at:
            raise KeyboardInterrupt
        for key in keys:
            yield self.mails[int(key)]

    def close(self) -> None:
        pass


def tenant_mail(number: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"hyresgast{number}@kund.example"
    msg["To"] = "felanmalan@bostad.example"
    msg["Subject"] = f"Stopp i avloppet i lägenhet {number}"
    msg["Message-ID"] = f"<{number}@kund.example>"
    msg.set_content("Det är stopp i avloppet.")
    return msg.as_bytes()


def totals(app: App) -> tuple[int, int, int]:
    with transaction(app.engine) as session:
        cases = session.exec(select(func.count()).select_from(Case)).one()
        out = session.exec(select(func.count()).where(Message.direction == "out")).one()
        queued = session.exec(select(func.count()).select_from(Outbox)).one()
    return cases, out, queued


def test_a_stopped_import_goes_on_where_it_stopped(app: App) -> None:
    mails = [tenant_mail(n) for n in range(8)]
    stopped = Counts()
    # The batches after the one being stored are read ahead: the first is stored when
    # the one after those is read.
    with pytest.raises(KeyboardInterrupt):
        move_in(app, Listed(mails, stop_at=AHEAD + 2), NOW, stopped, None, batch_size=2)
    assert (stopped.found, stopped.done, stopped.cases) == (8, 2, 2)
    assert totals(app) == (2, 0, 0)

    again = Counts()
    move_in(app, Listed(mails), NOW - timedelta(days=30), again, None, batch_size=2)
    assert (again.done, again.cases, again.duplicates) == (8, 6, 2)
    assert totals(app) == (8, 0, 0)  # no acknowledgement, no notice: nothing queued


class Dated(Listed):
    """The given mails, all dated at one moment."""

    def __init__(self, mails: list[bytes], at: datetime) -> None:
        super().__init__(mails)
        self.at = at

    def find(self) -> list[Found]:
        return [Found(i, self.at) for i in range(len(self.mails))]


def test_an_urgent_mail_moved_in_from_a_night_long_ago_pages_nobody(tmp_path: Path) -> None:
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(ON_CALL_RULES, encoding="utf-8")
    app = open_app(settings_under(tmp_path, rules_path), MemoryTransport())
    saturday_night = datetime(2026, 11, 28, 22, 40, tzinfo=ZoneInfo("Europe/Stockholm"))
    try:
        move_in(app, Dated([tenant_mail(1)], saturday_night.astimezone(UTC)), NOW, Counts(), None)
        with transaction(app.engine) as session:
            sms = session.exec(select(func.count()).select_from(SmsOutbox)).one()
            paged = session.exec(select(func.count()).where(Event.kind == "on_call")).one()
        assert (sms, paged) == (0, 0)
        assert totals(app) == (1, 0, 0)
    finally:
        app.engine.dispose()
