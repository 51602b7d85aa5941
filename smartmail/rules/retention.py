"""What the rules' `privacy:` section says: how long what is kept, masking, a contact.

```yaml
privacy:
  retention: {closed_cases: 24mo, raw_mail: 90d, attachments: 12mo, quarantine: 30d,
              access_log: 24mo}
  mask_stored: false
  contact: dataskydd@bostad.example
```

A retention period is counted in calendar months (`24mo`, `2y`) or days (`90d`, `12w`).
Pure: the period gives the moment before which something is past its time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

__all__ = ["Period", "Privacy", "Retention", "parse_period"]

_PERIOD_RE = re.compile(r"\s*(\d{1,4})\s*(mo|y|w|d)\s*", re.IGNORECASE)
_MONTHS_PER = {"mo": 1, "y": 12}
_DAYS_PER = {"d": 1, "w": 7}


@dataclass(frozen=True)
class Period:
    """A retention period: whole calendar months, or days."""

    months: int = 0
    days: int = 0

    def before(self, now: datetime) -> datetime:
        """The moment `now` less this period: what is older is past its time."""
        if self.days:
            return now - timedelta(days=self.days)
        month = now.month - 1 - self.months
        year, month = now.year + month // 12, month % 12 + 1
        day = min(now.day, _last_day(year, month))
        return now.replace(year=year, month=month, day=day)

    def __str__(self) -> str:
        return f"{self.months}mo" if self.months else f"{self.days}d"


def _last_day(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def parse_period(text: str) -> Period:
    """`24mo`, `2y`, `90d`, `12w` -> Period; ValueError otherwise."""
    found = _PERIOD_RE.fullmatch(text)
    if found is None or int(found[1]) == 0:
        raise ValueError(f"bad period {text!r}: write e.g. 24mo, 2y, 90d or 12w")
    number, unit = int(found[1]), found[2].lower()
    if unit in _MONTHS_PER:
        return Period(months=number * _MONTHS_PER[unit])
    return Period(days=number * _DAYS_PER[unit])


@dataclass(frozen=True)
class Retention:
    """How long each kind of record is kept (the defaults when the rules say nothing)."""

    closed_cases: Period = Period(months=24)  # after the case was closed
    raw_mail: Period = Period(days=90)  # the bytes as received
    attachments: Period = Period(months=12)  # the files, after their mail came
    quarantine: Period = Period(days=30)  # mail whose processing failed
    access_log: Period = Period(months=24)


@dataclass(frozen=True)
class Privacy:
    retention: Retention = field(default_factory=Retention)
    mask_stored: bool = False  # mask personal numbers before a mail's text is stored
    contact: str = ""  # where a person asks about their data; named in the acknowledgement
