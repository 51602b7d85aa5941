"""Who is on call at a moment, and whether a new case of a priority pages them. Pure.

The rotation hands over at local midnight every `every` from `start`; an override gives one
whole local day to someone else. The on-call hours are `always`, or `outside_business_hours`:
evenings, nights, weekends, holidays and closed days (the calendar's).
"""

from __future__ import annotations

from datetime import datetime

from smartmail.rules.model import Calendar, OnCall, Person, Priority, Rules

__all__ = [
    "covers",
    "explain_on_call",
    "in_business_hours",
    "next_on_call",
    "on_call_at",
    "pages",
    "staff_with_phone",
]


def in_business_hours(calendar: Calendar, now: datetime) -> bool:
    """True within the opening hours of a working day (holidays and closed days are not)."""
    local = now.astimezone(calendar.timezone)
    if calendar.is_holiday(local.date()):
        return False
    spans = calendar.business_hours.get(local.weekday(), ())
    return any(start <= local.time() < end for start, end in spans)


def covers(rules: Rules, now: datetime) -> bool:
    """Whether the on-call hours hold at `now`; never without `on_call:` in the rules."""
    if rules.on_call is None:
        return False
    return rules.on_call.hours == "always" or not in_business_hours(rules.calendar, now)


def _turn(on_call: OnCall, rules: Rules, now: datetime) -> int:
    """Which turn of the rotation `now` falls in (negative before `start`)."""
    local_day = now.astimezone(rules.calendar.timezone).date()
    days = (local_day - on_call.start).days
    return days // max(on_call.every.days, 1)


def on_call_at(rules: Rules, now: datetime) -> str | None:
    """The person on call at `now` (the day's override, else the rotation), hours aside."""
    on_call = rules.on_call
    if on_call is None:
        return None
    local_day = now.astimezone(rules.calendar.timezone).date()
    if local_day in on_call.overrides:
        return on_call.overrides[local_day]
    if not on_call.people:
        return None
    return on_call.people[_turn(on_call, rules, now) % len(on_call.people)]


def next_on_call(rules: Rules, now: datetime) -> str | None:
    """The person after the one on call at `now` in the rotation: the first to escalate to."""
    on_call = rules.on_call
    current = on_call_at(rules, now)
    if on_call is None or not on_call.people:
        return None
    start = on_call.people.index(current) if current in on_call.people else -1
    for step in range(1, len(on_call.people) + 1):
        candidate = on_call.people[(start + step) % len(on_call.people)]
        if candidate != current:
            return candidate
    return None


def pages(rules: Rules, priority: Priority, now: datetime) -> str | None:
    """Whom a new case of `priority` at `now` goes to on call, by SMS; None: the usual way."""
    if not priority.on_call or "sms" not in priority.notify or not covers(rules, now):
        return None
    return on_call_at(rules, now)


def explain_on_call(rules: Rules, now: datetime) -> list[str]:
    """Lines for `rules check --now` and `rules explain`: who is on call, and whether now."""
    if rules.on_call is None:
        return ["on call:     nobody (no on_call: in the rules)"]
    person = on_call_at(rules, now)
    found = rules.person(person) if person else None
    who = f"{person} ({found.phone or 'no phone'})" if found else "nobody"
    when = "on duty now" if covers(rules, now) else "off duty now (business hours)"
    lines = [f"on call:     {who}, {when}"]
    following = next_on_call(rules, now)
    if following:
        lines.append(f"then:        {following}, if nobody takes a case")
    return lines


def staff_with_phone(rules: Rules, number: str) -> Person | None:
    """The staff member or manager whose phone is `number` (E.164): who may answer an SMS."""
    for person in rules.people:
        if number and person.phone == number and person.role in ("staff", "manager"):
            return person
    return None
