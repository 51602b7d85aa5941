"""Tests for smartmail.desk.sla: deadlines in business hours, holidays and daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartmail.desk.sla import (
    add_duration,
    business_time_between,
    deadlines,
    is_open,
    subtract_duration,
)
from smartmail.rules.load import load_rules
from smartmail.rules.model import Calendar, Priority

STHLM = ZoneInfo("Europe/Stockholm")
OFFICE = ((time(7), time(16)),)


def calendar(
    hours: dict[int, tuple[tuple[time, time], ...]] | None = None,
    country: str | None = "SE",
    categories: tuple[str, ...] = ("public", "de_facto"),
    closed: frozenset[date] = frozenset(),
) -> Calendar:
    """Stockholm, Monday to Friday 07:00-16:00 unless told otherwise."""
    return Calendar(
        timezone=STHLM,
        business_hours=dict.fromkeys(range(5), OFFICE) if hours is None else hours,
        holidays=country,
        holiday_categories=categories,
        closed_days=closed,
    )


CAL = calendar()


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def business(start: datetime, duration: timedelta, cal: Calendar = CAL) -> datetime:
    result = add_duration(start, duration, "business_hours", cal)
    assert result.tzinfo is UTC
    return result


# --------------------------------------------------------------------------- business hours


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # inside hours, same day
        (local(2026, 11, 16, 8), hours(4), local(2026, 11, 16, 12)),
        # ends exactly at closing: stays at closing, not the next opening
        (local(2026, 11, 13, 12), hours(4), local(2026, 11, 13, 16)),
        # Friday afternoon + 4h lands on Monday
        (local(2026, 11, 13, 14), hours(4), local(2026, 11, 16, 9)),
        # start outside hours begins at the next opening
        (local(2026, 11, 17, 5, 30), hours(2), local(2026, 11, 17, 9)),
        (local(2026, 11, 17, 18), hours(1), local(2026, 11, 18, 8)),
        (local(2026, 11, 14, 12), timedelta(minutes=30), local(2026, 11, 16, 7, 30)),
        (local(2026, 11, 13, 16), hours(1), local(2026, 11, 16, 8)),
        # minutes
        (local(2026, 11, 16, 15, 50), timedelta(minutes=20), local(2026, 11, 17, 7, 10)),
    ],
)
def test_business_hours(start: datetime, duration: timedelta, due: datetime) -> None:
    assert business(start, duration) == due


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # 3 working days from Monday 10:00 is Thursday 10:00
        (local(2026, 11, 16, 10), timedelta(days=3), local(2026, 11, 19, 10)),
        # over a weekend
        (local(2026, 11, 20, 10), timedelta(days=1), local(2026, 11, 23, 10)),
        (local(2026, 11, 19, 10), timedelta(days=3), local(2026, 11, 24, 10)),
        # from outside hours: whole working days from the next opening
        (local(2026, 11, 14, 12), timedelta(days=1), local(2026, 11, 16, 16)),
        (local(2026, 11, 16, 6), timedelta(days=2), local(2026, 11, 17, 16)),
        # days and hours combined
        (local(2026, 11, 16, 10), timedelta(days=1, hours=4), local(2026, 11, 17, 14)),
        (local(2026, 11, 20, 14), timedelta(days=1, hours=3), local(2026, 11, 24, 8)),
    ],
)
def test_working_days(start: datetime, duration: timedelta, due: datetime) -> None:
    assert business(start, duration) == due


def test_midsommarafton_is_skipped() -> None:
    # Thursday 18 June 2026, the day before Midsommarafton (Friday 19 June)
    assert business(local(2026, 6, 18, 15), hours(4)) == local(2026, 6, 22, 10)
    assert business(local(2026, 6, 18, 10), timedelta(days=1)) == local(2026, 6, 22, 10)


def test_midsommarafton_counts_without_de_facto_holidays() -> None:
    public_only = calendar(categories=("public",))
    assert business(local(2026, 6, 18, 15), hours(4), public_only) == local(2026, 6, 19, 10)


def test_christmas_is_skipped() -> None:
    # Julafton (Thu 24), Juldagen (Fri 25) and Annandag jul (Sat 26) in 2026
    assert business(local(2026, 12, 23, 14), hours(4)) == local(2026, 12, 28, 9)
    # a case created on Juldagen starts counting at the next opening
    assert business(local(2026, 12, 25, 10), hours(4)) == local(2026, 12, 28, 11)


def test_trettondedag_jul_is_skipped() -> None:
    # Wednesday 6 January 2027 is Trettondedag jul
    assert business(local(2027, 1, 5, 15), timedelta(days=1)) == local(2027, 1, 7, 15)
    assert business(local(2027, 1, 5, 15), hours(2)) == local(2027, 1, 7, 8)


def test_easter_and_spring_dst() -> None:
    # Good Friday 26 March, clocks forward Sunday 28 March, Easter Monday 29 March 2027
    due = business(local(2027, 3, 25, 15), hours(2))
    assert due == local(2027, 3, 30, 8)
    assert due == datetime(2027, 3, 30, 6, tzinfo=UTC)  # CEST, UTC+2


def test_autumn_dst_weekend() -> None:
    # clocks go back on Sunday 25 October 2026: Friday is CEST (UTC+2), Monday CET (UTC+1)
    due = business(local(2026, 10, 23, 14), hours(4))
    assert due == local(2026, 10, 26, 9)
    assert due == datetime(2026, 10, 26, 8, tzinfo=UTC)
    one_day = business(local(2026, 10, 23, 10), timedelta(days=1))
    assert one_day.astimezone(STHLM).time() == time(10)
    assert one_day - local(2026, 10, 23, 10) == hours(73)


def test_business_hours_on_dst_night_count_real_time() -> None:
    night = calendar(hours={6: ((time(1), time(4)),)}, country=None)
    # Sunday 25 Oct 2026 01:00-04:00 local is four real hours (02:00-03:00 happens twice)
    start = local(2026, 10, 25, 1)
    assert business_time_between(start, local(2026, 10, 25, 5), night) == hours(4)
    assert business(start, hours(4), night) == datetime(2026, 10, 25, 3, tzinfo=UTC)


def test_lunch_break_and_closed_days() -> None:
    split = calendar(hours=dict.fromkeys(range(5), ((time(8), time(12)), (time(13), time(17)))))
    assert business(local(2026, 11, 16, 11), hours(2), split) == local(2026, 11, 16, 14)
    assert business(local(2026, 11, 16, 12, 30), hours(1), split) == local(2026, 11, 16, 14)
    closed = calendar(closed=frozenset({date(2026, 11, 17)}))
    assert business(local(2026, 11, 16, 15), hours(2), closed) == local(2026, 11, 18, 8)


def test_zero_duration_returns_start() -> None:
    saturday = local(2026, 11, 14, 12)
    assert business(saturday, timedelta(0)) == saturday


def test_input_in_any_timezone_output_in_utc() -> None:
    start = datetime(2026, 11, 16, 9, tzinfo=UTC)  # 10:00 in Stockholm
    due = business(start, hours(2))
    assert due == datetime(2026, 11, 16, 11, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_rejects_naive_and_negative() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_duration(datetime(2026, 11, 16, 10), hours(1), "business_hours", CAL)
    with pytest.raises(ValueError, match="negative"):
        add_duration(local(2026, 11, 16, 10), hours(-1), "always", CAL)


def test_never_open_calendar_raises() -> None:
    with pytest.raises(ValueError, match="no business hours"):
        business(local(2026, 11, 16, 10), hours(1), calendar(hours={}))


# --------------------------------------------------------------------------- always


def test_always_is_plain_elapsed_time() -> None:
    start = local(2026, 11, 14, 23)
    due = add_duration(start, hours(24), "always", CAL)
    assert due == local(2026, 11, 15, 23)
    assert due.tzinfo is UTC


def test_always_over_dst_change() -> None:
    # 24 real hours from Saturday noon CEST end at 11:00 CET on Sunday 25 October 2026
    due = add_duration(local(2026, 10, 24, 12), hours(24), "always", CAL)
    assert due == datetime(2026, 10, 25, 10, tzinfo=UTC)
    assert due.astimezone(STHLM).hour == 11
    assert add_duration(local(2026, 10, 24, 12), timedelta(days=1), "always", CAL) == due


# --------------------------------------------------------------------------- elapsed time


@pytest.mark.parametrize(
    ("start", "end", "elapsed"),
    [
        (local(2026, 11, 16, 8), local(2026, 11, 16, 10, 30), hours(2.5)),
        (local(2026, 11, 13, 14), local(2026, 11, 16, 9), hours(4)),
        (local(2026, 11, 14, 9), local(2026, 11, 15, 18), timedelta(0)),
        (local(2026, 11, 16, 20), local(2026, 11, 16, 8), timedelta(0)),
        (local(2026, 12, 23, 7), local(2026, 12, 28, 16), hours(18)),
        (local(2026, 10, 23, 7), local(2026, 10, 26, 16), hours(18)),
        (local(2026, 11, 16, 0), local(2026, 11, 23, 0), hours(45)),
    ],
)
def test_business_time_between(start: datetime, end: datetime, elapsed: timedelta) -> None:
    assert business_time_between(start, end, CAL) == elapsed


@pytest.mark.parametrize(
    "start",
    [local(2026, 11, 13, 14), local(2026, 12, 23, 9, 15), local(2026, 10, 23, 15, 59)],
)
@pytest.mark.parametrize("amount", [hours(1), hours(7.5), timedelta(minutes=1)])
def test_business_time_between_inverts_add(start: datetime, amount: timedelta) -> None:
    assert business_time_between(start, business(start, amount), CAL) == amount


# --------------------------------------------------------------------------- backwards


@pytest.mark.parametrize(
    ("end", "duration", "start"),
    [
        (local(2026, 11, 16, 9), hours(4), local(2026, 11, 13, 14)),
        (local(2026, 11, 19, 10), timedelta(days=3), local(2026, 11, 16, 10)),
        (local(2026, 11, 16, 6), hours(1), local(2026, 11, 13, 15)),
        (local(2026, 12, 28, 9), hours(4), local(2026, 12, 23, 14)),
    ],
)
def test_subtract_duration(end: datetime, duration: timedelta, start: datetime) -> None:
    assert subtract_duration(end, duration, "business_hours", CAL) == start


def test_subtract_always() -> None:
    due = local(2026, 11, 16, 9)
    assert subtract_duration(due, hours(4), "always", CAL) == local(2026, 11, 16, 5)


def test_is_open() -> None:
    assert is_open(local(2026, 11, 16, 7), CAL)
    assert not is_open(local(2026, 11, 16, 16), CAL)
    assert not is_open(local(2026, 11, 14, 10), CAL)
    assert not is_open(local(2027, 1, 6, 10), CAL)


# --------------------------------------------------------------------------- deadlines


def test_deadlines_with_shipped_priorities() -> None:
    rules = load_rules(Path(__file__).resolve().parents[2] / "rules.yaml")
    saturday = local(2026, 11, 14, 12)
    respond, resolve = deadlines(saturday, rules.priority("akut"), rules.calendar)
    assert (respond, resolve) == (local(2026, 11, 14, 13), local(2026, 11, 15, 12))

    friday = local(2026, 11, 13, 15)
    respond, resolve = deadlines(friday, rules.priority("normal"), rules.calendar)
    assert respond == local(2026, 11, 16, 10)
    assert resolve == local(2026, 11, 18, 15)

    respond, resolve = deadlines(friday, rules.priority("lag"), rules.calendar)
    assert respond is None
    assert resolve == local(2026, 11, 27, 15)


def test_deadlines_respect_priority_clock() -> None:
    priority = Priority("p", hours(1), timedelta(days=1), None, "business_hours", ())
    respond, resolve = deadlines(local(2026, 11, 13, 15, 30), priority, CAL)
    assert respond == local(2026, 11, 16, 7, 30)
    assert resolve == local(2026, 11, 16, 15, 30)
