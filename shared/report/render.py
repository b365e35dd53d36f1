"""``render_report``: the role views over the local Gold tables, as one self-contained HTML file.

The page needs nothing at view time: CSS, SVG charts and a small filter script are inline;
there is no URL to fetch. Every number comes from a dashboard SQL file run by DuckDB; this
module only arranges and formats them. Customer text appears only as Gold's masked
evidence quotes, and every string from the data is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.errors import ConfigError
from shared.report.charts import render_chart
from shared.report.formatting import PARTIAL_FIELD, PARTIAL_LABEL, format_value
from shared.report.queries import QUERIES_DIR, LocalWarehouse, Query, QueryResult, load_queries
from shared.report.views import VIEWS, Block, Column, Kpi, View
from shared.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

WINDOW_DATASET = "health_reporting_window"
RELEASE_PARAMETER = "release_date"
# Without --release-date the marker sits mid-window: 14 days before as_of, 14 after.
RELEASE_DAYS_BEFORE_AS_OF = 14
# A split chart is pre-rendered per filter value only up to this many values.
MAX_CHART_VARIANTS = 24
NUMERIC_KINDS = frozenset({"count", "number", "percent", "signed_percent", "money", "hours", "nps"})


class ReportSummary(BaseModel):
    """What ``render_report`` wrote and what it found."""

    model_config = ConfigDict(frozen=True)

    path: Path
    as_of: date | None
    window_start: date | None
    release_date: date
    views: int
    datasets: int
    charts: int
    empty_datasets: tuple[str, ...]
    bytes: int


def _escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _iso_day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else ""


def _cell(row: Mapping[str, Any], column: Column, block: Block) -> str:
    """A cell's text; a period still running (``partial``) says so beside its date."""
    text = format_value(row.get(column.field), column.kind)
    period = block.date_field or next((c.field for c in block.columns if c.kind == "date"), None)
    if row.get(PARTIAL_FIELD) and column.field == period:
        text += f" ({PARTIAL_LABEL})"
    return text


def _kpi_value(kpi: Kpi, rows: Sequence[Mapping[str, Any]]) -> Any:
    values = [row[kpi.field] for row in rows if row.get(kpi.field) is not None]
    if not values:
        return None
    if kpi.aggregate == "sum":
        return sum(values)
    return max(values) if kpi.aggregate == "max" else min(values)


def _source_path(query: Query) -> str:
    return (QUERIES_DIR / query.file_name).relative_to(PROJECT_ROOT).as_posix()


