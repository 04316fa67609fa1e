"""How bot/charts.py's charts are drawn: matplotlib's Agg backend (no pyplot, no display),
at a fixed size, with the fonts matplotlib ships and no timestamp in the PNG, so the same
figures give the same bytes. The background is transparent and the ink a mid grey that
reads on Slack's light and dark themes alike; each surface has its own colour; days no
sync has read are hatched, never drawn as zero. The words come in as `words(part)`, from
templates/_charts.j2: nothing here is worded.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.typing import RcKeyType

from sync.reports.surfaces import CHATGPT, CLI, GITHUB, IDE, OTHER
from sync.reports.trends import UsageTrend

# A chart's words by part ("title", "footer", ...), with details as keywords.
Words = Callable[..., str]

# Pixels: what Slack shows at full width without scaling it up. DPI sets how large the
# words are within it.
WIDTH, HEIGHT, DPI = 1200, 600, 200
# The longest name that fits over a panel, by panels per row (bold 5.5 pt at DPI 200: about
# 10 pixels a character).
NAME_LENGTH = {1: 90, 2: 50, 3: 32, 4: 23, 5: 18, 6: 14}

# A mid grey: about 4:1 against Slack's light background (#ffffff) and its dark one
# (#1a1d21) alike, for every word and line.
INK = "#7a7f85"
GRID = "#7a7f8540"  # the same grey, a quarter opaque
# One colour per surface, told apart by colour-blind readers (Okabe and Ito's palette,
# the orange and the pink darkened) and at least 3:1 against both backgrounds (WCAG's
# minimum for graphics; measured 3.3 to 3.5 on white, 4.9 to 5.2 on Slack's dark).
SURFACE_COLOURS = {
    CHATGPT: "#009e73",
    IDE: "#3a8fd6",
    CLI: "#bf8300",
    GITHUB: "#c0709f",
    OTHER: "#8e8a9e",
}
# The period before: a thin line behind the bars, there to compare with, not to read first.
PREVIOUS_STYLE: dict[str, Any] = {"color": INK, "linewidth": 1.0, "alpha": 0.75}
MISSING_STYLE: dict[str, Any] = {
    "facecolor": "none",
    "edgecolor": INK + "80",
    "hatch": "////",
    "linewidth": 0,
}
# Longer periods compare with the period before as a 7-day average (see _previous_line).
SMOOTH_AFTER_DAYS = 14

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
# The font files matplotlib ships, by path: a system font of the same name in another
# version would change the pixels from one machine to the next.
REGULAR = FontProperties(fname=_FONTS / "DejaVuSans.ttf")
BOLD = FontProperties(fname=_FONTS / "DejaVuSans-Bold.ttf")
ITALIC = FontProperties(fname=_FONTS / "DejaVuSans-Oblique.ttf")
# matplotlib's settings are process-wide and its text engine shares caches: one chart at
# a time (measured: 0.1 to 0.3 s for a person's or a team's, under 1 s for 18 panels).
_drawing = threading.Lock()
_RC: dict[RcKeyType, Any] = {
    "text.parse_math": False,  # a "$" in a name is a dollar sign
    "axes.unicode_minus": False,
    "path.simplify": False,
    "agg.path.chunksize": 0,
}


@dataclass(frozen=True)
class Panel:
    """One direct report in the digest's small multiples."""

    name: str
    trend: UsageTrend
    has_codex_account: bool
    change: float | None
    left_on: dt.date | None

    @property
    def total(self) -> float:
        return self.trend.total


def draw_trend(trend: UsageTrend, words: Words) -> bytes:
    """A person's or a team's days: stacked bars, the period before as a line."""
    return _draw(lambda figure: _draw_trend(figure, trend, words))


def draw_panels(panels: Sequence[Panel], more: int, words: Words) -> bytes:
    """Small multiples, one panel per person on one shared scale; `more` not drawn."""
    return _draw(lambda figure: _draw_panels(figure, panels, more, words))


def _draw(paint) -> bytes:
    with _drawing, matplotlib.rc_context(_RC):
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
        figure.patch.set_alpha(0.0)
        FigureCanvasAgg(figure)
        paint(figure)
        out = io.BytesIO()
        # No "Software" entry and no time: the PNG is its pixels only.
        figure.savefig(out, format="png", dpi=DPI, transparent=True, metadata={"Software": None})
        return out.getvalue()


def _text(figure: Figure, x: float, y: float, text: str, size: float, *, bold=False, **kw):
    font = (BOLD if bold else REGULAR).copy()
    font.set_size(size)
    figure.text(x, y, text, color=INK, fontproperties=font, **kw)


def _header(figure: Figure, words: Words) -> None:
    _text(figure, 0.03, 0.955, _shorten(words("title"), 80), 8.5, bold=True, va="top")
    _text(figure, 0.03, 0.875, words("subtitle"), 6.2, va="top")
    _text(figure, 0.985, 0.02, words("footer"), 5, ha="right", va="bottom")


