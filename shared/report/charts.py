"""Static charts for the local report: matplotlib figures saved as inline SVG.

No pyplot (no global figure state, no GUI backend) and no fonts or scripts from anywhere:
text stays text (``svg.fonttype: none``) so the page's own font draws it, and the SVG's
XML preamble and metadata (which carry external URLs) are dropped before inlining.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from shared.report.formatting import PARTIAL_FIELD, PARTIAL_LABEL, format_value
from shared.report.views import Chart

# Okabe-Ito: series stay apart for colour-blind readers.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000")
SEVERITY_COLOURS = {
    "critical": "#7f0000",
    "high": "#d55e00",
    "medium": "#e69f00",
    "low": "#56b4e9",
}
BAR_COLOUR = PALETTE[0]
MARKER_COLOUR = "#444444"
LABEL_CHARS = 42
WIDTH_INCHES = 7.0
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def _label(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _colour_for(series_value: Any, index: int) -> str:
    if isinstance(series_value, str) and series_value in SEVERITY_COLOURS:
        return SEVERITY_COLOURS[series_value]
    return PALETTE[index % len(PALETTE)]


def _as_day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _svg(figure: Figure, title: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    markup = _METADATA.sub("", markup[markup.index("<svg") :])
    label = html.escape(title, quote=True)
    return markup.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _hbar(figure: Figure, chart: Chart, rows: Sequence[Mapping[str, Any]]) -> None:
    shown = [row for row in rows if row.get(chart.y) is not None][: chart.limit]
    axes = figure.add_subplot()
    labels = [_label(row.get(chart.x)) for row in shown]
    values = [float(row[chart.y]) for row in shown]
    series = [row.get(chart.series) for row in shown] if chart.series else []
    order = list(dict.fromkeys(series))
    colours = (
        [_colour_for(value, order.index(value)) for value in series]
        if series
        else [BAR_COLOUR] * len(shown)
    )
    positions = range(len(shown))
    axes.barh(positions, values, color=colours, height=0.7)
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.axvline(0, color="#999999", linewidth=0.8)
    axes.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _: format_value(value, chart.y_kind))
    )
    # Counts tick at whole numbers: half a ticket is not a thing.
    axes.xaxis.set_major_locator(MaxNLocator(integer=chart.y_kind == "count"))
    axes.set_xlabel(chart.y_label)
    span = max((abs(value) for value in values), default=0.0) or 1.0
    for position, value in zip(positions, values, strict=True):
        axes.annotate(
            format_value(value, chart.y_kind),
            (value, position),
            xytext=(4 if value >= 0 else -4, 0),
            textcoords="offset points",
            ha="left" if value >= 0 else "right",
            va="center",
            fontsize=8,
        )
    low, high = min([*values, 0.0]), max([*values, 0.0])
    # Room for the value labels; an all-zero chart still gets a unit-wide axis.
    axes.set_xlim(low - 0.18 * span if low < 0 else 0, high + 0.18 * span if high > 0 else span)
    if order:
        handles = [
            Patch(color=_colour_for(value, index), label=_label(value))
            for index, value in enumerate(order)
        ]
        axes.legend(handles=handles, fontsize=8, frameon=False, loc="lower right")


def _line(
    figure: Figure, chart: Chart, rows: Sequence[Mapping[str, Any]], marker: date | None
) -> None:
    axes = figure.add_subplot()
    lines: dict[Any, list[tuple[date, float]]] = {}
    partial: dict[Any, set[date]] = {}
    for row in rows:
        day, value = _as_day(row.get(chart.x)), row.get(chart.y)
        if day is not None and value is not None:
            key = row.get(chart.series) if chart.series else chart.y_label
            lines.setdefault(key, []).append((day, float(value)))
            if row.get(PARTIAL_FIELD):
                partial.setdefault(key, set()).add(day)
    for index, (name, points) in enumerate(lines.items()):
        points.sort()
        colour = _colour_for(name, index)
        axes.plot(
            [day for day, _ in points],
            [value for _, value in points],
            marker="o",
            markersize=3,
            linewidth=1.6,
            color=colour,
            label=_label(name),
        )
        # A period still running: a hollow point and a note, so no one reads it as a drop.
        for day, value in points:
            if day in partial.get(name, ()):
                axes.plot([day], [value], marker="o", markersize=6, color=colour, mfc="white")
                axes.annotate(
                    PARTIAL_LABEL,
                    (day, value),
                    xytext=(4, 4),
                    textcoords="offset points",
                    fontsize=7,
                    color=colour,
                )
    if marker is not None:
        axes.axvline(marker, color=MARKER_COLOUR, linestyle="--", linewidth=1)
        axes.annotate(
            f"release {marker.isoformat()}",
            (marker, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=8,
            color=MARKER_COLOUR,
        )
    days = {day for points in lines.values() for day, _ in points}
    if len(days) == 1:
        # A single day has no range to place ticks in: give it a week either side.
        (only,) = days
        axes.set_xlim(only - timedelta(days=7), only + timedelta(days=7))
    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.yaxis.set_major_formatter(
        FuncFormatter(lambda value, _: format_value(value, chart.y_kind))
    )
    axes.yaxis.set_major_locator(MaxNLocator(integer=chart.y_kind == "count"))
    axes.set_ylabel(chart.y_label)
    axes.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    if chart.series and len(lines) > 1:
        axes.legend(fontsize=8, frameon=False, loc="best")


def render_chart(
    chart: Chart,
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str,
    key: str,
    marker: date | None = None,
) -> str | None:
    """An inline ``<svg>`` of ``rows``, or None when no row has a value to draw.

    ``key`` seeds the SVG's element ids, so two charts on one page never share an id.
    """
    drawable = [
        row for row in rows if row.get(chart.y) is not None and row.get(chart.x) is not None
    ]
    if not drawable:
        return None
    bars = min(len(drawable), chart.limit)
    height = 0.32 * bars + 1.1 if chart.kind == "hbar" else 3.2
    settings = {
        "svg.fonttype": "none",
        "svg.hashsalt": key,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(settings):
        figure = Figure(figsize=(WIDTH_INCHES, height), layout="constrained")
        if chart.kind == "hbar":
            _hbar(figure, chart, drawable)
        else:
            _line(figure, chart, drawable, marker)
        return _svg(figure, title)
