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
from collections.abc import Sequence
from typing import Any

from shared.evaluation.metrics import REPORT_METRICS
from shared.evaluation.report_blocks import DASH, Bars, Block, Facts, Heading, Heatmap, Para, Table
from shared.evaluation.report_html import page

TEXT_SHOWN = 200
MISSES_SHOWN = 3
THEMES_CHARTED = 40

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


def _facts(report: dict[str, Any], runs: Sequence[dict[str, Any]]) -> Facts:
    dataset = _dict(report.get("dataset"))
    records = f"{_fmt(dataset.get('records'), 0)} scored"
    if _number(dataset.get("train_records")) is not None:
        records += f", {_fmt(dataset.get('train_records'), 0)} train"
    taxonomy = _line(dataset.get("taxonomy_version"))
    if _list(dataset.get("themes")):
        taxonomy += f" ({len(_list(dataset.get('themes')))} themes)"
    return Facts(
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
) -> Table:
    base = next((i for i, run in enumerate(runs) if run.get("kind") == "baseline"), None)
    table = Table(["metric", *(_line(run.get("name")) for run in runs)], [])
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


def _cost_table(runs: Sequence[dict[str, Any]]) -> Table:
    stats = [_dict(run.get("stats")) for run in runs]
    table = Table(["", *(_line(run.get("name")) for run in runs)], [])
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
) -> Table:
    header = ["theme", "support"]
    for run in runs:
        name = _line(run.get("name"))
        header += [f"{name} P", f"{name} R", f"{name} F1"]
    table = Table(header, [])
    for theme, support, scores in themes:
        cells = [_line(theme), _fmt(support, 0)]
        for score in scores:
            cells += [_fmt(_dict(score).get(key)) for key in ("precision", "recall", "f1")]
        table.rows.append(cells)
    return table


def _theme_bars(
    runs: Sequence[dict[str, Any]], themes: Sequence[tuple[str, float | None, list[Any]]]
) -> Bars:
    shown = themes[:THEMES_CHARTED]
    title = "Per-theme F1 by run"
    if len(themes) > len(shown):
        title += f" ({len(shown)} largest of {len(themes)} themes)"
    return Bars(
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


def _weakest(report: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    for entry in map(_dict, _list(report.get("weakest_themes"))):
        blocks.append(
            Heading(
                3,
                f"{_line(entry.get('theme'))} ({_line(entry.get('run'))}): "
                f"F1 {_fmt(entry.get('f1'))}, support {_fmt(entry.get('support'), 0)}",
            )
        )
        misses = [_dict(miss) for miss in _list(entry.get("misses"))][:MISSES_SHOWN]
        if not misses:
            blocks.append(Para("No misses recorded."))
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
        blocks.append(Table(["id", "text", "expected", "predicted"], rows, align="llll"))
    return blocks


def _report_blocks(report: dict[str, Any]) -> list[Block]:
    report = _dict(report)
    dataset = _dict(report.get("dataset"))
    runs = _runs(report)
    title = dataset.get("title") or dataset.get("name") or "unnamed dataset"
    blocks: list[Block] = [Heading(1, f"Evaluation: {_line(title)}"), _facts(report, runs)]
    if not runs:
        return [*blocks, Para("No runs in this report.")]

    headline = _headline_values(runs)
    blocks.append(Heading(2, "Headline metrics"))
    if headline:
        blocks.append(_headline_table(runs, headline))
        blocks.append(
            Bars(
                "Headline metrics by run (0 to 1)",
                [label for label, _ in headline],
                [values for _, values in headline],
                list(zip((_line(run.get("name")) for run in runs), _colours(runs), strict=True)),
            )
        )
    else:
        blocks.append(Para("No metrics were reported."))

    blocks += [Heading(2, "Cost and speed"), _cost_table(runs)]

    themes = _per_theme(runs)
    if themes:
        blocks += [
            Heading(2, "Per theme"),
            _theme_table(runs, themes),
            _theme_bars(runs, themes),
        ]

    confused: list[Block] = []
    for run in runs:
        if run.get("kind") != "candidate" or "themes" not in _dict(run.get("metrics")):
            continue
        pairs = _confused_pairs(run)
        confused.append(Heading(3, _line(run.get("name"))))
        confused.append(Heatmap(pairs) if pairs else Para("No confused pairs."))
    if confused:
        blocks += [Heading(2, "Most confused theme pairs"), *confused]

    weakest = _weakest(report)
    if weakest:
        blocks += [Heading(2, "Weakest themes"), *weakest]
    return blocks


def _compare_blocks(comparison: dict[str, Any]) -> list[Block]:
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
    table = Table(["metric", f"A: {a}", f"B: {b}", "delta", "verdict"], [], align="lrrrl")
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
        Heading(1, f"Comparison on {_line(comparison.get('dataset'))}: A {a} vs B {b}"),
        Para(summary, strong=True, tone="bad" if regressed else "good"),
        table if rows else Para("No metrics to compare."),
    ]


# --- Markdown ------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Plain text as Markdown that renders as itself: HTML-escaped, specials backslashed."""
    escaped = html.escape(" ".join(text.split()), quote=False)
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in escaped)


def _md_table(table: Table) -> list[str]:
    rule = {"l": ":---", "r": "---:"}
    lines = [
        "| " + " | ".join(_md(cell) for cell in table.header) + " |",
        "| " + " | ".join(rule[side] for side in table.alignment()) + " |",
    ]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table.rows]
    return [*lines, ""]


def _md_block(block: Block) -> list[str]:
    match block:
        case Heading(level, text):
            return ["#" * level + " " + _md(text), ""]
        case Para(text, strong, _):
            return [f"**{_md(text)}**" if strong else _md(text), ""]
        case Facts(items):
            return [*(f"- **{key}:** {_md(value)}" for key, value in items), ""]
        case Table():
            return _md_table(block)
        case Heatmap(pairs):
            rows = [[f"{expected} → {predicted}", str(n)] for expected, predicted, n in pairs]
            return _md_table(Table(["expected → predicted", "count"], rows))
    return []  # charts are HTML only; the tables beside them carry the same numbers


def _markdown(blocks: Sequence[Block]) -> str:
    lines = [line for block in blocks for line in _md_block(block)]
    return "\n".join(lines).rstrip() + "\n"


# --- public --------------------------------------------------------------------------------


def render_markdown(report: dict[str, Any]) -> str:
    """One dataset's report as Markdown: headline, cost, per theme, confusions, misses."""
    return _markdown(_report_blocks(report))


def render_html(report: dict[str, Any]) -> str:
    """The same report as one self-contained HTML page with inline SVG charts."""
    return page(_report_blocks(report))


def render_compare_markdown(comparison: dict[str, Any]) -> str:
    """``eval --compare A B`` as Markdown: the regression summary, then metric by metric."""
    return _markdown(_compare_blocks(comparison))


def render_compare_html(comparison: dict[str, Any]) -> str:
    """``eval --compare A B`` as one self-contained HTML page."""
    return page(_compare_blocks(comparison))


__all__ = [
    "render_compare_html",
    "render_compare_markdown",
    "render_html",
    "render_markdown",
]
