"""rules.yaml, `calendar`: time zone, opening hours per weekday, holidays and closed days."""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from smartmail.rules.model import _DEFAULT_HOURS, DEFAULT_HOLIDAY_CATEGORIES, Calendar
from smartmail.rules.yaml_lines import Checker, did_you_mean, join_path

_DAY_NAMES = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("mån", "tis", "ons", "tor", "fre", "lör", "sön"))},
}
_CLOSED = ("closed", "stängt")
_RANGE_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _day_span(text: str) -> list[int] | None:
    """``mon-fri`` -> [0..4]; ``sat`` -> [5]; ``fri-mon`` wraps over the weekend."""
    first, dash, last = (part.strip().lower() for part in text.partition("-"))
    if first not in _DAY_NAMES or (dash and last not in _DAY_NAMES):
        return None
    start = _DAY_NAMES[first]
    end = _DAY_NAMES[last] if dash else start
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _parse_days(key: str) -> list[int] | None:
    """``mon-fri``, ``sat``, ``mon-wed, fri`` -> weekday numbers; None if unreadable."""
    days: list[int] = []
    for part in key.split(","):
        span = _day_span(part)
        if span is None:
            return None
        days.extend(span)
    return days


def _parse_range(text: str) -> tuple[time, time] | None:
    found = _RANGE_RE.fullmatch(text.strip())
    if found is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if max(h1, h2) > 23 or max(m1, m2) > 59:
        return None
    start, end = time(h1, m1), time(h2, m2)
    return (start, end) if start < end else None


class CalendarReader:
    def __init__(self, check: Checker) -> None:
        self.check = check

    def read(self, value: Any) -> Calendar:
        path = "calendar"
        optional = ("timezone", "business_hours", "holidays", "holiday_categories", "closed_days")
        data = self.check.mapping({} if value is None else value, path, optional=optional) or {}
        zone = self._timezone(data.get("timezone", "Europe/Stockholm"))
        hours = self._hours(data.get("business_hours"))
        country = self._country(data.get("holidays", "SE"))
        categories = self._categories(country, data.get("holiday_categories"))
        closed = self._closed_days(data.get("closed_days"))
        return Calendar(zone, hours, country, categories, closed)

    def _timezone(self, value: Any) -> ZoneInfo:
        name = self.check.text(value, "calendar.timezone")
        if name is not None:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self.check.error("calendar.timezone", f'unknown time zone "{name}"')
        return ZoneInfo("UTC")

    def _hours(self, value: Any) -> dict[int, tuple[tuple[time, time], ...]]:
        path = "calendar.business_hours"
        if value is None:
            return dict.fromkeys(range(5), _DEFAULT_HOURS)
        data = self.check.free_mapping(value, path)
        hours: dict[int, tuple[tuple[time, time], ...]] = {}
        for key, ranges in (data or {}).items():
            days = _parse_days(key)
            if days is None:
                self.check.error(join_path(path, key), f'bad days "{key}": use e.g. mon-fri, sat')
                continue
            parsed = self._ranges(ranges, join_path(path, key))
            hours.update(dict.fromkeys(days, parsed))  # a later key overrides an earlier one
        if data is not None and not any(hours.values()):
            self.check.error(path, "no open hours on any day")
        return {day: ranges for day, ranges in sorted(hours.items()) if ranges}

    def _ranges(self, value: Any, path: str) -> tuple[tuple[time, time], ...]:
        if isinstance(value, str) and value.strip().lower() in _CLOSED:
            return ()
        texts = self.check.texts(value, path)
        ranges: list[tuple[time, time]] = []
        for text in texts:
            parsed = _parse_range(text)
            if parsed is None:
                self.check.error(path, f'bad time range "{text}": write e.g. "07:00-16:00"')
            else:
                ranges.append(parsed)
        ranges.sort()
        if any(a[1] > b[0] for a, b in itertools.pairwise(ranges)):
            self.check.error(path, "time ranges overlap")
        return tuple(ranges)

    def _country(self, value: Any) -> str | None:
        if value is None:
            return None
        code = self.check.text(value, "calendar.holidays")
        if code is None:
            return None
        # Asked of the one country: listing them all loads every country's module (a tenth
        # of a second at each start); the list is made only to name a near miss.
        try:
            holidays.country_holidays(code.upper())
        except NotImplementedError:
            hint = did_you_mean(code.upper(), holidays.list_supported_countries())
            self.check.error("calendar.holidays", f'unknown holidays country "{code}"{hint}')
            return None
        return code.upper()

    def _categories(self, country: str | None, value: Any) -> tuple[str, ...]:
        if country is None:
            return ("public",)
        supported = tuple(holidays.country_holidays(country).supported_categories)
        if value is None:
            return tuple(c for c in DEFAULT_HOLIDAY_CATEGORIES if c in supported)
        path = "calendar.holiday_categories"
        texts = self.check.texts(value, path)
        chosen = [self.check.choice(c, path, supported, "holiday category") for c in texts]
        valid = tuple(c for c in chosen if c is not None)
        return valid or ("public",)

    def _closed_days(self, value: Any) -> frozenset[date]:
        path = "calendar.closed_days"
        days: set[date] = set()
        for i, item in enumerate(self.check.items(value, path)):
            if isinstance(item, date):
                days.add(item)
            else:
                self.check.error(f"{path}[{i}]", f"should be a date like 2026-12-23, not {item!r}")
        return frozenset(days)
