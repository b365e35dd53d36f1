"""An evaluation report's blocks as one self-contained HTML page: inline CSS and SVG charts,
every string escaped, no script, no URL."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence

from shared.evaluation.report_blocks import DASH, Bars, Block, Facts, Heading, Heatmap, Para, Table

CHART_LABEL_SHOWN = 32


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


def _html_table(table: Table) -> str:
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


def _html_bars(chart: Bars) -> str:
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


def _html_heatmap(chart: Heatmap) -> str:
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


def _html_block(block: Block) -> str:
    match block:
        case Heading(level, text):
            return f"<h{level}>{_h(text)}</h{level}>"
        case Para(text, strong, tone):
            classes = " ".join(c for c in ("summary" if strong else "", tone) if c)
            return f'<p class="{classes}">{_h(text)}</p>' if classes else f"<p>{_h(text)}</p>"
        case Facts(items):
            rows = "".join(f"<dt>{_h(key)}</dt><dd>{_h(value)}</dd>" for key, value in items)
            return f'<dl class="facts">{rows}</dl>'
        case Table():
            return _html_table(block)
        case Bars():
            return _html_bars(block)
        case Heatmap():
            return _html_heatmap(block)
    return ""


def page(blocks: Sequence[Block]) -> str:
    title = next((b.text for b in blocks if isinstance(b, Heading)), "Evaluation")
    body = "\n".join(_html_block(block) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
