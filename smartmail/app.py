"""Everything a command needs, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from smartmail.config import Settings
from smartmail.desk import cases, notify
from smartmail.mail.compose import Templates
from smartmail.outbound.sender import DeliveryReport, Transport, deliver_due, make_transport
from smartmail.pipeline.process import Pipeline
from smartmail.rules.book import RuleBook
from smartmail.store.db import make_engine
from smartmail.store.models import Case, Message


@dataclass
class App:
    settings: Settings
    engine: Engine
    rules: RuleBook
    pipeline: Pipeline
    transport: Transport

    def deliver(self, now: datetime, limit: int = 200) -> DeliveryReport:
        """Send the outbox's due mail; the owner of a case hears of its mail failing for good."""
        return deliver_due(self.engine, self.transport, now, limit, tell=self._tell_failure)

    def _tell_failure(
        self, session: Session, case: Case, failed: Message, error: str, now: datetime
    ) -> None:
        """A recipient refused the mail for good at our relay (5xx): as a bounce would say it,
        so automatic mail to that address is held back as after a bounce."""
        rules = self.rules()
        if rules.bounce_suppress_for > timedelta(0):
            until = now + rules.bounce_suppress_for
            for address in filter(None, failed.to_addrs.split(",")):
                cases.suppress(session, case, address, error, until, now)
        notify.delivery_failed(
            self.pipeline.notify_context(rules), session, case, failed, error, now
        )


def open_app(settings: Settings, transport: Transport | None = None) -> App:
    engine = make_engine(settings.database_url)
    rules = RuleBook(settings.rules_path, settings.data_dir, settings.address)
    pipeline = Pipeline(settings, engine, rules, Templates())
    return App(
        settings=settings,
        engine=engine,
        rules=rules,
        pipeline=pipeline,
        transport=transport or make_transport(settings.outbound, settings.sent_dir),
    )
