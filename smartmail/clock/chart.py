"""The report chart: two panels of horizontal bars, drawn as a small PNG in a child process.

Uses matplotlib's object API with the Agg canvas: no pyplot, no global backend state, safe in
a daemon without a display. The daemon asks for charts with `draw_elsewhere`: matplotlib holds
the GIL for most of its drawing, and in the clock's thread it made the listener's answers wait
(p99 of 8 SMTP clients up by about 100 ms while reports were made); a child process has an
interpreter of its own, and the daemon never imports matplotlib (about 40 MB). The child is
this module run with `python -m`, not multiprocessing's spawn or forkserver: those import the
parent's main module in the child, for the daemon the whole `smartmail` command.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

WIDTH_PX, HEIGHT_PX, DPI = 800, 400, 100
MAX_BARS = 8
LABEL_CHARS = 24
FIRST_COLOUR, SECOND_COLOUR, LATE_COLOUR = "#4c72b0", "#55a868", "#c44e52"

Bar = tuple[str, int, int]  # label, first value, second value
DRAW_SECONDS = 120  # a child that takes longer is stopped, and the report goes without a chart
NICENESS = 10  # the child's, added to the daemon's
CHILD = [sys.executable, "-m", "smartmail.clock.chart"]  # reads charts as JSON, writes PNGs


@dataclass(frozen=True)
class Panel:
    """One panel. With `overlay` the second value is part of the first (late among open) and
    is drawn over it; otherwise the two are bars side by side (in, closed)."""

    title: str
    bars: list[Bar]
    first: str  # legend label of the first values
    second: str  # legend label of the second values
    overlay: bool


@dataclass(frozen=True)
class Chart:
    left: Panel
    right: Panel
    empty: str  # shown in a panel without bars


def draw_elsewhere(charts: Sequence[Chart]) -> list[bytes | None]:
    """Each chart as PNG bytes, all drawn by one child process; None for each when it fails
    (it died, took too long, or answered nonsense): the caller goes on without a chart."""
    if not charts:
        return []
    request = json.dumps([dataclasses.asdict(one) for one in charts]).encode()
    try:
        done = subprocess.run(  # noqa: S603 (our own interpreter and module, no shell)
            CHILD, input=request, capture_output=True, timeout=DRAW_SECONDS, check=True
        )
        pngs = [base64.b64decode(png, validate=True) for png in json.loads(done.stdout)]
    except (OSError, subprocess.SubprocessError, ValueError, TypeError) as exc:
        log.warning("the report's chart could not be drawn, it goes without: %s", _why(exc))
        return [None] * len(charts)
    if len(pngs) != len(charts):
        log.warning("the chart's child drew %d charts of %d", len(pngs), len(charts))
        return [None] * len(charts)
    return list(pngs)


def _why(exc: Exception) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        stderr = exc.stderr.decode(errors="replace").strip().splitlines()
        return f"{exc}{': ' + stderr[-1] if stderr else ''}"
    return str(exc) if not isinstance(exc, binascii.Error) else f"bad PNG: {exc}"


def _panel(data: dict[str, Any]) -> Panel:
    bars = [(str(label), int(first), int(second)) for label, first, second in data["bars"]]
    return Panel(
        str(data["title"]), bars, str(data["first"]), str(data["second"]), bool(data["overlay"])
    )


def main() -> None:
    """The child: a JSON list of charts on stdin, a JSON list of base64 PNGs on stdout."""
    # Before matplotlib loads: the report can wait, mail coming in meanwhile should not
    # lose a core to it (on two cores the child took the listener's p50 up by a third).
    os.nice(NICENESS)
    charts = json.load(sys.stdin)
    pngs = [render(_panel(one["left"]), _panel(one["right"]), str(one["empty"])) for one in charts]
    json.dump([base64.b64encode(png).decode("ascii") for png in pngs], sys.stdout)


def render(left: Panel, right: Panel, empty: str) -> bytes:
    """The two panels side by side as PNG bytes, WIDTH_PX x HEIGHT_PX."""
    # matplotlib takes most of a second to import: only the child drawing the report pays.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    left_axes, right_axes = figure.subplots(1, 2, width_ratios=(1, 1))
    _draw(left_axes, left, empty)
    _draw(right_axes, right, empty)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _draw(axes: Axes, panel: Panel, empty: str) -> None:
    axes.set_title(panel.title, fontsize=10)
    bars = panel.bars[:MAX_BARS][::-1]  # barh draws upwards: the first bar goes on top
    if not bars:
        axes.text(0.5, 0.5, empty, ha="center", va="center", color="grey")
        axes.set_xticks([])
        axes.set_yticks([])
        return
    rows = list(range(len(bars)))
    firsts, seconds = [b[1] for b in bars], [b[2] for b in bars]
    if panel.overlay:
        drawn = [
            axes.barh(rows, firsts, height=0.6, color=FIRST_COLOUR, label=panel.first),
            axes.barh(rows, seconds, height=0.6, color=LATE_COLOUR, label=panel.second),
        ]
    else:
        drawn = [
            axes.barh([r + 0.2 for r in rows], firsts, 0.4, color=FIRST_COLOUR, label=panel.first),
            axes.barh(
                [r - 0.2 for r in rows], seconds, 0.4, color=SECOND_COLOUR, label=panel.second
            ),
        ]
    axes.bar_label(drawn[0], fontsize=7, padding=2)
    if not panel.overlay:
        axes.bar_label(drawn[1], fontsize=7, padding=2)
    axes.set_yticks(rows, [_short(b[0]) for b in bars], fontsize=8)
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="x", labelsize=8)
    axes.set_xlim(0, max(max(firsts), max(seconds), 1) * 1.15)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)


if __name__ == "__main__":
    main()
