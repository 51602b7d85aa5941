"""`case list --json` reads many cases' customers and totals in a few queries, with the
same result as one case at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from smartmail.app import App
from smartmail.desk import views
from smartmail.store.db import transaction
from smartmail.store.models import TimeEntry
from tests.clock.test_scheduler import report

MONDAY_9 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_summaries_of_many_are_those_of_each(app: App) -> None:
    numbers = [report(app, f"Ärende {i}", "Det droppar.", MONDAY_9) for i in range(3)]
    with transaction(app.engine) as session:
        session.add(TimeEntry(case_id=numbers[1], actor="kalle@bostad.example", minutes=30))
        session.add(TimeEntry(case_id=numbers[1], actor="kalle@bostad.example", amount=12.5))
    with transaction(app.engine) as session:
        found = views.list_cases(session, True)
        one_by_one = [views.case_summary(session, c) for c in found]
        together = list(views.case_summaries(session, found))
    assert together == one_by_one
    with transaction(app.engine) as session:
        assert views.listed_summaries(session, True) == one_by_one  # read as rows
        owner = one_by_one[0]["assignee"]
        mine = [row for row in one_by_one if row["assignee"] == owner]
        assert views.listed_summaries(session, True, owner.upper()) == mine
    assert together[1]["time_minutes"] == 30
    assert together[1]["material_total"] == 12.5


def test_the_list_of_one_owner(app: App) -> None:
    report(app, "Stopp i avloppet", "Stopp.", MONDAY_9)
    with transaction(app.engine) as session:
        (case,) = views.list_cases(session, True)
        owner = case.assignee
        assert owner
        assert views.list_cases(session, True, owner.upper()) == [case]
        assert views.list_cases(session, True, "nobody@bostad.example") == []


def test_the_list_as_json_is_one_case_a_line() -> None:
    rows = [{"number": 1, "subject": "Stopp i avloppet"}, {"number": 2, "subject": "Dörr"}]
    text = views.json_lines(rows)
    assert json.loads(text) == rows
    assert text.count("\n") == 3
    assert json.loads(views.json_lines([])) == []
