"""The report figures against hand-computed values, their text, chart, mail and command."""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from smartmail.cli import main
from smartmail.clock import chart, reports
from smartmail.mail import compose
from smartmail.mail.guard import LOOP_HEADER
from smartmail.store.db import make_engine, transaction
from smartmail.store.models import Case, Event, Outbox

SKADOR, STOPP, OVRIGT = "Skador i lägenheten", "Stopp i avlopp", "Övrigt"
KALLE, LISA, ANNA = "kalle@bostad.example", "lisa@bostad.example", "anna@bostad.example"
SINCE = datetime(2024, 5, 6, tzinfo=UTC)  # Monday
UNTIL = datetime(2024, 5, 13, tzinfo=UTC)
NOW = datetime(2024, 5, 13, 8, tzinfo=UTC)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def at(day: int, hour: int = 8, minute: int = 0, month: int = 5) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


def add_case(
    session: Session,
    *,
    created: datetime,
    status: str,
    category: str = OVRIGT,
    group: str = "",
    assignee: str | None = None,
    first_response: datetime | None = None,
    resolved: datetime | None = None,
    closed: datetime | None = None,
    due: datetime | None = None,
    reopen_count: int = 0,
    merged_into: int | None = None,
) -> Case:
    case = Case(
        subject=f"{category} {created:%d %H}",
        status=status,
        category=category,
        group=group,
        assignee=assignee,
        reopen_count=reopen_count,
        merged_into=merged_into,
        created_at=created,
        updated_at=created,
        due_at=due,
        first_response_at=first_response,
        resolved_at=resolved,
        closed_at=closed,
    )
    session.add(case)
    session.flush()
    session.add(Event(case_id=case.number, at=created, actor="system", kind="created"))
    if reopen_count:
        session.add(Event(case_id=case.number, at=created, actor="system", kind="reopened"))
    return case


