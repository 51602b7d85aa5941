"""`smartmail ingest` in-process: the pipeline in this process, when no daemon takes the mail.

Loads only what storing one mail needs (the settings, the store, the pipeline, the sender
for the outbox), not the daemon, the clock or the report's charts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from smartmail.app import App, open_app
from smartmail.config import load_settings, start_logging
from smartmail.errors import ConfigError, PermanentFailure, RulesError, TemporaryFailure
from smartmail.mail.parse import is_mail
from smartmail.pipeline.envelope import Envelope
from smartmail.store.models import utcnow

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75

log = logging.getLogger("smartmail")


def in_process(raw: bytes, sender: str | None, recipients: Sequence[str]) -> int:
    """Store the mail here; anything before it is stored says "try again" (75): an MTA
    bounces the mail on any other code."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"smartmail: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    start_logging(settings)
    try:
        app = open_app(settings)
    except RulesError as exc:
        print(f"smartmail: the rules are wrong:\n{exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except (ConfigError, TemporaryFailure, SQLAlchemyError, OSError) as exc:
        print(f"smartmail: cannot start: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        return store(app, raw, sender, recipients)
    finally:
        app.engine.dispose()


def store(app: App, raw: bytes, sender: str | None, recipients: Sequence[str]) -> int:
    """One mail through the pipeline; the exit code for the MTA."""
    if not is_mail(raw):
        print("smartmail ingest: empty mail, nothing to store", file=sys.stderr)
        return EX_DATAERR
    if len(raw) > app.settings.max_message_size:
        print(f"smartmail ingest: mail of {len(raw)} bytes is over the limit", file=sys.stderr)
        return EX_DATAERR
    envelope = Envelope("ingest", sender, tuple(recipients))
    try:
        outcome = app.pipeline.process(raw, envelope)
    except TemporaryFailure as exc:
        print(f"smartmail ingest: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except PermanentFailure as exc:
        print(f"smartmail ingest: {exc}", file=sys.stderr)
        return EX_DATAERR
    except Exception as exc:  # not stored, not even in quarantine: the MTA must try again
        log.exception("ingest could not store the mail")
        print(f"smartmail ingest: not stored, try again: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    number = f" case {outcome.case_number}" if outcome.case_number else ""
    print(f"{outcome.kind}{number} {outcome.message_id} {outcome.detail}".rstrip())
    deliver_now(app)
    return EX_OK


def deliver_now(app: App) -> None:
    """Send what is due; what cannot be sent stays queued for the daemon."""
    try:
        report = app.deliver(utcnow())
    except Exception as exc:  # the mail is stored by now: never fail the command for this
        log.warning("outbox not delivered now (the daemon will): %s", exc)
        return
    if report.retried or report.failed:
        log.warning("outbox: %s", report)
