"""The invoicing basis as files: whatever a sender wrote, a spreadsheet runs none of it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from smartmail.desk.invoicing import BasisRow, as_csv, summary

TZ = ZoneInfo("Europe/Stockholm")


def row(text: str, kind: str = "material") -> BasisRow:
    return BasisRow(
        case=7,
        subject=text,
        category=text,
        group="",
        customer="eva@kund.example",
        logged_by="jobb@rorab.example",
        at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC),  # 1 December in Stockholm
        kind=kind,
        minutes=0 if kind == "material" else 45,
        material=text,
        quantity=2.0,
        unit="st",
        unit_price=12.5,
        amount=25.0,
        text=text,
        status="new",
    )


def read(data: bytes, delimiter: str) -> list[dict[str, str]]:
    return list(
        csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter)
    )


@given(st.text())
def test_any_text_comes_back_and_runs_nothing(text: str) -> None:
    for dialect, delimiter in (("se", ";"), ("excel", ",")):
        (cells,) = read(as_csv([row(text)], TZ, dialect), delimiter)  # type: ignore[arg-type]
        for name in ("subject", "category", "material", "text"):
            assert cells[name] in (text, "'" + text)
            assert not cells[name].startswith(("=", "+", "-", "@", "\t", "\r"))


def test_dates_are_local_and_numbers_in_the_dialect() -> None:
    (se,) = read(as_csv([row("vattenlås")], TZ), ";")
    assert (se["date"], se["time"]) == ("2026-12-01", "00:30")
    assert (se["quantity"], se["unit_price"], se["amount"]) == ("2", "12,50", "25,00")
    (excel,) = read(as_csv([row("vattenlås")], TZ, "excel"), ",")
    assert (excel["unit_price"], excel["amount"]) == ("12.50", "25.00")
    (time,) = read(as_csv([row("felsökning", "time")], TZ), ";")
    assert (time["minutes"], time["hours"], time["amount"]) == ("45", "0,75", "")


def test_the_summary_names_people_and_adds_up() -> None:
    text = summary([row("a", "time"), row("b")], "sv", {"jobb@rorab.example": "Rör AB"})
    assert "Rör AB" in text
    assert "Summa" in text
    assert "0,75" in text
    assert "25,00" in text
