"""Helpdesk figures for a period: the weekly report to managers and `smartmail stats`.

Definitions. The period is [since, until). Figures are read from the cases as they are now,
so a case resolved, reopened and resolved again counts in the period of its last resolution.

- cases in: cases created in the period.
- cases closed: cases whose resolution moment (resolved_at, else closed_at) lies in the
  period; this includes cases merged into another case.
- open now, late now: cases in an open status as of `now`; late means due_at before `now`.
- first response time: first_response_at - created_at, for the cases created in the period
  that have had a first response.
- resolution time: resolution moment - created_at, for the cases closed in the period.
- resolved within deadline: of the cases closed in the period that have a deadline (due_at),
  the share whose resolution moment was no later than due_at.
- reopen rate: of the cases closed in the period, the share that had been reopened at least
  once (reopen_count > 0) before that resolution. A case reopened and still open is counted
  when it is resolved again.
- Merged cases were not resolved on their own: they count as closed but are left out of
  resolution time, resolved within deadline and reopen rate.
- Times are wall-clock hours (nights, weekends and a paused clock included), not business
  hours, rounded to 0.1 h. Median is `statistics.median`; the 90th percentile is
  `statistics.quantiles(n=10, method="inclusive")[-1]`, and a single value is its own
  percentile. A time or share with no cases behind it is None. Shares are 0..1, rounded to
  three decimals.
- per category: per category and group. Open per owner: by assignee ("unassigned" for
  none), most open first. Top categories: the five categories with most cases in.
"""

from __future__ import annotations

import dataclasses
import html
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from smartmail.clock import chart
from smartmail.mail import compose
from smartmail.store.models import OPEN_STATUSES, Case

UNASSIGNED = "unassigned"
TOP_CATEGORIES = 5
TEMPLATE = "weekly_report"
_ONE_TICK = timedelta(microseconds=1)

Key = tuple[str, str]  # (category, group)


@dataclass(frozen=True)
class CategoryFigures:
    category: str
    group: str
    cases_in: int
    cases_closed: int
    open_now: int
    resolution_median_h: float | None


@dataclass(frozen=True)
class OwnerLoad:
    owner: str  # an email, or "unassigned"
    open: int
    late: int


@dataclass(frozen=True)
class Figures:
    since: datetime
    until: datetime
    cases_in: int
    cases_closed: int
    open_now: int
    late_now: int
    first_response_median_h: float | None
    first_response_p90_h: float | None
    resolution_median_h: float | None
    resolution_p90_h: float | None
    resolved_within_deadline: float | None
    reopen_rate: float | None
    per_category: list[CategoryFigures]
    open_per_owner: list[OwnerLoad]
    top_categories: list[tuple[str, int]]
    # cases in per channel: how the customers reached us (mail, web, phone, visit, letter)
    per_channel: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class _Resolved:
    key: Key
    hours: float
    in_time: bool | None  # None: no deadline
    reopened: bool


# --------------------------------------------------------------------------- computing


def compute(session: Session, since: datetime, until: datetime, now: datetime) -> Figures:
    """The figures of [since, until), with open cases as of `now`."""
    arrived = _count_by_key(session, _within(col(Case.created_at), since, until))
    closed = _count_by_key(session, _within(_closed_moment(), since, until))
    open_now = _count_by_key(session, col(Case.status).in_(OPEN_STATUSES))
    resolved = _resolved(session, since, until)
    first = _first_response_hours(session, since, until)
    owners = _owner_load(session, now)
    hours = [r.hours for r in resolved]
    return Figures(
        since=since,
        until=until,
        cases_in=sum(arrived.values()),
        cases_closed=sum(closed.values()),
        open_now=sum(open_now.values()),
        late_now=sum(o.late for o in owners),
        first_response_median_h=_median(first),
        first_response_p90_h=_p90(first),
        resolution_median_h=_median(hours),
        resolution_p90_h=_p90(hours),
        resolved_within_deadline=_share(r.in_time for r in resolved if r.in_time is not None),
        reopen_rate=_share(r.reopened for r in resolved),
        per_category=_per_category(arrived, closed, open_now, resolved),
        open_per_owner=owners,
        top_categories=_top_categories(arrived),
        per_channel=_per_channel(session, since, until),
    )


CHANNELS = ("mail", "web", "phone", "visit", "letter")


