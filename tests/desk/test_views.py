"""`case list` and `case show` as text: times local to the rules' zone, the zone marked."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from smartmail.desk.views import case_line, case_text

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def data(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "number": 1,
        "subject": "Stopp",
        "status": "assigned",
        "base_status": "open",
        "priority": "akut",
        "category": "Skador",
        "group": "Avlopp",
        "assignee": "kalle@bostad.example",
        "customer": "eva@kund.example",
        "created_at": "2026-07-01T08:30:00+00:00",
        "due_at": "2026-11-23T09:00:00+00:00",
        "route_reason": "words avlopp",
        "messages": [],
        "events": [
            {
                "at": "2026-07-01T08:30:00+00:00",
                "actor": "kalle@bostad.example",
                "kind": "due",
                "detail": {"old": "2026-07-02 08:30:00+00:00", "new": "2026-11-23 09:00:00+00:00"},
            }
        ],
    }
    return {**base, **changes}


def test_a_line_shows_the_deadline_in_local_time() -> None:
    assert "due 2026-11-23 10:00 CET " in case_line(data(), STOCKHOLM)
    assert "due -" in case_line(data(due_at=None), STOCKHOLM)


def test_show_marks_summer_and_winter_time_and_leaves_no_utc() -> None:
    text = case_text(data(), STOCKHOLM)
    assert "created    2026-07-01 10:30 CEST" in text
    assert "due 2026-11-23 10:00 CET" in text
    assert "old=2026-07-02 10:30 CEST, new=2026-11-23 10:00 CET" in text
    assert "+00:00" not in text


def test_another_zone_is_another_reading() -> None:
    assert "2026-11-23 09:00 UTC" in case_line(data(), ZoneInfo("UTC"))