def seed(session: Session) -> None:
    """The week of 6-13 May 2024, and cases around it.

    In the period: 7 cases in (1, 2, 3, 4, 5, 8, 9); 4 closed (1, 2, 3, 8).
    First responses (cases in): 1h, 3h, 0.5h, 6h, 1.5h.
    Resolutions (closed, 8 is merged so left out): 2h, 4h, 10h.
    Open now: 4, 5, 6, 10; late now (due before NOW): 4 and 6.
    """
    first = add_case(  # 1: in time
        session,
        created=at(6),
        first_response=at(6, 9),
        resolved=at(6, 10),
        due=at(7),
        status="resolved",
        assignee=KALLE,
        category=SKADOR,
        group=STOPP,
    )
    add_case(  # 2: late, reopened once
        session,
        created=at(7),
        first_response=at(7, 11),
        resolved=at(7, 12),
        due=at(7, 10),
        status="resolved",
        assignee=KALLE,
        reopen_count=1,
        category=SKADOR,
        group=STOPP,
    )
    add_case(  # 3: resolved in time, closed the day after
        session,
        created=at(8),
        first_response=at(8, 8, 30),
        resolved=at(8, 18),
        closed=at(9),
        due=at(9),
        status="closed",
        assignee=ANNA,
    )
    add_case(  # 4: open, late
        session,
        created=at(9),
        due=at(10),
        status="assigned",
        assignee=KALLE,
        category=SKADOR,
        group=STOPP,
    )
    add_case(  # 5: open, answered, not late
        session,
        created=at(10),
        first_response=at(10, 14),
        due=at(20),
        status="assigned",
        assignee=LISA,
    )
    add_case(  # 6: came before the period, open, unassigned, late
        session, created=at(1), due=at(2), status="new"
    )
    add_case(  # 7: came and went before the period
        session, created=at(30, month=4), resolved=at(1), due=at(2), status="resolved"
    )
    add_case(  # 8: a duplicate merged into 1
        session,
        created=at(9),
        resolved=at(9, 10),
        closed=at(9, 10),
        due=at(9, 9),
        status="closed",
        merged_into=first.number,
    )
    add_case(  # 9: came in the period, resolved after it
        session,
        created=at(12, 23),
        first_response=at(13, 0, 30),
        resolved=at(13, 1),
        due=at(14),
        status="resolved",
        assignee=LISA,
        category=SKADOR,
        group=STOPP,
    )
    add_case(  # 10: came before the period, open, not late
        session,
        created=at(2),
        due=at(30),
        status="assigned",
        assignee=KALLE,
        category=SKADOR,
        group=STOPP,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    yield engine
    engine.dispose()


@pytest.fixture
def figures(engine: Engine) -> reports.Figures:
    with transaction(engine) as session:
        seed(session)
    with transaction(engine) as session:
        return reports.compute(session, SINCE, UNTIL, NOW)


def test_counts(figures: reports.Figures) -> None:
    assert (figures.since, figures.until) == (SINCE, UNTIL)
    assert figures.cases_in == 7
    assert figures.cases_closed == 4
    assert figures.open_now == 4
    assert figures.late_now == 2


def test_first_response_and_resolution_times(figures: reports.Figures) -> None:
    # first responses sorted: 0.5, 1, 1.5, 3, 6 -> median 1.5
    assert figures.first_response_median_h == 1.5
    # inclusive p90 of 5 values: position 0.9 * 4 = 3.6 -> 3 + 0.6 * (6 - 3) = 4.8
    assert figures.first_response_p90_h == 4.8
    # resolutions 2, 4, 10 -> median 4; p90 position 0.9 * 2 = 1.8 -> 4 + 0.8 * (10 - 4) = 8.8
    assert figures.resolution_median_h == 4.0
    assert figures.resolution_p90_h == 8.8


def test_deadline_share_and_reopen_rate(figures: reports.Figures) -> None:
    assert figures.resolved_within_deadline == 0.667  # 1 and 3 in time, 2 late
    assert figures.reopen_rate == 0.333  # 2 of 1, 2, 3


def test_per_category(figures: reports.Figures) -> None:
    assert figures.per_category == [
        reports.CategoryFigures(SKADOR, STOPP, 4, 2, 2, 3.0),  # in 1,2,4,9; open 4,10
        reports.CategoryFigures(OVRIGT, "", 3, 2, 2, 10.0),  # in 3,5,8; open 5,6
    ]
    assert figures.top_categories == [(SKADOR, 4), (OVRIGT, 3)]


def test_open_per_owner_most_open_first(figures: reports.Figures) -> None:
    assert figures.open_per_owner == [
        reports.OwnerLoad(KALLE, 2, 1),
        reports.OwnerLoad("unassigned", 1, 1),
        reports.OwnerLoad(LISA, 1, 0),
    ]


def test_one_value_is_its_own_percentile_and_no_data_is_none(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, created=at(6), resolved=at(6, 14), due=at(6, 12), status="resolved")
    with transaction(engine) as session:
        one = reports.compute(session, SINCE, UNTIL, NOW)
        empty = reports.compute(session, at(20), at(27), NOW)
    assert one.resolution_median_h == one.resolution_p90_h == 6.0
    assert one.resolved_within_deadline == 0.0
    assert one.first_response_median_h is None
    assert (empty.cases_in, empty.cases_closed, empty.open_now) == (0, 0, 0)
    assert empty.resolution_p90_h is None
    assert empty.reopen_rate is None
    assert empty.top_categories == []


def test_text_in_english_and_swedish(figures: reports.Figures) -> None:
    english = reports.as_text(figures, "en", STOCKHOLM)
    assert "2024-05-06 02:00 - 2024-05-13 02:00 (Europe/Stockholm)" in english
    lines = english.splitlines()
    assert any(line.startswith("Cases in") and line.endswith(" 7") for line in lines)
    assert any(line.startswith("Late now") and line.endswith(" 2") for line in lines)
    for number in ("1.5 h", "4.8 h", "4.0 h", "8.8 h", "66.7 %", "33.3 %"):
        assert number in english
    assert any(line.startswith(f"{SKADOR} / {STOPP}") and line.endswith("3.0 h") for line in lines)
    assert any(line.startswith(KALLE) and line.split()[-2:] == ["2", "1"] for line in lines)

    swedish = reports.as_text(figures, "sv", STOCKHOLM)
    for text in ("Nya ärenden", "4,0 h", "66,7 %", "33,3 %", "ej tilldelade", OVRIGT):
        assert text in swedish


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def drawn(png: bytes | None) -> bytes:
    assert png is not None, "the chart's child drew nothing"
    return png


def test_chart_is_a_small_png(figures: reports.Figures) -> None:
    assert png_size(drawn(reports.chart_png(figures))) == (800, 400)
    assert png_size(drawn(reports.chart_png(figures, "sv"))) == (800, 400)


def test_charts_are_drawn_by_one_child_in_their_order(figures: reports.Figures) -> None:
    english, swedish = reports.chart_of(figures), reports.chart_of(figures, "sv")
    both = chart.draw_elsewhere([english, swedish])
    assert [png_size(drawn(png)) for png in both] == [(800, 400), (800, 400)]
    assert both[0] != both[1]  # the words differ
    assert chart.draw_elsewhere([]) == []


@pytest.mark.parametrize(
    "child",
    [
        "import os; os._exit(9)",  # dies
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",  # is killed
        "print('[\"not base64!\"]')",  # answers nonsense
        "print('[]')",  # draws too few
    ],
)
def test_a_chart_that_cannot_be_drawn_is_none(
    figures: reports.Figures, child: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chart, "CHILD", [sys.executable, "-c", child])
    assert reports.chart_png(figures) is None


def test_chart_of_an_empty_week(engine: Engine) -> None:
    with transaction(engine) as session:
        empty = reports.compute(session, SINCE, UNTIL, NOW)
    assert png_size(drawn(reports.chart_png(empty))) == (800, 400)


def test_weekly_report_mail(engine: Engine) -> None:
    with transaction(engine) as session:
        seed(session)
    with transaction(engine) as session:  # a week in local time, as the managers see it
        figures = reports.compute(
            session,
            datetime(2024, 5, 6, tzinfo=STOCKHOLM),
            datetime(2024, 5, 13, tzinfo=STOCKHOLM),
            NOW,
        )
    assert figures.cases_in == 6  # case 9 came after Sunday midnight in Stockholm
    identity = compose.Identity("felanmalan@bostad.example")
    msg = reports.weekly_report_mail(
        figures,
        templates=compose.Templates(),
        language="sv",
        timezone=STOCKHOLM,
        identity=identity,
        to=[ANNA],
        now=NOW,
        png=reports.chart_png(figures, "sv"),
    )
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Subject"] == "Veckorapport 2024-05-06 \N{EN DASH} 2024-05-12"
    assert msg["To"] == ANNA
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg[LOOP_HEADER] == identity.address
    assert msg["Message-ID"]
    assert msg["Date"]

    with transaction(engine) as session:  # it goes through the outbox like any mail
        compose.queue(session, msg, case=None, now=NOW, template="weekly_report")
    with transaction(engine) as session:
        wire = session.exec(select(Outbox)).one().body
    parsed = message_from_bytes(wire, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    parts = {part.get_content_type(): part for part in parsed.walk()}
    assert set(parts) >= {"text/plain", "text/html", "image/png", "multipart/related"}
    text = parts["text/plain"].get_content()
    assert "Nya ärenden" in text
    assert "66,7 %" in text
    html = parts["text/html"].get_content()
    image = parts["image/png"]
    cid = str(image["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in html
    assert "ej tilldelade" in html
    png_size(image.get_content())


def test_weekly_report_mail_without_a_chart(figures: reports.Figures) -> None:
    msg = reports.weekly_report_mail(
        figures,
        templates=compose.Templates(),
        language="en",
        timezone=STOCKHOLM,
        identity=compose.Identity("felanmalan@bostad.example"),
        to=[ANNA],
        now=NOW,
        png=None,
    )
    parts = {part.get_content_type(): part for part in msg.walk()}
    assert set(parts) == {"multipart/alternative", "text/plain", "text/html"}
    html = parts["text/html"].get_content()
    assert "<img" not in html
    assert "unassigned" in html  # the figures are all there


@pytest.fixture
def cli_env(tmp_path: Path, rules_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(data))
    monkeypatch.setenv("SMARTMAIL_RULES", str(rules_path))
    monkeypatch.setenv("SMARTMAIL_SECRET", "test-secret")
    monkeypatch.delenv("SMARTMAIL_DATABASE_URL", raising=False)
    data.mkdir()
    engine = make_engine(f"sqlite:///{data}/smartmail.db")
    with transaction(engine) as session:
        seed(session)
    engine.dispose()
    return data


def test_stats_json(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    since, until = "2024-05-06T02:00:00+02:00", "2024-05-13T00:00:00Z"
    assert main(["stats", "--since", since, "--until", until, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "since",
        "until",
        "cases_in",
        "cases_closed",
        "open_now",
        "late_now",
        "first_response_median_h",
        "first_response_p90_h",
        "resolution_median_h",
        "resolution_p90_h",
        "resolved_within_deadline",
        "reopen_rate",
        "per_category",
        "open_per_owner",
        "top_categories",
        "per_channel",
    }
    assert data["per_channel"] == {"mail": 7, "web": 0, "phone": 0, "visit": 0, "letter": 0}
    assert datetime.fromisoformat(data["since"]) == SINCE
    assert datetime.fromisoformat(data["until"]) == UNTIL
    assert (data["cases_in"], data["cases_closed"]) == (7, 4)
    assert (data["resolution_median_h"], data["resolution_p90_h"]) == (4.0, 8.8)
    assert data["resolved_within_deadline"] == 0.667
    assert data["per_category"][0] == {
        "category": SKADOR,
        "group": STOPP,
        "cases_in": 4,
        "cases_closed": 2,
        "open_now": 2,
        "resolution_median_h": 3.0,
    }
    # open and late are as of the real now, long after these deadlines
    assert data["open_per_owner"][0] == {"owner": KALLE, "open": 2, "late": 2}
    assert data["top_categories"] == [[SKADOR, 4], [OVRIGT, 3]]


def test_stats_text_in_the_rules_language(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--since", "2024-05-06T00:00Z", "--until", "2024-05-13T00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "2024-05-06 02:00 - 2024-05-13 02:00 (Europe/Stockholm)" in out
    assert "Nya ärenden" in out
    assert "8,8 h" in out


def test_stats_defaults_to_the_last_seven_days(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    since, until = datetime.fromisoformat(data["since"]), datetime.fromisoformat(data["until"])
    assert until - since == timedelta(days=7)
    assert data["cases_in"] == 0
    assert data["open_now"] == 4  # open cases are counted as of now, whatever the period


def test_stats_refuses_an_empty_period(cli_env: Path) -> None:
    assert main(["stats", "--since", "2024-05-13T00:00Z", "--until", "2024-05-06T00:00Z"]) == 64
