"""The invoicing basis: one row per time or material entry, as CSV, JSON or a summary.

`basis_rows` reads the entries of a period [since, until), optionally of one person. The
CSV is what a Swedish accounting program imports: `;` between fields, a decimal comma,
UTF-8 with a byte-order mark, ISO dates in the rules' time zone; the `excel` dialect is
the plain comma file with a decimal point. Every text cell came from outside (subjects,
entry texts): one that a spreadsheet would run as a formula (=, +, -, @, a tab or CR
first) gets a `'` in front, so opening the file runs nothing a sender wrote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from smartmail.store.models import Case, Party, TimeEntry

Dialect = Literal["se", "excel"]
DIALECTS: tuple[Dialect, ...] = ("se", "excel")

COLUMNS = (
    "case",
    "subject",
    "category",
    "group",
    "customer",
    "logged_by",
    "date",
    "time",
    "kind",
    "minutes",
    "hours",
    "material",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "text",
    "status",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class BasisRow:
    case: int
    subject: str
    category: str
    group: str
    customer: str
    logged_by: str
    at: datetime  # UTC
    kind: str  # time | material
    minutes: int
    material: str
    quantity: float | None
    unit: str
    unit_price: float | None
    amount: float
    text: str
    status: str


def basis_rows(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    person: str | None = None,
) -> list[BasisRow]:
    """The entries logged in [since, until) (each open when None), oldest first; with
    `person`, theirs alone."""
    statement = (
        select(TimeEntry, Case, Party.email)
        .join(Case, col(Case.id) == col(TimeEntry.case_id))
        .outerjoin(Party, col(Party.id) == col(Case.customer_id))
        .order_by(col(TimeEntry.at), col(TimeEntry.id))
    )
    if since is not None:
        statement = statement.where(col(TimeEntry.at) >= since)
    if until is not None:
        statement = statement.where(col(TimeEntry.at) < until)
    if person:
        statement = statement.where(TimeEntry.actor == person.strip().lower())
    return [_row(entry, case, email) for entry, case, email in session.exec(statement).all()]


def _row(entry: TimeEntry, case: Case, customer: str | None) -> BasisRow:
    return BasisRow(
        case=case.number,
        subject=case.subject,
        category=case.category,
        group=case.group,
        customer=customer or "",
        logged_by=entry.actor,
        at=entry.at,
        kind="time" if entry.minutes else "material",
        minutes=entry.minutes,
        material=entry.material,
        quantity=entry.quantity,
        unit=entry.unit,
        unit_price=entry.unit_price,
        amount=round(entry.amount, 2),
        text=entry.text,
        status=case.status,
    )


# -- CSV and JSON ---------------------------------------------------------------------------


def as_csv(rows: Iterable[BasisRow], timezone: ZoneInfo, dialect: Dialect = "se") -> bytes:
    """The rows as a CSV file's bytes, with a header line and a byte-order mark."""
    out = io.StringIO()
    delimiter = ";" if dialect == "se" else ","
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    comma = dialect == "se"
    for row in rows:
        writer.writerow(_csv_cells(row, timezone, comma))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cells(row: BasisRow, timezone: ZoneInfo, comma: bool) -> list[str]:
    local = row.at.astimezone(timezone)
    return [
        str(row.case),
        _safe(row.subject),
        _safe(row.category),
        _safe(row.group),
        _safe(row.customer),
        _safe(row.logged_by),
        local.date().isoformat(),
        local.strftime("%H:%M"),
        row.kind,
        str(row.minutes) if row.kind == "time" else "",
        _decimal(row.minutes / 60, comma) if row.kind == "time" else "",
        _safe(row.material),
        "" if row.quantity is None else _decimal(row.quantity, comma, "g"),
        _safe(row.unit),
        "" if row.unit_price is None else _decimal(row.unit_price, comma),
        _decimal(row.amount, comma) if row.kind == "material" else "",
        _safe(row.text),
        row.status,
    ]


def _safe(text: str) -> str:
    """A text cell no spreadsheet runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _decimal(value: float, comma: bool, spec: str = ".2f") -> str:
    text = format(value, spec)
    return text.replace(".", ",") if comma else text


def as_json(rows: Iterable[BasisRow], timezone: ZoneInfo) -> list[dict[str, Any]]:
    """The rows as JSON objects: the CSV's columns, `at` in UTC and `date` local."""
    return [
        {
            "case": row.case,
            "subject": row.subject,
            "category": row.category,
            "group": row.group,
            "customer": row.customer,
            "logged_by": row.logged_by,
            "at": row.at.isoformat(),
            "date": row.at.astimezone(timezone).date().isoformat(),
            "kind": row.kind,
            "minutes": row.minutes,
            "material": row.material,
            "quantity": row.quantity,
            "unit": row.unit,
            "unit_price": row.unit_price,
            "amount": row.amount,
            "text": row.text,
            "status": row.status,
        }
        for row in rows
    ]


# -- the summary in the monthly mail --------------------------------------------------------

_WORDS = {
    "sv": {
        "person": "Per utförare",
        "category": "Per kategori",
        "hours": "timmar",
        "amount": "material",
        "entries": "poster",
        "total": "Summa",
    },
    "en": {
        "person": "Per person",
        "category": "Per category",
        "hours": "hours",
        "amount": "material",
        "entries": "entries",
        "total": "Total",
    },
}


@dataclass
class _Sum:
    minutes: int = 0
    amount: float = 0.0
    entries: int = 0

    def add(self, row: BasisRow) -> None:
        self.minutes += row.minutes
        self.amount += row.amount
        self.entries += 1


def summary(rows: Sequence[BasisRow], language: str, names: dict[str, str]) -> str:
    """Hours, material and entries per person who logged (named by `names`, else their
    address) and per category, with the total: plain-text tables in `language`."""
    words = _WORDS.get(language, _WORDS["en"])
    comma = language == "sv"
    by_person: dict[str, _Sum] = {}
    by_category: dict[str, _Sum] = {}
    total = _Sum()
    for row in rows:
        person = names.get(row.logged_by) or row.logged_by
        by_person.setdefault(person, _Sum()).add(row)
        category = f"{row.category} / {row.group}" if row.group else row.category or "-"
        by_category.setdefault(category, _Sum()).add(row)
        total.add(row)
    sections = []
    for title, sums in ((words["person"], by_person), (words["category"], by_category)):
        table = [[title, words["hours"], words["amount"], words["entries"]]]
        table += [_sum_cells(name, sums[name], comma) for name in sorted(sums)]
        table.append(_sum_cells(words["total"], total, comma))
        sections.append(_text_table(table))
    return "\n\n".join(sections) + "\n"


def _sum_cells(name: str, total: _Sum, comma: bool) -> list[str]:
    hours = _decimal(total.minutes / 60, comma)
    return [name, hours, _decimal(total.amount, comma), str(total.entries)]


def _text_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    )
