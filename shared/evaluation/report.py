"""Renders an evaluation report, or a comparison of two runs, as Markdown or one HTML page.

Two inputs, both the JSON-able dicts the harness writes: a ``report`` for one dataset
(runs, metrics, cost, weakest themes) and a ``comparison`` from ``eval --compare A B``.
Any section or value may be missing; a gap renders as "—", never as an error.

Both renderers walk the same list of blocks, so the Markdown and the HTML say the same
thing; the HTML adds inline SVG charts. Every string from the data may be customer text,
so it is escaped, and the page is self-contained: inline CSS and SVG, no script, no URL.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.evaluation.metrics import REPORT_METRICS

DASH = "—"
TEXT_SHOWN = 200
MISSES_SHOWN = 3
THEMES_CHARTED = 40
CHART_LABEL_SHOWN = 32

# (stats key, label, decimals); cost is its own row because it carries the currency.
COST_ROWS: tuple[tuple[str, str, int], ...] = (
    ("records", "records", 0),
    ("records_per_s", "records/s", 1),
    ("seconds", "eval s", 1),
    ("train_seconds", "train s", 1),
    ("model_calls", "model calls", 0),
    ("prompt_tokens", "prompt tokens", 0),
    ("cached_tokens", "cached tokens", 0),
    ("completion_tokens", "completion tokens", 0),
    ("tokens_per_1k_records", "tokens per 1k records", 0),
)
VERDICT_SYMBOLS = {"better": "▲", "same": "=", "worse": "▼", "regressed": "✖"}
# Okabe-Ito: tells candidates apart for colour-blind readers; baselines stay grey.
CANDIDATE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00")
BASELINE_COLOURS = ("#8c8c8c", "#5f5f5f", "#b8b8b8")
# `_` is left alone: theme ids use it inside words, where it never makes emphasis.
_MD_SPECIAL = frozenset("\\`*[]|~")


@dataclass(slots=True)
class _Heading:
    level: int
    text: str


@dataclass(slots=True)
class _Para:
    text: str
    strong: bool = False
    tone: str = ""


@dataclass(slots=True)
class _Facts:
    items: list[tuple[str, str]]


@dataclass(slots=True)
class _Table:
    header: list[str]
    rows: list[list[str]]
    align: str = ""  # "l"/"r" per column; default: first left, the rest right
    row_classes: list[str] = field(default_factory=list)

    def alignment(self) -> str:
        return self.align or "l" + "r" * (len(self.header) - 1)


@dataclass(slots=True)
class _Bars:
    title: str
    labels: list[str]
    values: list[list[float | None]]  # one list per label, one value per series
    series: list[tuple[str, str]]  # (name, colour)


@dataclass(slots=True)
class _Heatmap:
    pairs: list[tuple[str, str, int]]


_Block = _Heading | _Para | _Facts | _Table | _Bars | _Heatmap


# --- reading the dicts defensively ---------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    # A bool is an int, but True in a metric slot is an upstream bug, not a score of 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _lookup(node: Any, dotted: str) -> float | None:
    """``node["themes"]["micro_f1"]`` for ``"themes.micro_f1"``; None when absent."""
    for part in dotted.split("."):
        node = _dict(node).get(part)
    return _number(node)


def _fmt(value: Any, digits: int = 3) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:,.{digits}f}"


def _signed(delta: float) -> str:
    # Rounded first so a -0.0004 reads "+0.000", not "-0.000".
    return f"{round(delta, 3) + 0.0:+.3f}"


def _line(value: Any, limit: int | None = None) -> str:
    """Data as one line of plain text, cut at ``limit`` characters; "—" when empty."""
    if value is None:
        return DASH
    text = " ".join(str(value).split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or DASH


def _names(values: Any) -> str:
    items = [values] if isinstance(values, str) else _list(values)
    return ", ".join(_line(item) for item in items) or DASH


def _runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    runs = [run for run in _list(report.get("runs")) if isinstance(run, dict)]
    # Candidates first and the baseline last, so the reference sits at the right edge.
    return sorted(runs, key=lambda run: run.get("kind") == "baseline")


def _colours(runs: Sequence[dict[str, Any]]) -> list[str]:
    colours, candidates, baselines = [], 0, 0
    for run in runs:
        if run.get("kind") == "baseline":
            colours.append(BASELINE_COLOURS[baselines % len(BASELINE_COLOURS)])
            baselines += 1
        else:
            colours.append(CANDIDATE_COLOURS[candidates % len(CANDIDATE_COLOURS)])
            candidates += 1
    return colours


# --- the report as blocks ------------------------------------------------------------------


def _describe_run(run: dict[str, Any]) -> str:
    text = f"{_line(run.get('name'))} ({_line(run.get('kind'))}: "
    text += f"{_line(run.get('provider'))} / {_line(run.get('model'))}"
    if run.get("prompt_version"):
        text += f", prompt {_line(run.get('prompt_version'))}"
    return text + ")"


def _facts(report: dict[str, Any], runs: Sequence[dict[str, Any]]) -> _Facts:
    dataset = _dict(report.get("dataset"))
    records = f"{_fmt(dataset.get('records'), 0)} scored"
    if _number(dataset.get("train_records")) is not None:
        records += f", {_fmt(dataset.get('train_records'), 0)} train"
    taxonomy = _line(dataset.get("taxonomy_version"))
    if _list(dataset.get("themes")):
        taxonomy += f" ({len(_list(dataset.get('themes')))} themes)"
    return _Facts(
        [
            ("dataset", _line(dataset.get("name"))),
            ("split", _line(dataset.get("split"))),
            ("records", records),
            ("licence", _line(dataset.get("licence"))),
            ("taxonomy", taxonomy),
            ("generated", _line(report.get("generated_at"))),
            ("command", _line(report.get("command"))),
            ("runs", "; ".join(_describe_run(run) for run in runs) or DASH),
        ]
    )


def _headline_values(runs: Sequence[dict[str, Any]]) -> list[tuple[str, list[float | None]]]:
    rows = []
    for dotted, label in REPORT_METRICS:
        values = [_lookup(run.get("metrics"), dotted) for run in runs]
        if any(value is not None for value in values):
            rows.append((label, values))
    return rows


def _headline_table(
    runs: Sequence[dict[str, Any]], rows: Sequence[tuple[str, list[float | None]]]
) -> _Table:
    base = next((i for i, run in enumerate(runs) if run.get("kind") == "baseline"), None)
    table = _Table(["metric", *(_line(run.get("name")) for run in runs)], [])
    for label, values in rows:
        cells = [label]
        for run, value in zip(runs, values, strict=True):
            cell = _fmt(value)
            reference = None if base is None else values[base]
            if run.get("kind") == "candidate" and value is not None and reference is not None:
                cell += f" ({_signed(value - reference)} vs {_line(runs[base].get('name'))})"
            cells.append(cell)
        table.rows.append(cells)
    return table


def _cost_table(runs: Sequence[dict[str, Any]]) -> _Table:
    stats = [_dict(run.get("stats")) for run in runs]
    table = _Table(["", *(_line(run.get("name")) for run in runs)], [])
    for key, label, digits in COST_ROWS:
        table.rows.append([label, *(_fmt(s.get(key), digits) for s in stats)])
    costs = []
    for s in stats:
        cost = _fmt(s.get("cost_per_1k_records"), 4)
        if cost != DASH and s.get("currency"):
            cost += f" {_line(s.get('currency'))}"
        costs.append(cost)
    table.rows.append(["cost per 1k records", *costs])
    return table


def _per_theme(runs: Sequence[dict[str, Any]]) -> list[tuple[str, float | None, list[Any]]]:
    """(theme, support, per-run metrics dict) sorted by support, largest first."""
    tables = [
        _dict(_dict(_dict(run.get("metrics")).get("themes")).get("per_theme")) for run in runs
    ]
    themes: dict[str, float | None] = {}
    for table in tables:
        for theme, scores in table.items():
            # Support is the gold count, the same for every run; take the first one known.
            if themes.get(theme) is None:
                themes[theme] = _number(_dict(scores).get("support"))
    ordered = sorted(themes.items(), key=lambda item: (-(item[1] or 0), str(item[0])))
    return [(theme, support, [table.get(theme) for table in tables]) for theme, support in ordered]


def _theme_table(
    runs: Sequence[dict[str, Any]], themes: Sequence[tuple[str, float | None, list[Any]]]
) -> _Table:
    header = ["theme", "support"]
    for run in runs:
        name = _line(run.get("name"))
        header += [f"{name} P", f"{name} R", f"{name} F1"]
    table = _Table(header, [])
    for theme, support, scores in themes:
        cells = [_line(theme), _fmt(support, 0)]
        for score in scores:
            cells += [_fmt(_dict(score).get(key)) for key in ("precision", "recall", "f1")]
        table.rows.append(cells)
    return table


def _theme_bars(
    runs: Sequence[dict[str, Any]], themes: Sequence[tuple[str, float | None, list[Any]]]
) -> _Bars:
    shown = themes[:THEMES_CHARTED]
    title = "Per-theme F1 by run"
    if len(themes) > len(shown):
        title += f" ({len(shown)} largest of {len(themes)} themes)"
    return _Bars(
        title,
        [f"{_line(theme)} ({_fmt(support, 0)})" for theme, support, _ in shown],
        [[_number(_dict(score).get("f1")) for score in scores] for _, _, scores in shown],
        list(zip((_line(run.get("name")) for run in runs), _colours(runs), strict=True)),
    )


def _confused_pairs(run: dict[str, Any]) -> list[tuple[str, str, int]]:
    themes = _dict(_dict(run.get("metrics")).get("themes"))
    pairs = [_dict(pair) for pair in _list(themes.get("confused_pairs"))]
    return [
        (_line(pair.get("expected")), _line(pair.get("predicted")), int(count))
        for pair in pairs
        if (count := _number(pair.get("count"))) is not None
    ]


def _weakest(report: dict[str, Any]) -> list[_Block]:
    blocks: list[_Block] = []
    for entry in map(_dict, _list(report.get("weakest_themes"))):
        blocks.append(
            _Heading(
                3,
                f"{_line(entry.get('theme'))} ({_line(entry.get('run'))}): "
                f"F1 {_fmt(entry.get('f1'))}, support {_fmt(entry.get('support'), 0)}",
            )
        )
        misses = [_dict(miss) for miss in _list(entry.get("misses"))][:MISSES_SHOWN]
        if not misses:
            blocks.append(_Para("No misses recorded."))
            continue
        rows = [
            [
                _line(miss.get("id")),
                _line(miss.get("text"), TEXT_SHOWN),
                _names(miss.get("expected")),
                _names(miss.get("predicted")),
            ]
            for miss in misses
        ]
        blocks.append(_Table(["id", "text", "expected", "predicted"], rows, align="llll"))
    return blocks


def _report_blocks(report: dict[str, Any]) -> list[_Block]:
    report = _dict(report)
    dataset = _dict(report.get("dataset"))
    runs = _runs(report)
    title = dataset.get("title") or dataset.get("name") or "unnamed dataset"
    blocks: list[_Block] = [_Heading(1, f"Evaluation: {_line(title)}"), _facts(report, runs)]
    if not runs:
        return [*blocks, _Para("No runs in this report.")]

    headline = _headline_values(runs)
    blocks.append(_Heading(2, "Headline metrics"))
    if headline:
        blocks.append(_headline_table(runs, headline))
        blocks.append(
            _Bars(
                "Headline metrics by run (0 to 1)",
                [label for label, _ in headline],
                [values for _, values in headline],
                list(zip((_line(run.get("name")) for run in runs), _colours(runs), strict=True)),
            )
        )
    else:
        blocks.append(_Para("No metrics were reported."))

    blocks += [_Heading(2, "Cost and speed"), _cost_table(runs)]

    themes = _per_theme(runs)
    if themes:
        blocks += [
            _Heading(2, "Per theme"),
            _theme_table(runs, themes),
            _theme_bars(runs, themes),
        ]

    confused: list[_Block] = []
    for run in runs:
        if run.get("kind") != "candidate" or "themes" not in _dict(run.get("metrics")):
            continue
        pairs = _confused_pairs(run)
        confused.append(_Heading(3, _line(run.get("name"))))
        confused.append(_Heatmap(pairs) if pairs else _Para("No confused pairs."))
    if confused:
        blocks += [_Heading(2, "Most confused theme pairs"), *confused]

    weakest = _weakest(report)
    if weakest:
        blocks += [_Heading(2, "Weakest themes"), *weakest]
    return blocks


def _compare_blocks(comparison: dict[str, Any]) -> list[_Block]:
    comparison = _dict(comparison)
    a, b = _line(comparison.get("a")), _line(comparison.get("b"))
    tolerance = _fmt(comparison.get("tolerance"))
    rows = [_dict(row) for row in _list(comparison.get("rows"))]
    regressions = sum(row.get("verdict") == "regressed" for row in rows)
    if regressions:
        summary = f"B regresses on {regressions} metric(s) beyond tolerance {tolerance}"
    elif comparison.get("regressed"):
        summary = f"B regresses beyond tolerance {tolerance}"
    else:
        summary = f"no regression beyond tolerance {tolerance}"
    table = _Table(["metric", f"A: {a}", f"B: {b}", "delta", "verdict"], [], align="lrrrl")
    for row in rows:
        delta = _number(row.get("delta"))
        if (
            delta is None
            and _number(row.get("a")) is not None
            and _number(row.get("b")) is not None
        ):
            delta = row["b"] - row["a"]
        verdict = _line(row.get("verdict"))
        symbol = VERDICT_SYMBOLS.get(verdict, "?")
        table.rows.append(
            [
                _line(row.get("label") or row.get("metric")),
                _fmt(row.get("a")),
                _fmt(row.get("b")),
                DASH if delta is None else _signed(delta),
                f"{symbol} {verdict}",
            ]
        )
        table.row_classes.append(verdict if verdict in VERDICT_SYMBOLS else "")
    regressed = bool(regressions or comparison.get("regressed"))
    return [
        _Heading(1, f"Comparison on {_line(comparison.get('dataset'))}: A {a} vs B {b}"),
        _Para(summary, strong=True, tone="bad" if regressed else "good"),
        table if rows else _Para("No metrics to compare."),
    ]


# --- Markdown ------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Plain text as Markdown that renders as itself: HTML-escaped, specials backslashed."""
    escaped = html.escape(" ".join(text.split()), quote=False)
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in escaped)