class _Page:
    """Accumulates the page's markup and counts what it drew."""

    def __init__(self, queries: Mapping[str, Query], results: Mapping[str, QueryResult]):
        self.queries = queries
        self.results = results
        self.charts = 0

    def block(self, block: Block, marker: date | None) -> str:
        query = self.queries[block.dataset]
        rows = self.results[block.dataset].records()
        parts = [
            f'<article class="block" id="block-{_escape(block.dataset)}" '
            f'data-split="{block.split or ""}" data-rows="{len(rows)}">',
            f"<h3>{_escape(query.title)}</h3>",
            f'<p class="answers">{_escape(query.answers)}</p>',
        ]
        if block.kpis:
            parts.append('<div class="kpis">')
            for kpi in block.kpis:
                value = format_value(_kpi_value(kpi, rows), kpi.kind)
                parts.append(
                    f'<div class="kpi"><span class="kpi-value">{_escape(value)}</span>'
                    f'<span class="kpi-label">{_escape(kpi.label)}</span></div>'
                )
            parts.append("</div>")
        if rows:
            charts = self._charts(block, query, rows, marker)
            layout = "block-body has-chart" if charts else "block-body"
            parts.append(f'<div class="{layout}">')
            if charts:
                parts.append('<div class="charts">' + "".join(charts) + "</div>")
            parts.append(self._table(block, rows))
            parts.append("</div>")
            parts.append('<p class="empty empty-filtered" hidden></p>')
        else:
            parts.append('<p class="empty">No data in the window yet.</p>')
        parts.append(
            f'<p class="provenance">Numbers: <code>{_escape(_source_path(query))}</code></p>'
        )
        parts.append("</article>")
        return "\n".join(parts)

    def _charts(
        self,
        block: Block,
        query: Query,
        rows: Sequence[Mapping[str, Any]],
        marker: date | None,
    ) -> list[str]:
        chart = block.chart
        if chart is None:
            return []
        variants: list[tuple[str, Sequence[Mapping[str, Any]]]] = [("", rows)]
        if chart.split_variants and block.split is not None:
            values = list(dict.fromkeys(row[block.split] for row in rows if row[block.split]))
            if len(values) <= MAX_CHART_VARIANTS:
                variants += [
                    (str(value), [row for row in rows if row[block.split] == value])
                    for value in values
                ]
        figures = []
        for index, (variant, variant_rows) in enumerate(variants):
            svg = render_chart(
                chart,
                variant_rows,
                title=query.title if not variant else f"{query.title}: {variant}",
                key=f"{block.dataset}-{index}",
                marker=marker if chart.marker else None,
            )
            if svg is None:
                continue
            self.charts += 1
            hidden = " hidden" if variant else ""
            figures.append(
                f'<figure class="chart" data-variant="{_escape(variant)}"{hidden}>{svg}</figure>'
            )
        if len(variants) > 1:
            figures.append('<p class="chart-note">The chart follows the filter.</p>')
        return figures

    def _table(self, block: Block, rows: Sequence[Mapping[str, Any]]) -> str:
        head = "".join(
            f'<th class="{"num" if column.kind in NUMERIC_KINDS else ""}">'
            f"{_escape(column.label)}</th>"
            for column in block.columns
        )
        body = []
        for row in rows:
            attributes = ""
            if block.split is not None:
                attributes += f' data-split="{_escape(row.get(block.split) or "")}"'
            if block.date_field is not None:
                attributes += f' data-date="{_iso_day(row.get(block.date_field))}"'
            cells = "".join(
                f'<td class="{"num" if column.kind in NUMERIC_KINDS else ""}">'
                f"{_escape(_cell(row, column, block))}</td>"
                for column in block.columns
            )
            body.append(f"<tr{attributes}>{cells}</tr>")
        return (
            '<div class="table-wrap"><table><thead><tr>'
            + head
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table></div>"
        )

    def view(self, view: View, marker: date | None) -> str:
        blocks = "\n".join(self.block(block, marker) for block in view.blocks)
        return (
            f'<section class="view" id="view-{view.key}" data-view="{view.key}">'
            f"<h2>{_escape(view.title)}</h2>"
            f'<p class="audience">{_escape(view.audience)}</p>\n{blocks}\n</section>'
        )


def _split_values(
    views: Sequence[View], results: Mapping[str, QueryResult], split: str
) -> list[str]:
    values = {
        str(row[split])
        for view in views
        for block in view.blocks
        if block.split == split
        for row in results[block.dataset].records()
        if row.get(split)
    }
    return sorted(values)


def _date_bounds(views: Sequence[View], results: Mapping[str, QueryResult]) -> tuple[str, str]:
    days = [
        _iso_day(row.get(block.date_field))
        for view in views
        for block in view.blocks
        if block.date_field is not None
        for row in results[block.dataset].records()
        if row.get(block.date_field) is not None
    ]
    return (min(days), max(days)) if days else ("", "")


def _health_strip(results: Mapping[str, QueryResult]) -> str:
    ingest = results["health_last_ingest"].records() if "health_last_ingest" in results else []
    gate = {
        row["source"]: row
        for row in (
            results["health_quality_gate"].records() if "health_quality_gate" in results else []
        )
    }
    tiles = []
    for row in ingest:
        failures = gate.get(row["source"], {}).get("failures") or 0
        tone = " warn" if failures else ""
        tiles.append(
            f'<div class="tile{tone}" data-split="{_escape(row["source"])}">'
            f'<span class="tile-name">{_escape(row["source"])}</span>'
            f"<span>last ingest {_escape(format_value(row['last_received_at'], 'date'))}</span>"
            f"<span>{_escape(format_value(row['records_last_7_days'], 'count'))} in its last "
            f"7 days</span>"
            f"<span>{_escape(format_value(failures, 'count'))} gate failure(s)</span></div>"
        )
    if not tiles:
        tiles.append('<div class="tile warn">No source has landed feedback yet.</div>')
    flags = results.get("health_drift_flags")
    flagged = sum(1 for row in flags.records() if row.get("flagged")) if flags else 0
    failing = len(results["health_expectations"].rows) if "health_expectations" in results else 0
    tone_flags = " warn" if flagged else ""
    tone_rules = " warn" if failing else ""
    tiles.append(
        f'<div class="tile{tone_flags}"><span class="tile-name">drift</span>'
        f"<span>{flagged} flag(s) raised</span></div>"
        f'<div class="tile{tone_rules}"><span class="tile-name">expectations</span>'
        f"<span>{failing} failing rule(s)</span></div>"
    )
    return (
        '<section class="strip" id="health-strip" aria-label="Data health">'
        '<h2>Data health</h2><div class="tiles">' + "".join(tiles) + "</div></section>"
    )