def _draw_trend(figure: Figure, trend: UsageTrend, words: Words) -> None:
    _header(figure, words)
    axes = figure.add_axes((0.075, 0.12, 0.9, 0.6))
    _style_axes(axes)
    days = trend.days
    x = list(range(len(days)))
    _stack(axes, x, trend, 0.78)
    previous = _previous_line(trend)
    if previous is not None:
        axes.plot(x[: len(previous)], previous, **PREVIOUS_STYLE)
    top = _nice_top(max([*trend.daily, *_known(previous)]))
    _hatch_missing(axes, trend)
    axes.set_ylim(0, top)
    axes.set_xlim(-0.6, len(days) - 0.4)
    _day_ticks(axes, days)
    if not trend.total:
        _text(figure, 0.525, 0.45, words("nothing"), 7, ha="center", va="center")
    _legend(figure, list(trend.by_surface), words, [trend], previous is not None)


def _draw_panels(figure: Figure, panels: Sequence[Panel], more: int, words: Words) -> None:
    _header(figure, words)
    columns = _columns(len(panels))
    rows = math.ceil(len(panels) / columns)
    lines = {n: _previous_line(p.trend) for n, p in enumerate(panels) if p.has_codex_account}
    drawn = [v for p in panels if p.has_codex_account for v in p.trend.daily]
    drawn += [v for line in lines.values() for v in _known(line)]
    top = _nice_top(max(drawn, default=0.0))
    left, right, bottom, ceiling = 0.075, 0.985, 0.09, 0.68
    gap_x, gap_y = 0.03, 0.145 if rows > 1 else 0.0
    width = (right - left - gap_x * (columns - 1)) / columns
    height = (ceiling - bottom - gap_y * (rows - 1)) / rows
    for n, panel in enumerate(panels):
        row, column = divmod(n, columns)
        box = (
            left + column * (width + gap_x),
            ceiling - (row + 1) * height - row * gap_y,
            width,
            height,
        )
        axes = figure.add_axes(box)
        _style_axes(axes, small=True)
        days = panel.trend.days
        x = list(range(len(days)))
        axes.set_ylim(0, top)
        axes.set_xlim(-0.6, len(days) - 0.4)
        _panel_title(axes, panel, columns, words)
        if not panel.has_codex_account:
            # Not a row of zeros: there is nobody's usage to draw.
            axes.set_axis_off()
            axes.text(
                0.5,
                0.45,
                words("no_account"),
                transform=axes.transAxes,
                ha="center",
                va="center",
                color=INK,
                fontproperties=_font(5, italic=True),
            )
            continue
        _stack(axes, x, panel.trend, 0.72)
        line = lines[n]
        if line is not None:
            axes.plot(x[: len(line)], line, **{**PREVIOUS_STYLE, "linewidth": 0.8})
        _hatch_missing(axes, panel.trend)
        _day_ticks(axes, days, small=True)
        if column != 0:
            axes.tick_params(labelleft=False)
    if more:
        _text(figure, 0.985, 0.875, words("more", more=more), 5.5, ha="right", va="top")
    surfaces = {s for p in panels if p.has_codex_account for s in p.trend.by_surface}
    trends = [p.trend for p in panels if p.has_codex_account]
    _legend(
        figure,
        [s for s in SURFACE_COLOURS if s in surfaces],
        words,
        trends,
        any(line is not None for line in lines.values()),
    )


def _panel_title(axes, panel: Panel, columns: int, words: Words) -> None:
    """The name over a panel and its figure under it, a fixed distance above the panel
    (in points, not in panel heights: one tall row would push them into the legend)."""
    name = _shorten(panel.name, NAME_LENGTH[columns])
    if panel.left_on:
        note = words("left_on", panel=panel)
    elif not panel.has_codex_account:
        note = ""
    else:
        note = words("panel_figure", panel=panel)
    for text, size, above, bold in ((name, 5.5, 10.5, True), (note, 4.6, 3.5, False)):
        axes.annotate(
            text,
            xy=(0.0, 1.0),
            xycoords="axes fraction",
            xytext=(0, above),
            textcoords="offset points",
            color=INK,
            va="bottom",
            fontproperties=_font(size, bold=bold),
            annotation_clip=False,
        )


def _stack(axes, x: list[int], trend: UsageTrend, width: float) -> None:
    """The bars, one surface on the next: a collection of rectangles per surface rather
    than a patch per bar (axes.bar), which made 18 panels of 30 days take seconds."""
    bottom = [0.0] * len(x)
    half = width / 2
    for surface, values in trend.by_surface.items():
        boxes = [
            ((at - half, low), (at - half, low + value), (at + half, low + value), (at + half, low))
            for at, low, value in zip(x, bottom, values, strict=True)
            if value > 0
        ]
        bars = PolyCollection(boxes, facecolors=SURFACE_COLOURS[surface], linewidths=0)
        bars.set_antialiased(True)
        axes.add_collection(bars, autolim=False)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]


