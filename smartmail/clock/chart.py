"""The report chart: two panels of horizontal bars, drawn as a small PNG.

Uses matplotlib's object API with the Agg canvas: no pyplot, no global backend state, safe in
a daemon without a display.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_PX, HEIGHT_PX, DPI = 800, 400, 100
MAX_BARS = 8
LABEL_CHARS = 24
FIRST_COLOUR, SECOND_COLOUR, LATE_COLOUR = "#4c72b0", "#55a868", "#c44e52"

Bar = tuple[str, int, int]  # label, first value, second value


@dataclass(frozen=True)
class Panel:
    """One panel. With `overlay` the second value is part of the first (late among open) and
    is drawn over it; otherwise the two are bars side by side (in, closed)."""

    title: str
    bars: list[Bar]
    first: str  # legend label of the first values
    second: str  # legend label of the second values
    overlay: bool


def render(left: Panel, right: Panel, empty: str) -> bytes:
    """The two panels side by side as PNG bytes, WIDTH_PX x HEIGHT_PX."""
    # matplotlib takes most of a second to import: only the weekly report pays for it.
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
