"""Warming the pipeline at start: the sample mails touch nothing of the real desk."""

from __future__ import annotations

import gc
import logging
import tempfile
import weakref
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from smartmail.app import App
from smartmail.pipeline.envelope import Envelope
from smartmail.pipeline.warm import CUSTOMER, freeze_what_lives, sample_mail, warm_up
from smartmail.store.db import reading
from smartmail.store.models import Case, Message, Outbox, Party, SmsOutbox

DESK = "felanmalan@bostad.example"


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def scratch_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("smartmail-warm-*"))


def count(app: App, model: type) -> int:
    with reading(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_warming_leaves_no_trace_and_the_first_case_is_number_one(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    before = files_under(app.settings.data_dir)
    dirs = scratch_dirs()
    with caplog.at_level(logging.DEBUG, logger="smartmail"):
        warm_up(app.pipeline)
    for model in (Case, Message, Outbox, Party, SmsOutbox):
        assert count(app, model) == 0, model.__name__
    assert files_under(app.settings.data_dir) == before
    assert scratch_dirs() == dirs
    assert not [r for r in caplog.records if r.levelno >= logging.INFO], "the sample is not news"
    outcome = app.pipeline.process(
        sample_mail(DESK, "Stopp i avloppet"), Envelope("smtp", CUSTOMER)
    )
    assert (outcome.kind, outcome.case_number) == ("new_case", 1)


def test_a_failing_warm_up_only_costs_speed(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(url: str) -> None:
        raise OSError("no room for a scratch database")

    monkeypatch.setattr("smartmail.pipeline.warm.make_engine", broken)
    warm_up(app.pipeline)  # does not raise
    outcome = app.pipeline.process(
        sample_mail(DESK, "Stopp i avloppet"), Envelope("smtp", CUSTOMER)
    )
    assert outcome.case_number == 1


def test_what_lives_after_warming_is_frozen_and_garbage_is_not_kept() -> None:
    class Node:
        pass

    cycle = Node()
    cycle.itself = cycle  # type: ignore[attr-defined]
    gone = weakref.ref(cycle)
    del cycle
    before = gc.get_freeze_count()
    freeze_what_lives()
    assert gone() is None  # collected, not frozen for good
    assert gc.get_freeze_count() >= before
