"""The SMS outbox on PostgreSQL: concurrent senders send each SMS once (rows locked while
the gateway answers)."""

from __future__ import annotations

import threading
from pathlib import Path

from smartmail.app import App, open_app
from tests.conftest import MemoryTransport, settings_under
from tests.e2e.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.outbound.sms_gateway import fake_gateway
from tests.outbound.test_sms_sender import LATER, queue_many, rows
from tests.rules.on_call_rules import ON_CALL_RULES


def test_exactly_once_under_concurrent_senders_on_postgresql(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(ON_CALL_RULES, encoding="utf-8")
    with fake_gateway() as gateway:
        settings = settings_under(
            tmp_path,
            path,
            SMARTMAIL_DATABASE_URL=postgres_url,
            SMARTMAIL_SMS=f"46elks+http://u:p@127.0.0.1:{gateway.port}",
        )
        apps = [open_app(settings, transport=MemoryTransport()) for _ in range(4)]
        try:
            queue_many(apps[0], numbers=8, each=3)
            start = threading.Barrier(len(apps))

            def send(app: App) -> None:
                start.wait()
                app.deliver_sms(LATER)

            threads = [threading.Thread(target=send, args=(app,)) for app in apps]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent_to = sorted(form["to"] for form in gateway.sent())
            assert sent_to == [f"+4670000{n:04d}" for n in range(8)]
            assert {row.status for row in rows(apps[0])} == {"sent"}
        finally:
            for app in apps:
                app.engine.dispose()
