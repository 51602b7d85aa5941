"""Once per key: a scheduled mail (a reminder, an escalation, a digest) claims a unique
Notice key in the same transaction as its outbox row, so it goes out once, across restarts
and when two sweeps run at the same moment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from smartmail.app import App
from smartmail.store.db import transaction
from smartmail.store.models import Notice


class AlreadyDone(Exception):
    """Another sweep (or an earlier one) sent this notice."""


@contextmanager
def once(app: App, key: str, case_id: int | None = None) -> Iterator[Session]:
    """A transaction that commits only if nobody claimed `key` before."""
    try:
        with transaction(app.engine) as session:
            if session.exec(select(Notice.id).where(Notice.key == key)).first() is not None:
                raise AlreadyDone(key)
            session.add(Notice(key=key, case_id=case_id))
            session.flush()  # the unique key is claimed here; a racing sweep fails here
            yield session
    except IntegrityError as exc:
        raise AlreadyDone(key) from exc