def _per_channel(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    """Cases in per channel, every channel named (0 when none came that way)."""
    channel = col(Case.channel)
    statement = (
        select(channel, func.count())
        .where(_within(col(Case.created_at), since, until))
        .group_by(channel)
    )
    counts = dict.fromkeys(CHANNELS, 0)
    counts.update({name: n for name, n in session.exec(statement)})
    return counts


def _within(
    moment: ColumnElement[datetime] | Mapped[datetime], since: datetime, until: datetime
) -> ColumnElement[bool]:
    return and_(moment >= since, moment < until)


def _closed_moment() -> ColumnElement[datetime]:
    return func.coalesce(col(Case.resolved_at), col(Case.closed_at))


def _count_by_key(session: Session, condition: ColumnElement[bool]) -> dict[Key, int]:
    category, group = col(Case.category), col(Case.group)
    statement = select(category, group, func.count()).where(condition).group_by(category, group)
    return {(c, g): n for c, g, n in session.exec(statement)}


def _resolved(session: Session, since: datetime, until: datetime) -> list[_Resolved]:
    closed = _closed_moment()
    statement = select(Case).where(_within(closed, since, until), col(Case.merged_into).is_(None))
    found = []
    for case in session.exec(statement):
        at = case.resolved_at or case.closed_at
        assert at is not None
        found.append(
            _Resolved(
                key=(case.category, case.group),
                hours=_hours(case.created_at, at),
                in_time=None if case.due_at is None else at <= case.due_at,
                reopened=case.reopen_count > 0,
            )
        )
    return found


def _first_response_hours(session: Session, since: datetime, until: datetime) -> list[float]:
    answered = col(Case.first_response_at)
    statement = select(col(Case.created_at), answered).where(
        _within(col(Case.created_at), since, until), answered.is_not(None)
    )
    return [_hours(created, at) for created, at in session.exec(statement) if at is not None]


def _owner_load(session: Session, now: datetime) -> list[OwnerLoad]:
    assignee = col(Case.assignee)
    late = func.sum(sql_case((col(Case.due_at) < now, 1), else_=0))
    statement = (
        select(assignee, func.count(), late)
        .where(col(Case.status).in_(OPEN_STATUSES))
        .group_by(assignee)
    )
    loads = [
        OwnerLoad(owner or UNASSIGNED, n, int(k or 0)) for owner, n, k in session.exec(statement)
    ]
    return sorted(loads, key=lambda o: (-o.open, -o.late, o.owner))


def _per_category(
    arrived: dict[Key, int],
    closed: dict[Key, int],
    open_now: dict[Key, int],
    resolved: list[_Resolved],
) -> list[CategoryFigures]:
    hours: dict[Key, list[float]] = {}
    for r in resolved:
        hours.setdefault(r.key, []).append(r.hours)
    return [
        CategoryFigures(
            category=key[0],
            group=key[1],
            cases_in=arrived.get(key, 0),
            cases_closed=closed.get(key, 0),
            open_now=open_now.get(key, 0),
            resolution_median_h=_median(hours.get(key, [])),
        )
        for key in sorted(arrived.keys() | closed.keys() | open_now.keys())
    ]


def _top_categories(arrived: dict[Key, int]) -> list[tuple[str, int]]:
    per_category: Counter[str] = Counter()
    for (category, _group), count in arrived.items():
        per_category[category] += count
    ranked = sorted(per_category.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:TOP_CATEGORIES]


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p90(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return round(values[0], 1) if values else None
    return round(statistics.quantiles(values, n=10, method="inclusive")[-1], 1)


def _share(flags: Iterable[bool]) -> float | None:
    seen = list(flags)
    return round(sum(seen) / len(seen), 3) if seen else None


def as_dict(figures: Figures) -> dict[str, Any]:
    """The figures as one JSON-ready object (datetimes as ISO strings)."""
    data = dataclasses.asdict(figures)
    data["since"], data["until"] = figures.since.isoformat(), figures.until.isoformat()
    data["top_categories"] = [list(pair) for pair in figures.top_categories]
    return data


# --------------------------------------------------------------------------- presenting

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Helpdesk figures",
        "cases_in": "Cases in",
        "cases_closed": "Cases closed",
        "open_now": "Open now",
        "late_now": "Late now",
        "first_response_median_h": "First response, median",
        "first_response_p90_h": "First response, 90th percentile",
        "resolution_median_h": "Resolution time, median",
        "resolution_p90_h": "Resolution time, 90th percentile",
        "resolved_within_deadline": "Resolved within deadline",
        "reopen_rate": "Reopened",
        "category": "Category / group",
        "in": "in",
        "closed": "closed",
        "open": "open",
        "median": "median",
        "owner": "Open cases per owner",
        "late": "late",
        "unassigned": "unassigned",
        "top": "Most common categories",
        "none": "(none)",
        "per_category": "Cases per category",
        "per_owner": "Open per owner",
        "chart": "Chart: cases in and closed per category, open cases per owner",
        "per_channel": "Cases in per channel",
        **{f"channel_{c}": c for c in ("mail", "web", "phone", "visit", "letter")},
    },
    "sv": {
        "title": "Nyckeltal",
        "cases_in": "Nya ärenden",
        "cases_closed": "Avslutade ärenden",
        "open_now": "Öppna nu",
        "late_now": "Försenade nu",
        "first_response_median_h": "Första svar, median",
        "first_response_p90_h": "Första svar, 90:e percentilen",
        "resolution_median_h": "Lösningstid, median",
        "resolution_p90_h": "Lösningstid, 90:e percentilen",
        "resolved_within_deadline": "Lösta inom tidsgränsen",
        "reopen_rate": "Återöppnade",
        "category": "Kategori / grupp",
        "in": "nya",
        "closed": "avslutade",
        "open": "öppna",
        "median": "median",
        "owner": "Öppna ärenden per handläggare",
        "late": "försenade",
        "unassigned": "ej tilldelade",
        "top": "Vanligaste kategorierna",
        "none": "(inga)",
        "per_category": "Ärenden per kategori",
        "per_owner": "Öppna per handläggare",
        "chart": "Diagram: nya och avslutade ärenden per kategori, öppna per handläggare",
        "per_channel": "Nya ärenden per kanal",
        "channel_mail": "mejl",
        "channel_web": "webb",
        "channel_phone": "telefon",
        "channel_visit": "besök",
        "channel_letter": "brev",
    },
}
_COUNTS = ("cases_in", "cases_closed", "open_now", "late_now")
_HOURS = (
    "first_response_median_h",
    "first_response_p90_h",
    "resolution_median_h",
    "resolution_p90_h",
)
_SHARES = ("resolved_within_deadline", "reopen_rate")
NO_VALUE = "-"

