"""The desk as the outside sees it, in-process: mail in over SMTP to the daemon's own
listener (BulkDataSMTP + MailHandler + group commit), mail out over SMTP to a sink that
keeps the bytes of the wire as well as the parsed mail."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from smartmail.app import App, open_app
from smartmail.clock.scheduler import sweep
from smartmail.inbound.group import GroupCommit
from smartmail.inbound.smtp import MailHandler, make_server_factory
from smartmail.outbound.sender import deliver_due
from smartmail.store.models import utcnow
from tests.conftest import Sink, free_port, serving, settings_under

DESK = "felanmalan@bostad.example"


@dataclass
class WireSink(Sink):
    """The sink, keeping each mail's bytes as they came over the wire too."""

    wire: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        with self.lock:
            self.wire.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return await super().handle_DATA(server, session, envelope)

    def raw_to(self, address: str) -> list[bytes]:
        with self.lock:
            return [data for rcpts, data in self.wire if address in rcpts]


class _Listener(Controller):
    def __init__(self, handler: MailHandler, port: int) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port)
        self.make = make_server_factory(
            handler, lmtp=False, hostname="bostad.example", max_size=1_000_000
        )

    def factory(self) -> SMTP:
        server: SMTP = self.make()
        return server


@dataclass
class Desk:
    app: App
    port: int
    sink: WireSink

    def send(self, raw: bytes, mail_from: str, to: str = DESK) -> None:
        """One mail to the listener, as a mail client hands it over; then our outbox out."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.sendmail(mail_from, [to], raw)
        self.deliver()

    def deliver(self, now: datetime | None = None) -> None:
        deliver_due(self.app.engine, self.app.transport, now or utcnow())

    def sweep(self, now: datetime) -> None:
        sweep(self.app, now)
        self.deliver(now)


@pytest.fixture
def wire_sink() -> Iterator[WireSink]:
    port = free_port()
    handler = WireSink(port)
    with serving(handler, port):
        yield handler


@pytest.fixture
def desk(tmp_path: Path, rules_path: Path, wire_sink: WireSink) -> Iterator[Desk]:
    settings = settings_under(
        tmp_path, rules_path, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{wire_sink.port}"
    )
    app = open_app(settings)
    executor = ThreadPoolExecutor(max_workers=1)
    handler = MailHandler(app.pipeline, GroupCommit(app.pipeline, executor))
    port = free_port()
    listener = _Listener(handler, port)
    listener.start()
    try:
        yield Desk(app, port, wire_sink)
    finally:
        listener.stop()
        executor.shutdown(wait=True)
        app.engine.dispose()


def read(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg
