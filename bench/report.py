"""What the benchmarks print: a phase's result, its row in the table, check lines, profiles.

A `Phase` is what one measured phase gives back: its wall time and one duration per mail.
The table shows, per phase, mails per second, ms per mail, `x floor` (ms per mail divided
by that of the floor measured next to the phase: compare these ratios within one run, not
absolute figures across runs), and the median and 99th percentile of the per-mail
durations. Nothing here measures or asserts on time; it only formats.
"""

from __future__ import annotations

import cProfile
import io
import platform
import pstats
import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from mails import Mail, new_count


@dataclass
class Phase:
    """What one phase measured: wall time and one duration per mail (seconds)."""

    name: str
    wall: float
    durations: list[float]
    check: str = ""
    count: int = 0  # mails in the phase; 0: one per duration
    whole: list[float] = field(default_factory=list)  # over SMTP: MAIL to the answer to DATA

    @property
    def ms_per_mail(self) -> float:
        return 1000 * self.wall / max(self.count or len(self.durations), 1)


@dataclass
class Compared:
    """A pipeline phase and the floor measured next to it."""

    floor: Phase
    phase: Phase


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def floors_together(floors: Sequence[Phase]) -> Phase:
    """Floor runs as one: the mean ms/mail, every mail's duration."""
    count = sum(floor.count or len(floor.durations) for floor in floors)
    durations = [duration for floor in floors for duration in floor.durations]
    whole = [duration for floor in floors for duration in floor.whole]
    wall = sum(floor.wall for floor in floors)
    return Phase(floors[0].name, wall, durations, count=count, whole=whole)


def describe(mails: Sequence[Mail]) -> list[str]:
    """The header: what was generated, and the Python and SQLite it runs on."""
    new = new_count(mails)
    attached = sum(mail.style.attachment is not None for mail in mails)
    by_token = sum(bool(mail.token) for mail in mails)
    plain_sizes = [len(mail.raw) for mail in mails if mail.style.attachment is None]
    latin1 = sum(mail.style.charset == "iso-8859-1" for mail in mails)
    alternative = sum(mail.style.alternative for mail in mails)
    return [
        f"smartmail ingest benchmark: {len(mails)} mails ({new} new, {len(mails) - new} replies,"
        f" {attached} with attachments), python {platform.python_version()},"
        f" sqlite {sqlite3.sqlite_version}",
        f"  replies: {by_token} by subject token, {len(mails) - new - by_token} by In-Reply-To;"
        f" {alternative} multipart/alternative, {latin1} ISO-8859-1; without attachments"
        f" {min(plain_sizes, default=0) / 1024:.1f}-{max(plain_sizes, default=0) / 1024:.1f} KB"
        f" (median {statistics.median(plain_sizes or [0]) / 1024:.1f} KB)",
    ]


def check_line(label: str, phase: Phase) -> str:
    """What the phase left behind, counted after it ran: "check <label>: <counts>"."""
    return f"check {label}: {phase.check}"


def row(phase: Phase, floor: Phase | None, rate: bool = True) -> str:
    def cell(value: float | None, width: int, digits: int) -> str:
        return f"{value:>{width}.{digits}f}" if value is not None else " " * width

    ratio = phase.ms_per_mail / floor.ms_per_mail if floor is not None else None
    has = bool(phase.durations)
    return "".join(
        [
            f"{phase.name:<26}",
            cell(1000 / phase.ms_per_mail if rate and has else None, 8, 0),
            cell(phase.ms_per_mail if has else None, 10, 2),
            cell(ratio if has else None, 10, 2),
            cell(1000 * percentile(phase.durations, 0.5) if has else None, 9, 2),
            cell(1000 * percentile(phase.durations, 0.99) if has else None, 9, 2),
        ]
    )


def floor_line(floors: Sequence[Phase], turn: int) -> str:
    """The last line of the table: each phase's own floor, `turn` mails a turn."""
    each = " / ".join(f"{floor.ms_per_mail:.2f}" for floor in floors)
    return (
        f"floor next to each phase: {each} ms/mail (taking turns with the in-process phases,"
        f" {turn} mails a turn; before and after SMTP); x floor is against the phase's own"
    )


def header() -> str:
    return f"{'phase':<26}{'mails/s':>8}{'ms/mail':>10}{'x floor':>10}{'p50 ms':>9}{'p99 ms':>9}"


def table(
    inprocess: Phase,
    breakdown: Sequence[Phase],
    inprocess_floor: Phase,
    others: Sequence[Compared],
    turn: int,
) -> list[str]:
    """The floor, the in-process phase and its `breakdown` (no rate), then the others."""
    # each floor once: the SMTP phase and the floor over SMTP share theirs
    floors = list(
        {id(floor): floor for floor in (inprocess_floor, *(o.floor for o in others))}.values()
    )
    return [
        header(),
        row(floors_together(floors), None),
        row(inprocess, inprocess_floor),
        *(row(sub, inprocess_floor, rate=False) for sub in breakdown),
        *(row(other.phase, other.floor) for other in others),
        floor_line(floors, turn),
    ]


def whole_lines(phases: Sequence[Phase]) -> list[str]:
    """Over SMTP the table's p50 and p99 are from DATA to its answer; these lines add
    MAIL to that answer (MAIL and RCPT wait for the listener too)."""
    return [
        f"{phase.name}: MAIL to the answer to DATA p50 {1000 * percentile(phase.whole, 0.5):.2f}"
        f" / p99 {1000 * percentile(phase.whole, 0.99):.2f} ms"
        for phase in phases
        if phase.whole
    ]


def listener_line(smtp: Phase, over: Phase) -> str:
    """The SMTP phase against the floor behind the same kind of listener."""
    return (
        f"SMTP against the floor over SMTP (the listener's cost in both):"
        f" {smtp.ms_per_mail / over.ms_per_mail:.2f}x"
    )


def profile_text(profiler: cProfile.Profile, lines: int = 15) -> str:
    """The top `lines` by cumulative time, smartmail and its libraries only."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"smartmail/|site-packages/", lines)
    return out.getvalue()
