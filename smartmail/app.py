"""Everything a command needs, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from smartmail.config import Settings
from smartmail.mail.compose import Templates
from smartmail.outbound.sender import Transport, make_transport
from smartmail.pipeline.process import Pipeline
from smartmail.rules.book import RuleBook
from smartmail.store.db import make_engine


@dataclass
class App:
    settings: Settings
    engine: Engine
    rules: RuleBook
    pipeline: Pipeline
    transport: Transport


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