def _filters(views: Sequence[View], results: Mapping[str, QueryResult]) -> str:
    first, last = _date_bounds(views, results)

    def options(split: str, everything: str) -> str:
        values = _split_values(views, results, split)
        return f'<option value="">{everything}</option>' + "".join(
            f'<option value="{_escape(value)}">{_escape(value)}</option>' for value in values
        )

    return (
        '<form id="filters" class="filters" aria-label="Filters">'
        f'<label>From <input type="date" name="from" min="{first}" max="{last}"></label>'
        f'<label>To <input type="date" name="to" min="{first}" max="{last}"></label>'
        f'<label>Source <select name="source">{options("source", "all sources")}</select></label>'
        f'<label>Product <select name="product">{options("product", "all products")}'
        "</select></label>"
        '<button type="reset">Clear filters</button></form>'
        '<p class="filter-note">Filters hide table rows (weekly and daily rows by date, rows '
        "of a source or product by its name). Charts marked as following the filter switch "
        "with it; the others always show the whole window.</p>"
    )


STYLE = """
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #e3e3e3;
  --accent: #0072b2; --warn: #b3261e; --warn-bg: #fdecea; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #fafafa; }
header, main, .strip, nav { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 28px 0 4px; font-size: 20px; }
h3 { margin: 0 0 2px; font-size: 16px; }
.meta, .audience, .answers, .provenance, .filter-note, .chart-note { color: var(--muted); }
.answers { margin: 0 0 10px; }
.provenance { font-size: 12px; margin: 8px 0 0; }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; margin: 12px 0 4px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
.filters input, .filters select, .filters button { font: inherit; padding: 4px 6px; }
.filter-note { font-size: 12px; margin: 0 0 8px; }
nav { display: flex; gap: 16px; padding-top: 8px; padding-bottom: 8px; }
nav a { color: var(--accent); text-decoration: none; font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 8px; }
.tile { display: flex; flex-direction: column; min-width: 150px; padding: 8px 10px;
  background: #fff; border: 1px solid var(--line); border-radius: 6px; font-size: 12px; }
.tile.warn { border-color: var(--warn); background: var(--warn-bg); }
.tile-name { font-weight: 600; font-size: 13px; }
.block { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; margin: 12px 0; }
.kpis { display: flex; gap: 16px; margin: 4px 0 10px; }
.kpi { display: flex; flex-direction: column; }
.kpi-value { font-size: 26px; font-weight: 700; }
.kpi-label { color: var(--muted); font-size: 12px; }
.block-body.has-chart { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr);
  gap: 16px; align-items: start; }
@media (max-width: 900px) { .block-body.has-chart { grid-template-columns: minmax(0, 1fr); } }
figure.chart { margin: 0 0 6px; }
figure.chart svg { max-width: 100%; height: auto; }
.chart-note { font-size: 12px; margin: 0; }
.table-wrap { max-height: 360px; overflow: auto; border-top: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { position: sticky; top: 0; background: #fff; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.empty { padding: 12px; background: #f3f3f3; border-radius: 6px; color: var(--muted); }
[hidden] { display: none !important; }
"""