def _previous_line(trend: UsageTrend) -> list[float] | None:
    """The period before, as drawn: day by day for a week or two (the same weekdays face
    each other), else as a centred 7-day average (30 or 90 days back, weekdays fall
    elsewhere and a day-by-day line would zigzag against the bars). Days no sync has
    read are gaps (NaN); None when no day of it was read."""
    known = trend.previous_known
    if trend.previous_unknown:
        return None
    if trend.period.days > SMOOTH_AFTER_DAYS:
        smoothed: list[float | None] = []
        for n in range(len(known)):
            window = [v for v in known[max(0, n - 3) : n + 4] if v is not None]
            smoothed.append(sum(window) / len(window) if known[n] is not None else None)
        known = smoothed
    return [math.nan if v is None else v for v in known]


def _known(line: list[float] | None) -> list[float]:
    return [v for v in line or [] if not math.isnan(v)]


def _font(size: float, *, bold: bool = False, italic: bool = False) -> FontProperties:
    font = (BOLD if bold else ITALIC if italic else REGULAR).copy()
    font.set_size(size)
    return font


def _style_axes(axes, *, small: bool = False) -> None:
    axes.patch.set_alpha(0.0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(INK)
    axes.spines["bottom"].set_linewidth(0.6)
    axes.grid(axis="y", color=GRID, linewidth=0.5)
    axes.set_axisbelow(True)
    axes.tick_params(colors=INK, length=0, pad=2)
    axes.yaxis.set_major_locator(_locator(small))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.10g}"))


def _locator(small: bool) -> MaxNLocator:
    return MaxNLocator(3 if small else 4, steps=[1, 2, 2.5, 5, 10], min_n_ticks=2)


def _day_ticks(axes, days: list[dt.date], *, small: bool = False) -> None:
    """Days under the bars: each one for a week or so, else every 7 or 14 days, counted
    back from the last day so the latest is always named."""
    count = len(days)
    if small:
        step = 1 if count <= 14 else max(1, math.ceil((count - 1) / 3))
    else:
        step = 1 if count <= 10 else 7 if count <= 45 else 14
    positions = list(range(count - 1, -1, -step))[::-1]
    if small and count <= 7:
        labels = [days[i].strftime("%a")[:1] for i in positions]  # M T W T F S S
    elif small or count > 10:
        labels = [days[i].strftime("%-d %b" if not small else "%-d") for i in positions]
    else:
        labels = [days[i].strftime("%a %-d") for i in positions]
    axes.set_xticks(positions)
    axes.set_xticklabels(labels, fontproperties=_font(4.2 if small else 5.2), color=INK)
    for label in axes.get_yticklabels():
        label.set_fontproperties(_font(4.2 if small else 5.2))
        label.set_color(INK)


def _hatch_missing(axes, trend: UsageTrend) -> None:
    """Days no sync has read: hatched, so a gap never passes for a day without usage."""
    days = trend.days
    for first, last in trend.missing:
        if last < days[0] or first > days[-1]:
            continue
        start, end = days.index(max(first, days[0])), days.index(min(last, days[-1]))
        axes.axvspan(start - 0.5, end + 0.5, **MISSING_STYLE)


def _legend(figure: Figure, surfaces: list[str], words: Words, trends, previous: bool) -> None:
    handles: list[Artist] = [
        Patch(facecolor=SURFACE_COLOURS[s], label=s, linewidth=0) for s in surfaces
    ]
    if previous:
        smoothed = trends[0].period.days > SMOOTH_AFTER_DAYS
        label = words("previous", smoothed=smoothed)
        handles.append(Line2D([], [], label=label, **PREVIOUS_STYLE))
    if any(t.missing for t in trends):
        handles.append(Patch(label=words("no_data"), **MISSING_STYLE))
    legend = figure.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.03, 0.8),
        ncols=len(handles),
        frameon=False,
        prop=_font(5.2),
        labelcolor=INK,
        handlelength=1.3,
        handleheight=0.8,
        handletextpad=0.5,
        columnspacing=1.3,
        borderaxespad=0,
        borderpad=0,
    )
    legend.set_in_layout(False)


def _columns(count: int) -> int:
    """Panels per row: as close to the image's 2:1 as the count allows."""
    if count <= 4:
        return count
    if count <= 6:
        return 3
    if count <= 12:
        return 4
    if count <= 15:
        return 5
    return 6


def _nice_top(highest: float) -> float:
    """The top of the scale: the first round gridline at or above the tallest value."""
    if highest <= 0:
        return 1.0
    ticks = _locator(False).tick_values(0, highest)
    return float(min(t for t in ticks if t >= highest))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