Rows = list[list[str]]


def _words(language: str) -> dict[str, str]:
    return _WORDS.get(language, _WORDS[compose.FALLBACK_LANGUAGE])


def _decimal(value: float, language: str) -> str:
    text = f"{value:.1f}"
    return text.replace(".", ",") if language == "sv" else text


def _fmt_hours(value: float | None, language: str) -> str:
    return NO_VALUE if value is None else f"{_decimal(value, language)} h"


def _fmt_share(value: float | None, language: str) -> str:
    return NO_VALUE if value is None else f"{_decimal(value * 100, language)} %"


def _period(figures: Figures, timezone: ZoneInfo) -> str:
    since, until = figures.since.astimezone(timezone), figures.until.astimezone(timezone)
    return f"{since:%Y-%m-%d %H:%M} - {until:%Y-%m-%d %H:%M} ({timezone.key})"


def _summary_rows(figures: Figures, language: str) -> Rows:
    words = _words(language)
    rows = [[words[name], str(getattr(figures, name))] for name in _COUNTS]
    rows += [[words[name], _fmt_hours(getattr(figures, name), language)] for name in _HOURS]
    rows += [[words[name], _fmt_share(getattr(figures, name), language)] for name in _SHARES]
    return rows


def _category_table(figures: Figures, language: str) -> Rows:
    w = _words(language)
    header = [w["category"], w["in"], w["closed"], w["open"], w["median"]]
    return [header] + [
        [
            f"{c.category} / {c.group}" if c.group else c.category or NO_VALUE,
            str(c.cases_in),
            str(c.cases_closed),
            str(c.open_now),
            _fmt_hours(c.resolution_median_h, language),
        ]
        for c in figures.per_category
    ]


def _owner_table(figures: Figures, language: str) -> Rows:
    w = _words(language)
    return [[w["owner"], w["open"], w["late"]]] + [
        [w["unassigned"] if o.owner == UNASSIGNED else o.owner, str(o.open), str(o.late)]
        for o in figures.open_per_owner
    ]


def _channel_table(figures: Figures, language: str) -> Rows:
    w = _words(language)
    return [[w["per_channel"], w["in"]]] + [
        [w.get(f"channel_{name}", name), str(n)] for name, n in figures.per_channel.items()
    ]


def _top_table(figures: Figures, language: str) -> Rows:
    w = _words(language)
    return [[w["top"], w["in"]]] + [
        [category or NO_VALUE, str(n)] for category, n in figures.top_categories
    ]


def _text_table(rows: Rows, none: str) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    return "\n".join(lines if len(rows) > 1 or not none else [*lines, f"  {none}"])