# Filters only hide and show what is already on the page; nothing is fetched or computed.
SCRIPT = """
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  function apply() {
    var from = form.elements.namedItem("from").value;
    var to = form.elements.namedItem("to").value;
    var wanted = {
      source: form.elements.namedItem("source").value,
      product: form.elements.namedItem("product").value
    };
    document.querySelectorAll("article.block").forEach(function (block) {
      var split = block.getAttribute("data-split");
      var value = split ? wanted[split] : "";
      var total = 0;
      var shown = 0;
      block.querySelectorAll("tbody tr").forEach(function (row) {
        var day = row.getAttribute("data-date");
        var keep = !(value && row.getAttribute("data-split") !== value) &&
          !(day && from && day < from) && !(day && to && day > to);
        row.hidden = !keep;
        total += 1;
        if (keep) { shown += 1; }
      });
      var charts = block.querySelectorAll("figure.chart");
      var match = null;
      charts.forEach(function (chart) {
        if (chart.getAttribute("data-variant") === value) { match = chart; }
      });
      var split_charts = charts.length > 1;
      charts.forEach(function (chart) {
        var everything = chart.getAttribute("data-variant") === "";
        chart.hidden = split_charts ? chart !== match : !everything;
      });
      var note = block.querySelector(".empty-filtered");
      if (note) {
        note.hidden = !(total > 0 && shown === 0);
        note.textContent = value ? "No data for this " + split + " in the window." :
          "No data in the selected dates.";
      }
    });
    document.querySelectorAll("#health-strip .tile[data-split]").forEach(function (tile) {
      tile.hidden = Boolean(wanted.source) && tile.getAttribute("data-split") !== wanted.source;
    });
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
  apply();
})();
"""


def _document(
    views: Sequence[View],
    queries: Mapping[str, Query],
    results: Mapping[str, QueryResult],
    *,
    window: Mapping[str, Any] | None,
    release: date,
    generated_at: datetime,
) -> tuple[str, int]:
    page = _Page(queries, results)
    sections = "\n".join(page.view(view, release) for view in views)
    if window:
        period = (
            f"Window {format_value(window['window_start'], 'date')} to "
            f"{format_value(window['as_of'], 'date')} (the Gold pipeline's reporting window)"
        )
    else:
        period = "No reporting window yet (gold_insights has no rows)"
    meta = (
        f"{period} · release marker {release.isoformat()} · generated "
        f"{generated_at.strftime('%Y-%m-%d %H:%M UTC')}"
    )
    nav = "".join(f'<a href="#view-{view.key}">{_escape(view.title)}</a>' for view in views)
    document = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>insightloop insights</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<header><h1>insightloop insights</h1><p class="meta">{_escape(meta)}</p>'
        f"{_filters(views, results)}</header>\n"
        f"{_health_strip(results)}\n<nav>{nav}</nav>\n<main>\n{sections}\n</main>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
    return document, page.charts


def render_report(
    warehouse: Path,
    out: Path,
    *,
    release_date: date | None = None,
    generated_at: datetime | None = None,
    queries_dir: Path = QUERIES_DIR,
    views: Sequence[View] = VIEWS,
) -> ReportSummary:
    """Run every view's dataset over ``warehouse`` (the local ``spark-warehouse`` folder)
    and write the report to ``out``.

    The window and its ``as_of`` are the Gold tables' own. ``release_date`` marks the
    release on the product view; by default 14 days before ``as_of``.
    """
    generated_at = generated_at or datetime.now(UTC)
    queries = load_queries(queries_dir)
    needed = [block.dataset for view in views for block in view.blocks]
    unknown = sorted(set(needed) - queries.keys())
    if unknown:
        raise ConfigError(f"views name datasets without a SQL file: {', '.join(unknown)}")
    with LocalWarehouse(warehouse) as local:
        window_rows = local.run(queries[WINDOW_DATASET]).records()
        window = window_rows[0] if window_rows else None
        as_of = window["as_of"] if window else None
        anchor = as_of or generated_at.date()
        release = release_date or anchor - timedelta(days=RELEASE_DAYS_BEFORE_AS_OF)
        results = local.run_all(
            [queries[name] for name in dict.fromkeys(needed)], {RELEASE_PARAMETER: release}
        )
    document, charts = _document(
        views, queries, results, window=window, release=release, generated_at=generated_at
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name, then renamed: a reader never sees half a page.
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(document, encoding="utf-8")
    os.replace(partial, out)
    empty = tuple(name for name, result in results.items() if not result.rows)
    logger.info(
        "report: %d datasets (%d empty), %d charts, %d bytes -> %s",
        len(results),
        len(empty),
        charts,
        len(document.encode()),
        out,
    )
    return ReportSummary(
        path=out,
        as_of=as_of,
        window_start=window["window_start"] if window else None,
        release_date=release,
        views=len(views),
        datasets=len(results),
        charts=charts,
        empty_datasets=empty,
        bytes=len(document.encode()),
    )
