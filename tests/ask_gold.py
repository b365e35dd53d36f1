"""A small Gold warehouse with hand-computed numbers, for the ask tools' tests.

Parquet folders as the local Spark run writes them (``<warehouse>/<table>/*.parquet``).
Numbers are chosen so each tool's answer can be checked by hand: see the constants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

AS_OF = date(2026, 11, 29)  # a Sunday: the ISO week 2026-11-23..29
DELIVERY_KEY = "a" * 32
BILLING_KEY = "b" * 32
APP_KEY = "c" * 32
OLD_KEY = "d" * 32  # the previous week's insight: outside a 7-day window
LEAKED_EMAIL = "jane.doe@example.com"  # PII that slipped into Gold: the re-scan must mask it

EVIDENCE = pa.list_(
    pa.struct(
        [
            ("record_id", pa.string()),
            ("quote", pa.string()),
            ("sentiment", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
        ]
    )
)


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def _insight(
    key: str, rank: int, theme: str, product: str, segment: str, **values: Any
) -> dict[str, Any]:
    week = values.pop("week", (date(2026, 11, 23), date(2026, 11, 29)))
    return {
        "insight_id": key[:16],
        "insight_key": key,
        "theme": theme,
        "product": product,
        "segment": segment,
        "window_start": week[0],
        "window_end": week[1],
        "period_start": week[0],
        "period_end": week[1],
        "rank": rank,
        **values,
    }


INSIGHTS = [
    _insight(
        DELIVERY_KEY,
        1,
        "shipping",
        "speaker",
        "consumer",
        volume=40,
        previous_volume=20,
        velocity=1.0,
        negative_share=0.75,
        severity="high",
        severity_score=0.6,
        urgency_high=10,
        confidence=0.9,
        priority=48.0,
        suggested_owner="logistics",
        evidence=[
            {
                "record_id": "r1",
                "quote": "the parcel arrived two weeks late",
                "sentiment": "negative",
                "created_at": _at(28),
            },
            {
                "record_id": "r2",
                "quote": "courier left the box in the rain",
                "sentiment": "negative",
                "created_at": _at(27),
            },
        ],
    ),
    _insight(
        BILLING_KEY,
        2,
        "pricing_billing",
        "speaker",
        "business",
        volume=30,
        previous_volume=30,
        velocity=0.0,
        negative_share=0.5,
        severity="medium",
        severity_score=0.4,
        urgency_high=3,
        confidence=0.8,
        priority=12.0,
        suggested_owner="finance",
        evidence=[
            {
                "record_id": "r3",
                "quote": f"charged twice, write to {LEAKED_EMAIL}",
                "sentiment": "negative",
                "created_at": _at(26),
            },
        ],
    ),
    _insight(
        APP_KEY,
        3,
        "performance_bugs",
        "headphones",
        "consumer",
        volume=12,
        previous_volume=None,
        velocity=None,
        negative_share=0.25,
        severity="low",
        severity_score=0.1,
        urgency_high=0,
        confidence=0.7,
        priority=2.4,
        suggested_owner="mobile",
        evidence=[
            {
                "record_id": "r4",
                "quote": "the app crashes when pairing",
                "sentiment": "negative",
                "created_at": _at(25),
            },
        ],
    ),
    _insight(
        OLD_KEY,
        4,
        "shipping",
        "headphones",
        "consumer",
        week=(date(2026, 11, 9), date(2026, 11, 15)),
        volume=9,
        previous_volume=9,
        velocity=0.0,
        negative_share=0.5,
        severity="medium",
        severity_score=0.3,
        urgency_high=1,
        confidence=0.8,
        priority=2.7,
        suggested_owner="logistics",
        evidence=[],
    ),
]

RECORD_THEMES = [
    # record_id, theme, sentiment, product, segment, channel, day, evidence
    (
        "r1",
        "shipping",
        "negative",
        "speaker",
        "consumer",
        "review",
        28,
        "the parcel arrived two weeks late",
    ),
    (
        "r2",
        "shipping",
        "negative",
        "speaker",
        "consumer",
        "ticket",
        27,
        "courier left the box in the rain",
    ),
    (
        "r3",
        "pricing_billing",
        "negative",
        "speaker",
        "business",
        "ticket",
        26,
        f"charged twice, write to {LEAKED_EMAIL}",
    ),
    (
        "r4",
        "performance_bugs",
        "negative",
        "headphones",
        "consumer",
        "review",
        25,
        "the app crashes when pairing",
    ),
    (
        "r5",
        "shipping",
        "positive",
        "headphones",
        "consumer",
        "review",
        24,
        "delivery was quick and the parcel intact",
    ),
    (
        "r6",
        "shipping",
        "negative",
        "speaker",
        "consumer",
        "chat",
        23,
        "parcel lost, nobody answers",
    ),
]

# week_start -> (records, negative_records) for delivery; velocity/wow as Gold defines them.
DELIVERY_WEEKS = [
    (date(2026, 10, 26), 8, 2),
    (date(2026, 11, 2), 10, 4),
    (date(2026, 11, 9), 10, 5),
    (date(2026, 11, 16), 20, 10),
    (date(2026, 11, 23), 40, 30),
]

OUTCOMES = [
    {
        "insight_key": OLD_KEY,
        "theme": "shipping",
        "product": "headphones",
        "segment": "consumer",
        "owner": "logistics",
        "destination": "jira",
        "external_id": "OPS-7",
        "external_url": "https://jira.example/OPS-7",
        "routed_at": _at(10, 9),
        "triaged_at": _at(10, 15),
        "resolved_at": _at(14, 9),
        "status": "resolved",
        "hours_to_triage": 6.0,
        "hours_to_resolution": 96.0,
        "window_days": 7,
        "volume_before": 14,
        "volume_after": 7,
        "volume_per_day_before": 2.0,
        "volume_per_day_after": 1.0,
        "negative_share_before": 0.5,
        "negative_share_after": 0.25,
        "negative_share_delta": -0.25,
        "p_value": 0.03,
        "significant": True,
        "nps_before": -20.0,
        "nps_after": 10.0,
        "rating_before": 3.0,
        "rating_after": 4.0,
        "after_window_complete": True,
    },
    {
        "insight_key": DELIVERY_KEY,
        "theme": "shipping",
        "product": "speaker",
        "segment": "consumer",
        "owner": "logistics",
        "destination": "jira",
        "external_id": "OPS-9",
        "external_url": "https://jira.example/OPS-9",
        "routed_at": _at(28, 9),
        "triaged_at": None,
        "resolved_at": None,
        "status": "open",
        "hours_to_triage": None,
        "hours_to_resolution": None,
        "window_days": 7,
        "volume_before": 40,
        "volume_after": None,
        "volume_per_day_before": 5.7,
        "volume_per_day_after": None,
        "negative_share_before": 0.75,
        "negative_share_after": None,
        "negative_share_delta": None,
        "p_value": None,
        "significant": False,
        "nps_before": -40.0,
        "nps_after": None,
        "rating_before": 2.0,
        "rating_after": None,
        "after_window_complete": False,
    },
]

ALERTS = [
    {
        "alert_id": "e" * 32,
        "dimension": "product",
        "dimension_value": "speaker",
        "theme": "shipping",
        "metric": "volume",
        "period_start": date(2026, 11, 23),
        "period_end": AS_OF,
        "baseline_start": date(2026, 10, 26),
        "baseline_end": date(2026, 11, 22),
        "current_value": 40.0,
        "baseline_value": 12.0,
        "z_score": 4.2,
        "records": 40,
        "baseline_records": 48,
        "sensitivity": 3.0,
    },
    {
        "alert_id": "f" * 32,
        "dimension": "segment",
        "dimension_value": "business",
        "theme": "pricing_billing",
        "metric": "negative_share",
        "period_start": date(2026, 11, 23),
        "period_end": AS_OF,
        "baseline_start": date(2026, 10, 26),
        "baseline_end": date(2026, 11, 22),
        "current_value": 0.5,
        "baseline_value": 0.2,
        "z_score": 3.1,
        "records": 30,
        "baseline_records": 80,
        "sensitivity": 3.0,
    },
]


def _write(
    warehouse: Path, table: str, rows: list[dict[str, Any]], schema: pa.Schema | None = None
) -> None:
    folder = warehouse / table
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-00000.parquet")


def write_gold(warehouse: Path) -> Path:
    """Write every table the ask tools read; returns ``warehouse``."""
    insight_fields = [
        ("insight_id", pa.string()),
        ("insight_key", pa.string()),
        ("theme", pa.string()),
        ("product", pa.string()),
        ("segment", pa.string()),
        ("window_start", pa.date32()),
        ("window_end", pa.date32()),
        ("period_start", pa.date32()),
        ("period_end", pa.date32()),
        ("rank", pa.int32()),
        ("volume", pa.int64()),
        ("previous_volume", pa.int64()),
        ("velocity", pa.float64()),
        ("negative_share", pa.float64()),
        ("severity", pa.string()),
        ("severity_score", pa.float64()),
        ("urgency_high", pa.int64()),
        ("confidence", pa.float64()),
        ("priority", pa.float64()),
        ("suggested_owner", pa.string()),
        ("evidence", EVIDENCE),
    ]
    _write(warehouse, "gold_insights", INSIGHTS, pa.schema(insight_fields))
    _write(
        warehouse,
        "silver_record_themes",
        [
            {
                "record_id": rid,
                "theme": theme,
                "theme_rank": 0,
                "theme_sentiment": sentiment,
                "record_sentiment": sentiment,
                "urgency": "medium",
                "confidence": 0.9,
                "prompt_version": "v1",
                "source": "demo",
                "channel": channel,
                "product": product,
                "customer_segment": segment,
                "rating": 2,
                "nps_score": None,
                "order_value": None,
                "created_at": _at(day),
                "created_date": date(2026, 11, day),
                "created_week": date(2026, 11, 23 if day >= 23 else 16),
                "evidence": evidence,
            }
            for rid, theme, sentiment, product, segment, channel, day, evidence in RECORD_THEMES
        ],
    )
    weeks = []
    for index, (week, records, negative) in enumerate(DELIVERY_WEEKS):
        before = DELIVERY_WEEKS[index - 1][1] if index else None
        weeks.append(
            {
                "grain": "week",
                "theme": "shipping",
                "period_start": week,
                "records": records,
                "negative_records": negative,
                "negative_share": negative / records,
                "records_week_before": before,
                "wow_delta": None if before is None else records - before,
                "velocity": None if not before else (records - before) / before,
            }
        )
    weeks.append(  # a day row and another theme: neither belongs in delivery's weekly trend
        {
            "grain": "day",
            "theme": "shipping",
            "period_start": AS_OF,
            "records": 3,
            "negative_records": 1,
            "negative_share": 1 / 3,
            "records_week_before": 2,
            "wow_delta": 1,
            "velocity": 0.5,
        }
    )
    weeks.append(
        {
            "grain": "week",
            "theme": "pricing_billing",
            "period_start": date(2026, 11, 23),
            "records": 30,
            "negative_records": 15,
            "negative_share": 0.5,
            "records_week_before": 30,
            "wow_delta": 0,
            "velocity": 0.0,
        }
    )
    _write(warehouse, "gold_theme_volume", weeks)
    _write(warehouse, "gold_outcomes", OUTCOMES)
    _write(warehouse, "gold_alerts", ALERTS)
    _write(
        warehouse,
        "silver_feedback",
        [
            {
                "record_id": f"f{i}",
                "source": source,
                "channel": "review",
                "created_at": _at(day),
                "received_at": _at(day, 13),
                "rating": 3,
                "nps_score": None,
                "order_value": None,
                "product": "speaker",
                "customer_segment": "consumer",
                "created_date": date(2026, 11, day),
                "created_week": date(2026, 11, 23),
                "ingest_date": date(2026, 11, day),
            }
            for i, (source, day) in enumerate([("shop", 29), ("shop", 28), ("zendesk", 20)])
        ],
    )
    _write(
        warehouse,
        "bronze_quality_events",
        [
            {
                "run_id": "q1",
                "source": "zendesk",
                "input_name": "in.csv",
                "batch": 0,
                "kind": "batch",
                "passed": False,
                "action": "quarantine",
                "created_at": _at(20),
            },
            {
                "run_id": "q2",
                "source": "shop",
                "input_name": "in.csv",
                "batch": 0,
                "kind": "batch",
                "passed": True,
                "action": "land",
                "created_at": _at(28),
            },
        ],
    )
    _write(
        warehouse,
        "gold_drift",
        [
            {
                "metric": "theme_mix_tvd",
                "week_start": date(2026, 11, 23),
                "dimension": "all",
                "value": 0.4,
                "records": 100,
            },
            {
                "metric": "review_rate",
                "week_start": date(2026, 11, 23),
                "dimension": "all",
                "value": 0.1,
                "records": 100,
            },
        ],
    )
    _write(
        warehouse,
        "silver_expectations",
        [
            {
                "dataset": "silver_feedback",
                "expectation": "has_created_at",
                "condition": "x",
                "rows_checked": 100,
                "failed_rows": 4,
            },
            {
                "dataset": "silver_feedback",
                "expectation": "valid_record_id",
                "condition": "x",
                "rows_checked": 100,
                "failed_rows": 0,
            },
        ],
    )
    _write(
        warehouse,
        "silver_classifications",
        [
            {
                "record_id": "f0",
                "needs_review": True,
                "confidence": 0.4,
                "method": "llm",
                "prompt_version": "v1",
                "classified_at": _at(29),
            },
            {
                "record_id": "f1",
                "needs_review": False,
                "confidence": 0.9,
                "method": "llm",
                "prompt_version": "v1",
                "classified_at": _at(28),
            },
        ],
    )
    return warehouse