def as_text(figures: Figures, language: str, timezone: ZoneInfo) -> str:
    """The figures as plain-text tables, labels in `language` (sv or en), times in `timezone`."""
    w = _words(language)
    sections = [
        f"{w['title']} {_period(figures, timezone)}",
        _text_table(_summary_rows(figures, language), ""),
        _text_table(_channel_table(figures, language), w["none"]),
        _text_table(_category_table(figures, language), w["none"]),
        _text_table(_owner_table(figures, language), w["none"]),
        _text_table(_top_table(figures, language), w["none"]),
    ]
    return "\n\n".join(sections) + "\n"


def _html_table(rows: Rows, header: bool) -> str:
    cell = 'style="padding:2px 8px;text-align:{}"'
    out = []
    for number, row in enumerate(rows):
        tag = "th" if header and number == 0 else "td"
        cells = "".join(
            f"<{tag} {cell.format('left' if i == 0 else 'right')}>{html.escape(text)}</{tag}>"
            for i, text in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    return '<table style="border-collapse:collapse">' + "".join(out) + "</table>"


def _image_html(cid: str, alt: str) -> str:
    return (
        f'<p><img src="cid:{html.escape(cid)}" alt="{html.escape(alt)}"'
        f' width="{chart.WIDTH_PX}" height="{chart.HEIGHT_PX}"></p>'
    )


def as_html(figures: Figures, language: str, timezone: ZoneInfo, chart_cid: str | None) -> str:
    """The figures as a small HTML page showing the chart inline from `cid:<chart_cid>` (no
    chart when None)."""
    w = _words(language)
    image = "" if chart_cid is None else _image_html(chart_cid, w["chart"])
    parts = [
        f"<h2>{html.escape(w['title'])} {html.escape(_period(figures, timezone))}</h2>",
        _html_table(_summary_rows(figures, language), header=False),
        image,
        _html_table(_channel_table(figures, language), header=True),
        "<br>",
        _html_table(_category_table(figures, language), header=True),
        "<br>",
        _html_table(_owner_table(figures, language), header=True),
        "<br>",
        _html_table(_top_table(figures, language), header=True),
    ]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f'</head>\n<body style="font-family:sans-serif">\n{body}\n</body></html>\n'
    )


def chart_png(figures: Figures, language: str = compose.FALLBACK_LANGUAGE) -> bytes | None:
    """A PNG: cases in and closed per category, and open (and late) cases per owner, drawn
    in a child process (None when it could not be drawn)."""
    return chart.draw_elsewhere([chart_of(figures, language)])[0]


def chart_of(figures: Figures, language: str = compose.FALLBACK_LANGUAGE) -> chart.Chart:
    """What the chart shows: cases in and closed per category, open (and late) per owner."""
    w = _words(language)
    per_category: dict[str, list[int]] = {}
    for c in figures.per_category:
        counts = per_category.setdefault(c.category or NO_VALUE, [0, 0])
        counts[0] += c.cases_in
        counts[1] += c.cases_closed
    categories = sorted(
        ((name, n_in, n_closed) for name, (n_in, n_closed) in per_category.items()),
        key=lambda bar: (-(bar[1] + bar[2]), bar[0]),
    )
    owners = [
        (w["unassigned"] if o.owner == UNASSIGNED else o.owner, o.open, o.late)
        for o in figures.open_per_owner
    ]
    return chart.Chart(
        chart.Panel(w["per_category"], categories, w["in"], w["closed"], overlay=False),
        chart.Panel(w["per_owner"], owners, w["open"], w["late"], overlay=True),
        empty=w["none"],
    )


def weekly_report_mail(
    figures: Figures,
    *,
    templates: compose.Templates,
    language: str,
    timezone: ZoneInfo,
    identity: compose.Identity,
    to: list[str],
    now: datetime,
    png: bytes | None,
) -> EmailMessage:
    """The report as multipart/alternative: the text template, and HTML with the chart `png`
    inline (`chart_png`; without a chart when None)."""
    rendered = templates.render(
        language,
        TEMPLATE,
        timezone,
        figures=figures,
        table=as_text(figures, language, timezone),
        first_day=figures.since.astimezone(timezone).date(),
        last_day=(figures.until.astimezone(timezone) - _ONE_TICK).date(),
        address=identity.address,
    )
    msg = compose.compose(identity, to=to, rendered=rendered, now=now)
    if png is None:
        msg.add_alternative(as_html(figures, language, timezone, None), subtype="html")
        return msg
    cid = make_msgid("chart", domain=identity.domain)
    msg.add_alternative(as_html(figures, language, timezone, cid[1:-1]), subtype="html")
    html_part = list(msg.iter_parts())[-1]
    html_part.add_related(
        png,
        "image",
        "png",
        cid=cid,
        disposition="inline",
        filename="report.png",
    )
    return msg
