"""The demo's closing summary: what happened, what we did, did it work.

Reads the Gold tables with the dashboards' own SQL files (the report's datasets), so the
summary and the report cannot disagree: the outcome funnel, before/after for the fix
that worked and the one that did not, time to triage and resolution, revenue at risk,
the canary, and the top insights by product and segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from shared.demo import DemoTimeline, InsightRef
from shared.report.queries import LocalWarehouse, load_queries

Row = dict[str, Any]
DATASETS = (
    "exec_outcome_funnel",
    "exec_outcomes",
    "exec_response_times",
    "exec_revenue_at_risk",
    "product_canary_agreement",
)
TOP_INSIGHTS_SQL = """
SELECT theme, product, segment, volume, negative_share, severity
FROM gold_insights ORDER BY volume * severity_score DESC, volume DESC LIMIT 5
"""


@dataclass(frozen=True)
class DemoSummary:
    datasets: dict[str, list[Row]]
    top_insights: list[Row]
    worked: Row | None
    failed: Row | None


def demo_summary(warehouse: Path, timeline: DemoTimeline) -> DemoSummary:
    queries = load_queries()
    with LocalWarehouse(warehouse) as local:
        datasets = {name: local.run(queries[name]).records() for name in DATASETS}
        cursor = local.connection.execute(TOP_INSIGHTS_SQL)
        columns = [column[0] for column in cursor.description or ()]
        top = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    outcomes = datasets["exec_outcomes"]
    return DemoSummary(
        datasets=datasets,
        top_insights=top,
        worked=_outcome_of(outcomes, timeline.expected.worked),
        failed=_outcome_of(outcomes, timeline.expected.failed),
    )


def _outcome_of(rows: Sequence[Row], ref: InsightRef) -> Row | None:
    for row in rows:
        if (row["theme"], row["product"], row["segment"]) == (ref.theme, ref.product, ref.segment):
            return row
    return None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    return "-" if value is None else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def print_demo_summary(console: Console, summary: DemoSummary) -> None:
    say = lambda text: console.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    say("\n[bold]7. What happened, what we did, did it work[/bold]")
    say("Top insights by product and segment (latest window):")
    for row in summary.top_insights:
        say(
            f"  {row['theme']} | {row['product']} | {row['segment']}: {row['volume']} records, "
            f"{_pct(row['negative_share'])} negative, severity {row['severity']}"
        )
    funnel = summary.datasets["exec_outcome_funnel"]
    say("Outcome funnel: " + " -> ".join(f"{r['stage']} {r['insights']}" for r in funnel))
    for label, row in (("Fix that worked", summary.worked), ("Fix that did not", summary.failed)):
        if row is None:
            say(f"{label}: [red]not in gold_outcomes[/red]")
            continue
        say(
            f"{label}: {row['insight']} (owner {row['owner']}, {row['external_id']}), "
            f"{row['status']} {row['resolved_date']}\n"
            f"    volume/day {_num(row['volume_per_day_before'])} -> "
            f"{_num(row['volume_per_day_after'])}, negative share "
            f"{_pct(row['negative_share_before'])} -> {_pct(row['negative_share_after'])} "
            f"(p {_p(row['p_value'])}), significant: {'yes' if row['significant'] else 'no'}"
        )
    for row in summary.datasets["exec_response_times"][:1]:
        say(
            f"Time to triage (median): {_num(row['median_hours_to_triage'], 1)} h, to "
            f"resolution: {_num(row['median_hours_to_resolution'], 1)} h "
            f"({row['routed']} routed, {row['triaged']} triaged, {row['resolved']} resolved)"
        )
    risk = summary.datasets["exec_revenue_at_risk"]
    say(
        "Revenue at risk (negative about the theme, window): "
        + (", ".join(f"{r['theme']} {r['revenue_at_risk']:,.0f}" for r in risk[:4]) or "none")
    )
    canary = summary.datasets["product_canary_agreement"]
    if canary:
        latest = max(r["week_start"] for r in canary)
        parts = [
            f"{r['compared']} {_pct(r['agreement'])} of {r['records']}"
            for r in canary
            if r["week_start"] == latest
        ]
        partial = any(r.get("partial") for r in canary if r["week_start"] == latest)
        week = f"{latest}{' (partial)' if partial else ''}"
        say(f"Canary {canary[0]['prompt_versions']}, week of {week}: " + ", ".join(parts))
    else:
        say("Canary: [red]no records classified by two prompt versions[/red]")


__all__ = ["DATASETS", "DemoSummary", "demo_summary", "print_demo_summary"]
