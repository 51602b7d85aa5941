"""Deadline arithmetic: pure functions of datetimes, durations and a calendar.

Every datetime going in must be timezone-aware; every datetime coming out is in UTC.

Two clocks:

``always``
    Plain elapsed time: ``24h`` is 24 real hours, also over a daylight-saving change.

``business_hours``
    Only time inside the calendar's business hours counts, in the calendar's local wall
    time, skipping days without hours (weekends) and public holidays.  A start outside the
    hours begins at the next opening.  ``duration.days`` counts *working days* and the
    remainder counts business hours/minutes: one working day from a moment inside business
    hours is the same business moment on the next working day (Monday 10:00 + ``3d`` =
    Thursday 10:00 with 07-16 hours; Friday 10:00 + ``1d`` = Monday 10:00).  Precisely, one
    working day adds as much business time as that day's hours hold.  Each day's hours are
    turned into real instants with zoneinfo, so a daylight-saving night is counted right.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from smartmail.rules.model import Calendar, Clock, Priority

__all__ = [
    "add_duration",
    "business_time_between",
    "deadlines",
    "is_open",
    "subtract_duration",
]

# A calendar that stays closed this many days in a row is treated as never open.
_MAX_CLOSED_DAYS = 800

_Span = tuple[datetime, datetime, date]  # UTC start, UTC end, local date


def _utc(moment: datetime, name: str = "start") -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


def _day_spans(day: date, calendar: Calendar) -> list[tuple[datetime, datetime]]:
    """The business hours of one local date as UTC intervals (none on a holiday)."""
    ranges = calendar.business_hours.get(day.weekday(), ())
    if not ranges or calendar.is_holiday(day):
        return []
    zone = calendar.timezone
    return [
        (
            datetime.combine(day, start, zone).astimezone(UTC),
            datetime.combine(day, end, zone).astimezone(UTC),
        )
        for start, end in ranges
    ]


def _closed_too_long() -> ValueError:
    return ValueError(f"the calendar has no business hours in {_MAX_CLOSED_DAYS} days in a row")


def _spans_after(moment: datetime, calendar: Calendar) -> Iterator[_Span]:
    """Business time from ``moment`` on, as (start, end, local date), clipped to ``moment``."""
    day = moment.astimezone(calendar.timezone).date()
    closed = 0
    while closed < _MAX_CLOSED_DAYS:
        spans = [(max(a, moment), b, day) for a, b in _day_spans(day, calendar) if b > moment]
        closed = 0 if spans else closed + 1
        yield from spans
        day += timedelta(days=1)
    raise _closed_too_long()


def _spans_before(moment: datetime, calendar: Calendar) -> Iterator[_Span]:
    """Business time up to ``moment``, going backwards, clipped to ``moment``."""
    day = moment.astimezone(calendar.timezone).date()
    closed = 0
    while closed < _MAX_CLOSED_DAYS:
        spans = [(a, min(b, moment), day) for a, b in _day_spans(day, calendar) if a < moment]
        closed = 0 if spans else closed + 1
        yield from reversed(spans)
        day -= timedelta(days=1)
    raise _closed_too_long()


def _day_length(day: date, calendar: Calendar) -> timedelta:
    return sum((b - a for a, b in _day_spans(day, calendar)), timedelta(0))


def _forward(moment: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """``moment`` plus ``amount`` of business time (``amount`` taken as plain time)."""
    if amount <= timedelta(0):
        return moment
    for start, end, _ in _spans_after(moment, calendar):
        if amount <= end - start:
            return start + amount
        amount -= end - start
    raise AssertionError("unreachable: _spans_after never ends quietly")


def _backward(moment: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """``moment`` minus ``amount`` of business time."""
    if amount <= timedelta(0):
        return moment
    for start, end, _ in _spans_before(moment, calendar):
        if amount <= end - start:
            return end - amount
        amount -= end - start
    raise AssertionError("unreachable: _spans_before never ends quietly")


def _working_day_forward(moment: datetime, calendar: Calendar) -> datetime:
    start, _, day = next(_spans_after(moment, calendar))
    return _forward(start, _day_length(day, calendar), calendar)


def _working_day_backward(moment: datetime, calendar: Calendar) -> datetime:
    _, end, day = next(_spans_before(moment, calendar))
    return _backward(end, _day_length(day, calendar), calendar)


def _split(duration: timedelta) -> tuple[int, timedelta]:
    if duration < timedelta(0):
        raise ValueError(f"a duration must not be negative, got {duration!r}")
    return duration.days, duration - timedelta(days=duration.days)


def add_duration(
    start: datetime, duration: timedelta, clock: Clock, calendar: Calendar
) -> datetime:
    """``start`` plus ``duration`` on ``clock``, in UTC.

    With ``clock="business_hours"``, ``duration.days`` are working days and the rest is
    business time (see the module docstring); a start outside business hours begins at the
    next opening.  A zero duration returns ``start`` unchanged.
    """
    moment = _utc(start)
    days, rest = _split(duration)
    if clock == "always":
        return moment + duration
    if duration == timedelta(0):
        return moment
    for _ in range(days):
        moment = _working_day_forward(moment, calendar)
    if rest:
        moment = _forward(moment, rest, calendar)
    return moment


def add_business_time(start: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """``start`` plus ``amount`` of business time (no working-day reading of days)."""
    moment = _utc(start)
    return _forward(moment, amount, calendar) if amount > timedelta(0) else moment


def subtract_duration(
    end: datetime, duration: timedelta, clock: Clock, calendar: Calendar
) -> datetime:
    """``end`` minus ``duration`` on ``clock``, in UTC (e.g. when to remind before a deadline).

    The mirror of ``add_duration``: an end outside business hours counts back from the
    previous closing.
    """
    moment = _utc(end, "end")
    days, rest = _split(duration)
    if clock == "always":
        return moment - duration
    if duration == timedelta(0):
        return moment
    for _ in range(days):
        moment = _working_day_backward(moment, calendar)
    if rest:
        moment = _backward(moment, rest, calendar)
    return moment


def business_time_between(start: datetime, end: datetime, calendar: Calendar) -> timedelta:
    """Business time elapsed from ``start`` to ``end`` (zero if ``end`` is not later)."""
    first, last = _utc(start), _utc(end, "end")
    total = timedelta(0)
    if last <= first:
        return total
    for span_start, span_end, _ in _spans_after(first, calendar):
        if span_start >= last:
            break
        total += min(span_end, last) - span_start
    return total


def is_open(moment: datetime, calendar: Calendar) -> bool:
    """True if ``moment`` lies inside business hours (opening included, closing excluded)."""
    instant = _utc(moment, "moment")
    day = instant.astimezone(calendar.timezone).date()
    return any(a <= instant < b for a, b in _day_spans(day, calendar))


def deadlines(
    created_at: datetime, priority: Priority, calendar: Calendar
) -> tuple[datetime | None, datetime]:
    """(respond_due_at, resolve_due_at) of a case created at ``created_at``, in UTC.

    ``respond_due_at`` is None when the priority sets no ``respond_within``.
    """
    respond = None
    if priority.respond_within is not None:
        respond = add_duration(created_at, priority.respond_within, priority.clock, calendar)
    resolve = add_duration(created_at, priority.resolve_within, priority.clock, calendar)
    return respond, resolve