def _md_table(table: _Table) -> list[str]:
    rule = {"l": ":---", "r": "---:"}
    lines = [
        "| " + " | ".join(_md(cell) for cell in table.header) + " |",
        "| " + " | ".join(rule[side] for side in table.alignment()) + " |",
    ]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table.rows]
    return [*lines, ""]


def _md_block(block: _Block) -> list[str]:
    match block:
        case _Heading(level, text):
            return ["#" * level + " " + _md(text), ""]
        case _Para(text, strong, _):
            return [f"**{_md(text)}**" if strong else _md(text), ""]
        case _Facts(items):
            return [*(f"- **{key}:** {_md(value)}" for key, value in items), ""]
        case _Table():
            return _md_table(block)
        case _Heatmap(pairs):
            rows = [[f"{expected} → {predicted}", str(n)] for expected, predicted, n in pairs]
            return _md_table(_Table(["expected → predicted", "count"], rows))
    return []  # charts are HTML only; the tables beside them carry the same numbers


def _markdown(blocks: Sequence[_Block]) -> str:
    lines = [line for block in blocks for line in _md_block(block)]
    return "\n".join(lines).rstrip() + "\n"


# --- HTML ----------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d1d1f; background: #fff; margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 12px; }
h2 { font-size: 1.25em; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { font-weight: 600; color: #555; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { background: #f5f5f7; text-align: left; }
td.r, th.r { text-align: right; white-space: nowrap; }
td.l { overflow-wrap: anywhere; }
tr.regressed td { background: #fdecea; font-weight: 600; }
tr.worse td { background: #fff6e5; }
tr.better td { background: #eaf6ee; }
p.summary { padding: 8px 12px; border-radius: 4px; font-weight: 600; }
p.bad { background: #fdecea; color: #8a1c12; }
p.good { background: #eaf6ee; color: #1b5e20; }
figure { margin: 8px 0 20px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
ul.legend { list-style: none; padding: 0; margin: 0 0 4px; display: flex; gap: 16px; }
ul.legend span { display: inline-block; width: 12px; height: 12px; margin-right: 6px;
  vertical-align: -1px; border-radius: 2px; }
svg.chart { max-width: 100%; height: auto; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #1d1d1f; }
svg.chart text.tick { fill: #666; font-size: 11px; }
svg.chart line { stroke: #e0e0e0; }
table.heatmap td { text-align: center; min-width: 3em; }
table.heatmap th[scope=row] { text-align: right; }
""".strip()


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(table: _Table) -> str:
    align = table.alignment()
    head = "".join(
        f'<th class="{side}">{_h(cell)}</th>'
        for cell, side in zip(table.header, align, strict=True)
    )
    rows = []
    for i, row in enumerate(table.rows):
        cls = table.row_classes[i] if i < len(table.row_classes) else ""
        cells = "".join(
            f'<td class="{side}">{_h(cell)}</td>' for cell, side in zip(row, align, strict=True)
        )
        rows.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _short(label: str) -> str:
    return label if len(label) <= CHART_LABEL_SHOWN else label[: CHART_LABEL_SHOWN - 1] + "…"


def _html_bars(chart: _Bars) -> str:
    """Grouped horizontal bars on a 0..1 scale, one bar per series, value at its end."""
    label_w, bar_w, value_w = 230, 380, 60
    bar_h, gap, group_gap, top = 14, 2, 12, 26
    n = max(len(chart.series), 1)
    group_h = n * bar_h + (n - 1) * gap
    width = label_w + bar_w + value_w
    height = top + len(chart.labels) * (group_h + group_gap)
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<title>{_h(chart.title)}</title>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = label_w + tick * bar_w
        parts.append(f'<line x1="{x:g}" y1="{top - 6}" x2="{x:g}" y2="{height}"/>')
        parts.append(
            f'<text class="tick" x="{x:g}" y="{top - 10}" text-anchor="middle">{tick:g}</text>'
        )
    for i, (label, values) in enumerate(zip(chart.labels, chart.values, strict=True)):
        y0 = top + i * (group_h + group_gap)
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + group_h / 2:g}" text-anchor="end" '
            f'dominant-baseline="middle"><title>{_h(label)}</title>{_h(_short(label))}</text>'
        )
        for j, ((name, colour), value) in enumerate(zip(chart.series, values, strict=True)):
            y = y0 + j * (bar_h + gap)
            mid = f'y="{y + bar_h / 2:g}" dominant-baseline="middle"'
            shown = DASH if value is None else f"{value:.3f}"
            tip = f"<title>{_h(name)} · {_h(label)}: {shown}</title>"
            if value is None:
                parts.append(f'<text x="{label_w + 4}" {mid}>{tip}{DASH}</text>')
                continue
            w = max(0.0, min(1.0, value)) * bar_w
            parts.append(
                f'<g>{tip}<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{colour}"/><text x="{label_w + w + 4:.1f}" {mid}>{shown}</text></g>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<li><span style="background:{colour}"></span>{_h(name)}</li>'
        for name, colour in chart.series
    )
    return (
        f"<figure><figcaption>{_h(chart.title)}</figcaption>"
        f'<ul class="legend">{legend}</ul>{"".join(parts)}</figure>'
    )


def _html_heatmap(chart: _Heatmap) -> str:
    """Expected themes down, predicted across, cells shaded by how often they were swapped."""
    by_expected: Counter[str] = Counter()
    by_predicted: Counter[str] = Counter()
    counts: dict[tuple[str, str], int] = {}
    for expected, predicted, n in chart.pairs:
        by_expected[expected] += n
        by_predicted[predicted] += n
        counts[expected, predicted] = counts.get((expected, predicted), 0) + n
    top = max(counts.values(), default=0) or 1
    columns = [theme for theme, _ in by_predicted.most_common()]
    head = "".join(f'<th scope="col">{_h(theme)}</th>' for theme in columns)
    rows = []
    for expected, _ in by_expected.most_common():
        cells = []
        for predicted in columns:
            n = counts.get((expected, predicted))
            if n is None:
                cells.append("<td></td>")
                continue
            alpha = 0.12 + 0.88 * n / top
            ink = "#fff" if alpha > 0.55 else "#1d1d1f"
            tip = _h(f"expected {expected}, predicted {predicted}: {n}")
            cells.append(
                f'<td title="{tip}" style="background:rgba(0,114,178,{alpha:.2f});'
                f'color:{ink}">{n}</td>'
            )
        rows.append(f'<tr><th scope="row">{_h(expected)}</th>{"".join(cells)}</tr>')
    return (
        '<table class="heatmap"><thead><tr><th>expected ↓ / predicted →</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _html_block(block: _Block) -> str:
    match block:
        case _Heading(level, text):
            return f"<h{level}>{_h(text)}</h{level}>"
        case _Para(text, strong, tone):
            classes = " ".join(c for c in ("summary" if strong else "", tone) if c)
            return f'<p class="{classes}">{_h(text)}</p>' if classes else f"<p>{_h(text)}</p>"
        case _Facts(items):
            rows = "".join(f"<dt>{_h(key)}</dt><dd>{_h(value)}</dd>" for key, value in items)
            return f'<dl class="facts">{rows}</dl>'
        case _Table():
            return _html_table(block)
        case _Bars():
            return _html_bars(block)
        case _Heatmap():
            return _html_heatmap(block)
    return ""


def _page(blocks: Sequence[_Block]) -> str:
    title = next((b.text for b in blocks if isinstance(b, _Heading)), "Evaluation")
    body = "\n".join(_html_block(block) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


# --- public --------------------------------------------------------------------------------


def render_markdown(report: dict[str, Any]) -> str:
    """One dataset's report as Markdown: headline, cost, per theme, confusions, misses."""
    return _markdown(_report_blocks(report))


def render_html(report: dict[str, Any]) -> str:
    """The same report as one self-contained HTML page with inline SVG charts."""
    return _page(_report_blocks(report))


def render_compare_markdown(comparison: dict[str, Any]) -> str:
    """``eval --compare A B`` as Markdown: the regression summary, then metric by metric."""
    return _markdown(_compare_blocks(comparison))


def render_compare_html(comparison: dict[str, Any]) -> str:
    """``eval --compare A B`` as one self-contained HTML page."""
    return _page(_compare_blocks(comparison))


__all__ = [
    "render_compare_html",
    "render_compare_markdown",
    "render_html",
    "render_markdown",
]
