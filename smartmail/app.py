"""Everything a command needs, built once from the settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from smartmail.config import Settings
from smartmail.desk import cases, notify, on_call
from smartmail.mail.compose import Templates
from smartmail.outbound.sender import DeliveryReport, Transport, deliver_due, make_transport
from smartmail.outbound.sms import SmsProvider, make_sms_provider
from smartmail.outbound.sms_sender import SmsReport, deliver_sms_due
from smartmail.pipeline.process import Pipeline
from smartmail.rules.book import RuleBook
from smartmail.store.db import make_engine
from smartmail.store.models import Case, Message, SmsOutbox


@dataclass
class App:
    settings: Settings
    engine: Engine
    rules: RuleBook
    pipeline: Pipeline
    transport: Transport
    sms: SmsProvider | None = None

    def deliver(self, now: datetime, limit: int = 200) -> DeliveryReport:
        """Send the outbox's due mail; the owner of a case hears of its mail failing for good."""
        return deliver_due(self.engine, self.transport, now, limit, tell=self._tell_failure)

    def deliver_sms(self, now: datetime, limit: int = 100) -> SmsReport:
        """Send the SMS outbox's due SMS, what is queued to one person as one SMS."""
        rules = self.rules()
        sms = self.sms or make_sms_provider(self.settings.sms, self.settings.data_dir / "sms")
        self.sms = sms
        per_hour = rules.on_call.sms_per_hour if rules.on_call else 6

        def collapse(session: Session, rows: Sequence[SmsOutbox]) -> str:
            return on_call.collapsed_text(session, rules, rows)

        return deliver_sms_due(self.engine, sms, now, collapse, per_hour, limit)

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
