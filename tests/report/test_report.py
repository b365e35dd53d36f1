"""The role views: dashboard SQL run by DuckDB over hand-made Gold tables, numbers checked by
hand; the HTML report (formatting, empty states, masking, nothing fetched) and the generated
Lakeview dashboard (in sync with the SQL files, every widget reading real columns)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from shared.cli import main
from shared.errors import ConfigError
from shared.report import render_report
from shared.report.formatting import format_value
from shared.report.lakeview import DASHBOARD_PATH, build_dashboard, dashboard_text
from shared.report.queries import (
    QUERIES_DIR,
    LocalWarehouse,
    QueryResult,
    load_queries,
    parse_query,
)
from shared.report.views import VIEWS
from shared.settings import PROJECT_ROOT

RELEASE = date(2026, 1, 20)
# Raw feedback text and Silver's evidence: neither may ever reach the report.
RAW_TEXT = "Jane Doe at 555-0100 says the card was declined"
SILVER_ONLY_QUOTE = "silver evidence never shown"
EVIDENCE = pa.list_(
    pa.struct(
        [
            ("record_id", pa.string()),
            ("quote", pa.string()),
            ("sentiment", pa.string()),
            ("created_at", pa.timestamp("us")),
        ]
    )
)


def _write(root: Path, table: str, schema: pa.Schema, rows: list[dict[str, Any]]) -> None:
    """One parquet folder as Spark writes it: a part file and _SUCCESS."""
    folder = root / table
    folder.mkdir(parents=True)
    data = {name: [row.get(name) for row in rows] for name in schema.names}
    pq.write_table(pa.table(data, schema=schema), folder / "part-00000.snappy.parquet")
    (folder / "_SUCCESS").touch()


def _rows(columns: str, *values: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Rows written as a table: column names once, then one tuple per row."""
    names = columns.split()
    return [dict(zip(names, row, strict=True)) for row in values]


def _schema(spec: str) -> pa.Schema:
    """``"theme:s tickets:i rank:i32"``: name:type pairs, types from :data:`TYPES`."""
    return pa.schema([(name, TYPES[kind]) for name, kind in (f.split(":") for f in spec.split())])


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# The pipeline's reporting window (28 days up to as_of) and the ISO week of as_of.
WINDOW = {
    "period_start": _d("2026-01-08"),
    "period_end": _d("2026-02-04"),
    "window_start": _d("2026-02-02"),
    "window_end": _d("2026-02-08"),
}
TYPES = {
    "s": pa.string(),
    "i": pa.int64(),
    "i32": pa.int32(),
    "f": pa.float64(),
    "d": pa.date32(),
    "t": pa.timestamp("us"),
    "b": pa.bool_(),
    "evidence": EVIDENCE,
}


def _quote(record_id: str, quote: str, created: str) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "quote": quote,
        "sentiment": "negative",
        "created_at": _ts(created),
    }


def _gold(warehouse: Path) -> None:
    _write(
        warehouse,
        "gold_insights",
        _schema(
            "insight_id:s insight_key:s theme:s product:s segment:s window_start:d "
            "window_end:d period_start:d period_end:d volume:i previous_volume:i velocity:f "
            "negative_share:f severity:s severity_score:f urgency_high:i confidence:f "
            "evidence:evidence suggested_owner:s priority:f rank:i32"
        ),
        [
            dict(
                WINDOW,
                insight_id="i1",
                theme="checkout",
                product="Pasta Box",
                segment="consumer",
                volume=10,
                previous_volume=5,
                velocity=1.0,
                negative_share=0.8,
                severity="high",
                priority=16.0,
                suggested_owner="payments",
                rank=1,
                evidence=[
                    _quote("r1", "card <PHONE_NUMBER> declined", "2026-02-01T10:00"),
                    _quote("r2", "paid twice", "2026-01-30T10:00"),
                ],
            ),
            dict(
                WINDOW,
                insight_id="i2",
                theme="shipping",
                product="Ramen Kit",
                segment="smb",
                volume=6,
                previous_volume=6,
                velocity=0.0,
                negative_share=0.5,
                severity="medium",
                priority=3.0,
                suggested_owner="logistics",
                rank=2,
                evidence=[_quote("r5", "box arrived late", "2026-01-25T10:00")],
            ),
            dict(
                WINDOW,
                insight_id="i3",
                theme="login",
                product="unknown",
                segment="unknown",
                volume=4,
                previous_volume=0,
                velocity=None,
                negative_share=0.25,
                severity="low",
                priority=2.0,
                suggested_owner="identity",
                rank=3,
                evidence=[],
            ),
        ],
    )
    _write(
        warehouse,
        "gold_ticket_drivers",
        _schema(
            "theme:s period_start:d period_end:d tickets:i previous_tickets:i trend_delta:i "
            "trend:f share_of_tickets:f high_urgency_share:f rank:i32"
        ),
        _rows(
            "theme tickets previous_tickets trend_delta trend share_of_tickets rank",
            ("checkout", 4, 2, 2, 1.0, 4 / 6, 1),
            ("shipping", 1, 3, -2, -2 / 3, 1 / 6, 2),
            ("login", 1, 0, 1, None, 1 / 6, 3),
        ),
    )
    _write(
        warehouse,
        "gold_negative_share",
        _schema(
            "dimension:s dimension_value:s week_start:d records:i negative_records:i "
            "negative_share:f"
        ),
        _rows(
            "dimension dimension_value week_start records negative_records",
            ("channel", "review", _d("2026-01-19"), 10, 4),
            ("channel", "ticket", _d("2026-01-19"), 10, 6),
            ("channel", "review", _d("2026-01-26"), 5, 1),
            ("channel", "ticket", _d("2026-01-26"), 15, 3),
            # Another dimension over the same records: must not be added in.
            ("product", "Pasta Box", _d("2026-01-19"), 99, 99),
        ),
    )
    _write(
        warehouse,
        "gold_drift",
        _schema("metric:s week_start:d dimension:s value:f records:i"),
        _rows(
            "metric week_start dimension value records",
            ("theme_mix_tvd", _d("2026-01-19"), "all", 0.1, 20),
            ("theme_mix_tvd", _d("2026-01-26"), "all", 0.3, 20),
            ("review_rate", _d("2026-01-26"), "all", 0.2, 20),
            ("canary_themes_agreement", _d("2026-01-26"), "v1 vs v2", 0.75, 8),
            ("canary_sentiment_agreement", _d("2026-01-26"), "v1 vs v2", 0.9, 8),
            ("theme_share", _d("2026-01-26"), "checkout", 0.99, 20),
        ),
    )
    _write(
        warehouse,
        "gold_theme_volume",
        _schema("grain:s theme:s period_start:d records:i"),
        _rows(
            "grain theme period_start records",
            ("day", "checkout", _d("2026-01-10"), 3),
            ("day", "checkout", _d("2026-01-19"), 2),
            ("day", "checkout", _d("2026-01-20"), 4),
            ("day", "checkout", _d("2026-01-25"), 1),
            # Day +14 and day -15 around the release: outside both 14-day spans.
            ("day", "checkout", _d("2026-02-03"), 9),
            ("day", "shipping", _d("2026-01-05"), 7),
            ("day", "shipping", _d("2026-01-15"), 1),
            ("day", "shipping", _d("2026-01-22"), 0),
            ("week", "checkout", _d("2026-01-19"), 99),
        ),
    )
    _write(
        warehouse,
        "gold_outcomes",
        _schema(
            "insight_key:s theme:s product:s segment:s owner:s destination:s external_id:s "
            "external_url:s routed_at:t triaged_at:t resolved_at:t status:s "
            "hours_to_triage:f hours_to_resolution:f window_days:i32 volume_before:i "
            "volume_after:i volume_per_day_before:f volume_per_day_after:f "
            "negative_share_before:f negative_share_after:f negative_share_delta:f "
            "p_value:f significant:b nps_before:f nps_after:f rating_before:f "
            "rating_after:f after_window_complete:b"
        ),
        [
            {
                "theme": "checkout",
                "product": "Pasta Box",
                "segment": "consumer",
                "owner": "payments",
                "destination": "jira",
                "external_id": "PAY-1",
                "external_url": "https://example.atlassian.net/browse/PAY-1",
                "routed_at": _ts("2026-01-10T09:00"),
                "triaged_at": _ts("2026-01-10T21:00"),
                "resolved_at": _ts("2026-01-12T09:00"),
                "status": "resolved",
                "hours_to_triage": 12.0,
                "hours_to_resolution": 48.0,
                "negative_share_before": 0.8,
                "negative_share_after": 0.4,
                "negative_share_delta": -0.4,
                "significant": True,
                "after_window_complete": True,
                "nps_before": -10.0,
                "nps_after": 20.0,
            },
            {
                "theme": "shipping",
                "product": "Ramen Kit",
                "segment": "smb",
                "owner": "logistics",
                "destination": "servicenow",
                "external_id": "INC-2",
                "routed_at": _ts("2026-01-20T09:00"),
                "triaged_at": _ts("2026-01-20T15:00"),
                "status": "triaged",
                "hours_to_triage": 6.0,
                "negative_share_before": 0.5,
                "after_window_complete": False,
            },
            {
                "theme": "login",
                "product": "unknown",
                "segment": "unknown",
                "owner": "payments",
                "destination": "slack",
                "routed_at": _ts("2026-02-01T09:00"),
                "status": "open",
                "after_window_complete": False,
            },
        ],
    )


def _silver(warehouse: Path) -> None:
    themes = _rows(
        "record_id theme channel theme_sentiment urgency product order_value created_date",
        ("t1", "checkout", "ticket", "negative", "high", "Pasta Box", 120.0, "2026-01-13"),
        ("t2", "checkout", "ticket", "negative", "medium", "Pasta Box", 80.0, "2026-01-20"),
        ("t3", "checkout", "chat", "negative", "low", "Pasta Box", None, "2026-01-27"),
        ("t4", "checkout", "chat", "positive", "low", "Pasta Box", 50.0, "2026-02-03"),
        ("t5", "checkout", "ticket", "negative", "high", "Pasta Box", 30.5, "2026-02-02"),
        ("t6", "shipping", "ticket", "negative", "medium", "Ramen Kit", 200.0, "2026-01-14"),
        ("t6", "checkout", "ticket", "neutral", "medium", "Ramen Kit", 200.0, "2026-01-14"),
        ("t7", "shipping", "review", "negative", "low", "Ramen Kit", 40.0, "2026-01-21"),
        ("t8", "shipping", "chat", "positive", "low", "Ramen Kit", None, "2026-01-28"),
        ("t9", "login", "ticket", "neutral", "low", None, None, "2026-01-29"),
        # Before the window: only the weekly ticket trend (no window) counts it.
        ("t0", "checkout", "ticket", "negative", "high", "Pasta Box", 999.0, "2026-01-02"),
    )
    for row in themes:
        created = _d(row["created_date"])
        row |= {
            "created_date": created,
            "created_week": created - timedelta(days=created.weekday()),
            "created_at": datetime.combine(created, time(12)),
            "evidence": SILVER_ONLY_QUOTE,
        }
    _write(
        warehouse,
        "silver_record_themes",
        _schema(
            "record_id:s theme:s evidence:s theme_sentiment:s urgency:s channel:s product:s "
            "order_value:f nps_score:i32 created_at:t created_date:d created_week:d"
        ),
        themes,
    )
    feedback = _rows(
        "record_id source created_date received_at nps_score",
        ("f1", "reviews", "2026-02-01", "2026-02-02T08:00", None),
        ("f2", "reviews", "2026-01-20", "2026-01-21T08:00", None),
        ("f3", "tickets", "2026-02-03", "2026-02-04T09:30", None),
        ("n1", "nps", "2026-01-20", "2026-01-28T12:00", 10),
        ("n2", "nps", "2026-01-20", "2026-01-28T12:00", 9),
        ("n3", "nps", "2026-01-20", "2026-01-28T12:00", 7),
        ("n4", "nps", "2026-01-20", "2026-01-28T12:00", 3),
        ("n5", "nps", "2026-01-27", "2026-01-28T12:00", 0),
        ("n6", "nps", "2026-01-27", "2026-01-28T12:00", 6),
        ("n7", "nps", "2026-01-27", "2026-01-28T12:00", 8),
        ("n8", "nps", "2026-01-27", "2026-01-28T12:00", None),
    )
    for row in feedback:
        created, received = _d(row["created_date"]), _ts(row["received_at"])
        row |= {
            "created_date": created,
            "created_week": created - timedelta(days=created.weekday()),
            "received_at": received,
            "ingest_date": received.date(),
            "text": RAW_TEXT,
        }
    _write(
        warehouse,
        "silver_feedback",
        _schema(
            "record_id:s source:s text:s received_at:t nps_score:i32 created_date:d "
            "created_week:d ingest_date:d"
        ),
        feedback,
    )
    _write(
        warehouse,
        "silver_classifications",
        _schema("record_id:s needs_review:b classified_at:t"),
        _rows(
            "record_id needs_review classified_at",
            ("f1", True, _ts("2026-02-02T09:00")),
            ("f2", True, _ts("2026-01-21T09:00")),
            ("f3", False, _ts("2026-02-04T10:00")),
            ("n1", True, _ts("2026-01-28T13:00")),
            ("gone", True, _ts("2026-01-30T13:00")),
        ),
    )
    _write(
        warehouse,
        "silver_expectations",
        _schema("dataset:s expectation:s condition:s rows_checked:i failed_rows:i"),
        _rows(
            "dataset expectation rows_checked failed_rows",
            ("silver_feedback", "rating_in_range", 10, 2),
            ("silver_feedback", "has_created_at", 10, 0),
        ),
    )
    _write(
        warehouse,
        "bronze_quality_events",
        _schema("source:s kind:s passed:b summary:s created_at:t"),
        _rows(
            "source kind passed summary created_at",
            ("reviews", "batch", True, None, _ts("2026-02-01T08:00")),
            ("reviews", "batch", False, RAW_TEXT, _ts("2026-02-02T08:00")),
            ("reviews", "volume", False, None, _ts("2026-02-03T08:00")),
            ("tickets", "batch", True, None, _ts("2026-02-04T09:30")),
        ),
    )


def build_warehouse(root: Path) -> Path:
    """A small Gold run: window 2026-01-08..2026-02-04 (as_of), weeks start on Mondays."""
    warehouse = root / "spark-warehouse"
    _gold(warehouse)
    _silver(warehouse)
    return warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def ran(warehouse: Path) -> dict[str, QueryResult]:
    with LocalWarehouse(warehouse) as local:
        return local.run_all(list(load_queries().values()), {"release_date": RELEASE})


@pytest.fixture(scope="module")
def results(ran: dict[str, QueryResult]) -> dict[str, list[dict[str, Any]]]:
    return {name: result.records() for name, result in ran.items()}


@pytest.fixture(scope="module")
def report(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report") / "report.html"
    render_report(warehouse, out, release_date=RELEASE, generated_at=datetime(2026, 2, 5, 8, 0))
    return out, out.read_text(encoding="utf-8")


def _pick(rows: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(row[field] for field in fields) for row in rows]


# ----------------------------------------------------------------- the numbers


def test_queue_impact_counts_distinct_ticket_and_chat_contacts_in_the_window(results) -> None:
    rows = results["support_queue_impact"]
    # 8 queue contacts in the window (t1-t6, t8, t9); t6 mentions two themes; t7 is a review,
    # t0 is before the window.
    assert _pick(rows, "theme", "contacts", "tickets", "chats", "high_urgency") == [
        ("checkout", 6, 4, 2, 2),
        ("shipping", 2, 1, 1, 0),
        ("login", 1, 1, 0, 0),
    ]
    assert [row["share_of_queue"] for row in rows] == pytest.approx([6 / 8, 2 / 8, 1 / 8])


def test_ticket_drivers_keep_the_gold_ranking_and_the_weekly_trend_covers_every_week(
    results,
) -> None:
    assert _pick(results["support_ticket_drivers"], "rank", "theme", "trend_delta") == [
        (1, "checkout", 2),
        (2, "shipping", -2),
        (3, "login", 1),
    ]
    assert _pick(results["support_ticket_trend"], "week_start", "theme", "tickets") == [
        (date(2025, 12, 29), "checkout", 1),
        (date(2026, 1, 12), "checkout", 2),
        (date(2026, 1, 12), "shipping", 1),
        (date(2026, 1, 19), "checkout", 1),
        (date(2026, 1, 26), "login", 1),
        (date(2026, 2, 2), "checkout", 1),
    ]


def test_kb_candidates_are_themes_recurring_in_three_weeks_with_a_gold_quote(results) -> None:
    assert results["support_kb_candidates"] == [
        {
            "theme": "checkout",
            "contacts": 6,
            "weeks_present": 4,
            "high_urgency": 2,
            "example_product": "Pasta Box",
            "example_quote": "card <PHONE_NUMBER> declined",
            "example_record_id": "r1",
        }
    ]


def test_review_queue_counts_waiting_records_per_source(results) -> None:
    assert _pick(results["support_review_queue"], "source", "waiting", "oldest_waiting_since") == [
        ("reviews", 2, datetime(2026, 1, 21, 9, 0)),
        ("nps", 1, datetime(2026, 1, 28, 13, 0)),
        ("unknown", 1, datetime(2026, 1, 30, 13, 0)),
    ]


def test_revenue_at_risk_sums_order_value_of_negative_mentions_in_the_window(results) -> None:
    # shipping: t6 200 + t7 40; checkout: t1 120 + t2 80 + t5 30.5 (t3 has no order value,
    # t4 is positive, t6 is neutral about checkout, t0 is before the window).
    assert _pick(
        results["exec_revenue_at_risk"],
        "theme",
        "revenue_at_risk",
        "negative_records",
        "records_with_order_value",
    ) == [("shipping", 240.0, 2, 2), ("checkout", 230.5, 4, 3)]


def test_negative_rate_trend_per_week_for_reviews_and_all_channels(results) -> None:
    rows = results["exec_negative_rate_trend"]
    assert _pick(rows, "week_start", "series", "records") == [
        (date(2026, 1, 19), "all channels", 20),
        (date(2026, 1, 19), "reviews", 10),
        (date(2026, 1, 26), "all channels", 20),
        (date(2026, 1, 26), "reviews", 5),
    ]
    assert [row["negative_rate"] for row in rows] == pytest.approx([0.5, 0.4, 0.2, 0.2])


def test_nps_is_promoters_minus_detractors_per_week(results) -> None:
    rows = results["exec_nps_trend"]
    assert _pick(rows, "week_start", "respondents", "promoters", "detractors") == [
        (date(2026, 1, 19), 4, 2, 1),
        (date(2026, 1, 26), 3, 0, 2),
    ]
    assert [row["nps"] for row in rows] == pytest.approx([25.0, -200 / 3])
    # as_of 2026-02-04: both weeks ended before it, so neither is partial.
    assert [row["partial"] for row in rows] == [False, False]


def test_a_week_running_past_as_of_is_marked_partial_in_the_table_and_the_chart() -> None:
    from shared.report.charts import render_chart
    from shared.report.render import _cell
    from shared.report.views import Block, Chart, Column

    chart = Chart(kind="line", x="week_start", y="nps", y_label="NPS", y_kind="nps")
    block = Block(
        dataset="exec_nps_trend",
        chart=chart,
        columns=(Column(field="week_start", label="week", kind="date"),),
        date_field="week_start",
    )
    rows = [
        {"week_start": date(2026, 11, 16), "nps": 20.0, "partial": False},
        {"week_start": date(2026, 11, 23), "nps": -19.0, "partial": True},
    ]
    assert [_cell(row, block.columns[0], block) for row in rows] == [
        "2026-11-16",
        "2026-11-23 (partial)",
    ]
    svg = render_chart(chart, rows, title="NPS by week", key="t")
    assert svg is not None and svg.count(">partial<") == 1
    complete = render_chart(chart, [{**row, "partial": False} for row in rows], title="t", key="u")
    assert complete is not None and ">partial<" not in complete


def test_outcome_funnel_and_response_times(results) -> None:
    assert _pick(results["exec_outcome_funnel"], "stage", "insights") == [
        ("routed", 3),
        ("triaged", 2),
        ("resolved", 1),
        ("improved", 1),
    ]
    assert _pick(
        results["exec_response_times"],
        "owner",
        "routed",
        "triaged",
        "resolved",
        "median_hours_to_triage",
        "median_hours_to_resolution",
    ) == [
        ("all owners", 3, 2, 1, 9.0, 48.0),
        ("payments", 2, 1, 1, 12.0, 48.0),
        ("logistics", 1, 1, 0, 6.0, None),
    ]
    outcomes = results["exec_outcomes"]
    assert _pick(outcomes, "theme", "status", "negative_share_delta") == [
        ("login", "open", None),
        ("shipping", "triaged", None),
        ("checkout", "resolved", -0.4),
    ]


def test_product_sentiment_nets_positive_against_negative_mentions(results) -> None:
    rows = results["product_sentiment"]
    # Pairs with fewer than 3 mentions (Ramen Kit x checkout, unknown x login) are left out.
    assert _pick(rows, "product", "theme", "mentions", "negative", "positive") == [
        ("Pasta Box", "checkout", 5, 4, 1),
        ("Ramen Kit", "shipping", 3, 2, 1),
    ]
    assert [row["net_sentiment"] for row in rows] == pytest.approx([-0.6, -1 / 3])


def test_release_views_take_14_days_either_side_of_the_marker(results) -> None:
    assert _pick(
        results["product_release_correlation"], "day", "theme", "records", "days_from_release"
    ) == [
        (date(2026, 1, 10), "checkout", 3, -10),
        (date(2026, 1, 15), "shipping", 1, -5),
        (date(2026, 1, 19), "checkout", 2, -1),
        (date(2026, 1, 20), "checkout", 4, 0),
        (date(2026, 1, 22), "shipping", 0, 2),
        (date(2026, 1, 25), "checkout", 1, 5),
    ]
    assert _pick(
        results["product_release_shift"], "theme", "records_before", "records_after", "change"
    ) == [("shipping", 1, 0, -1), ("checkout", 5, 5, 0)]


def test_evidence_rows_are_gold_quotes_with_their_record_ids(results) -> None:
    assert _pick(results["product_evidence"], "rank", "quote", "record_id") == [
        (1, "card <PHONE_NUMBER> declined", "r1"),
        (1, "paid twice", "r2"),
        (2, "box arrived late", "r5"),
    ]
    assert _pick(results["product_top_themes"], "rank", "insight", "severity") == [
        (1, "checkout · Pasta Box · consumer", "high"),
        (2, "shipping · Ramen Kit · smb", "medium"),
        (3, "login · unknown · unknown", "low"),
    ]


def test_canary_agreement_per_prompt_pair(results) -> None:
    assert _pick(results["product_canary_agreement"], "series", "agreement") == [
        ("v1 vs v2 · sentiment", 0.9),
        ("v1 vs v2 · themes", 0.75),
    ]


def test_data_health_datasets(results) -> None:
    assert _pick(results["health_last_ingest"], "source", "records", "records_last_7_days") == [
        ("nps", 8, 4),  # the stalest source first
        ("reviews", 2, 1),
        ("tickets", 1, 1),
    ]
    assert _pick(
        results["health_quality_gate"],
        "source",
        "batches_checked",
        "batches_quarantined",
        "volume_alerts",
        "last_failure_at",
    ) == [("reviews", 2, 1, 1, datetime(2026, 2, 3, 8, 0)), ("tickets", 1, 0, 0, None)]
    assert _pick(results["health_drift_flags"], "signal", "value", "flagged") == [
        ("canary agreement on themes", 0.75, True),
        ("theme mix shift", 0.3, True),
        ("canary agreement on sentiment", 0.9, False),
        ("review rate", 0.2, False),
    ]
    assert _pick(results["health_expectations"], "expectation", "failed_share") == [
        ("rating_in_range", 0.2)
    ]
    assert results["health_reporting_window"] == [
        {
            "window_start": date(2026, 1, 8),
            "as_of": date(2026, 2, 4),
            "records_in_window": 11,
            "sources_in_window": 3,
        }
    ]


# ----------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (1234, "count", "1,234"),
        (9_999, "count", "9,999"),
        (12_500, "count", "12.5k"),
        (10_000, "count", "10k"),
        (3_400_000, "money", "3.4M"),
        (2_000_000_000, "count", "2B"),
        (230.5, "money", "230.5"),
        (0.34, "percent", "34%"),
        (0.045, "percent", "4.5%"),
        (0.0, "percent", "0%"),
        (1.0, "signed_percent", "+100%"),
        (-0.6, "signed_percent", "-60%"),
        (9.0, "hours", "9.0 h"),
        (-66.666, "nps", "-67"),
        (25.0, "nps", "+25"),
        (0.4, "nps", "0"),
        (0.125, "number", "0.12"),
        (True, "flag", "yes"),
        (date(2026, 1, 5), "date", "2026-01-05"),
        (datetime(2026, 1, 5, 7, 30), "date", "2026-01-05 07:30"),
        (None, "count", "—"),
        ("<b>", "text", "<b>"),
    ],
)
def test_format_value(value: Any, kind: Any, shown: str) -> None:
    assert format_value(value, kind) == shown


# ----------------------------------------------------------------- the HTML report


def test_report_shows_every_view_with_charts_and_formatted_numbers(report) -> None:
    _, page = report
    for view in VIEWS:
        assert f'id="view-{view.key}"' in page
    assert page.count("<svg ") >= sum(1 for v in VIEWS for b in v.blocks if b.chart) - 2
    assert "card &lt;PHONE_NUMBER&gt; declined" in page  # escaped, as Gold masked it
    assert "230.5" in page and "+25" in page and "75%" in page
    assert "release marker 2026-01-20" in page
    assert "Window 2026-01-08 to 2026-02-04" in page
    assert "databricks/src/dashboards/queries/exec_revenue_at_risk.sql" in page
    # The product filter offers every product a split table carries.
    assert '<option value="Pasta Box">' in page and '<option value="Ramen Kit">' in page


def test_report_never_shows_raw_text_or_silver_evidence(report) -> None:
    _, page = report
    assert "Jane Doe" not in page and "555-0100" not in page
    assert SILVER_ONLY_QUOTE not in page
    assert "example.atlassian.net" not in page  # ticket URLs are not rendered either


def test_report_fetches_nothing(report) -> None:
    _, page = report
    assert re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I) == []
    assert re.findall(r"<(?:link|iframe|img|object|embed)\b", page, re.I) == []
    assert re.findall(r"<script\b[^>]*\bsrc\b", page, re.I) == []
    assert "@import" not in page
    # url() only for the SVGs' own clip paths (#id), never for something to fetch.
    assert re.findall(r"url\(\s*['\"]?(?!#)", page) == []


def test_empty_warehouse_renders_empty_states(tmp_path: Path) -> None:
    warehouse = tmp_path / "spark-warehouse"
    (warehouse / "bronze_quality_events" / "_spark_metadata").mkdir(parents=True)
    out = tmp_path / "report.html"
    summary = render_report(warehouse, out, generated_at=datetime(2026, 2, 5, 8, 0))
    page = out.read_text(encoding="utf-8")
    blocks = sum(len(view.blocks) for view in VIEWS)
    assert summary.as_of is None and summary.charts == 0
    assert len(summary.empty_datasets) == summary.datasets == blocks
    assert page.count("No data in the window yet.") == blocks
    assert "No source has landed feedback yet." in page
    assert summary.release_date == date(2026, 1, 22)  # 14 days before the generation date


def test_a_missing_column_reads_as_null_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = tmp_path / "spark-warehouse"
    _write(
        warehouse,
        "silver_expectations",
        _schema("dataset:s expectation:s failed_rows:i"),
        [{"dataset": "silver_feedback", "expectation": "x", "failed_rows": 3}],
    )
    query = load_queries()["health_expectations"]
    with caplog.at_level("WARNING"), LocalWarehouse(warehouse) as local:
        rows = local.run(query).records()
    assert _pick(rows, "failed_rows", "rows_checked", "failed_share") == [(3, None, None)]
    assert "silver_expectations has no column(s) condition, rows_checked" in caplog.text


def test_a_missing_warehouse_is_a_config_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="no Gold tables at"):
        render_report(tmp_path / "nowhere", tmp_path / "report.html")
    assert main(["report", "--warehouse", str(tmp_path / "nowhere")]) == 2
    assert "no Gold tables at" in capsys.readouterr().out


def test_cli_report_writes_the_page(warehouse: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "report.html"
    code = main(
        ["report", "--warehouse", str(warehouse), "--out", str(out), "--release-date", "2026-01-20"]
    )
    assert code == 0
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "window 2026-01-08 to 2026-02-04" in capsys.readouterr().out


# ----------------------------------------------------------------- the SQL files


@pytest.mark.parametrize("path", sorted(QUERIES_DIR.glob("*.sql")), ids=lambda path: path.stem)
def test_dataset_files_stay_in_the_sql_both_engines_run(path: Path) -> None:
    sql = path.read_text(encoding="utf-8")
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    # DuckDB-only casts, 0- vs 1-based indexing, and date_sub (a DuckDB difference function).
    assert "::" not in code
    assert not re.search(r"\w\[", code)
    assert not re.search(r"\bdate_sub\s*\(", code, re.I)
    # Tables by bare name: the bundle sets the catalog and schema.
    assert not re.search(r"\b(?:FROM|JOIN)\s+\w+\.\w+", code, re.I)


def test_query_headers_are_checked() -> None:
    with pytest.raises(ConfigError, match="lacks answers"):
        parse_query("x", "-- title: X\nSELECT 1")
    with pytest.raises(ConfigError, match="parameters used"):
        parse_query("x", "-- title: X\n-- answers: Y?\nSELECT CAST(:day AS DATE)")


# ----------------------------------------------------------------- Lakeview


def test_the_committed_dashboard_is_generated_from_the_sql_files() -> None:
    assert DASHBOARD_PATH.read_text(encoding="utf-8") == dashboard_text(load_queries()), (
        "stale: run .venv/bin/python -m shared.report.lakeview"
    )


def test_every_widget_reads_existing_dataset_columns(ran: dict[str, QueryResult]) -> None:
    dashboard = build_dashboard(load_queries())
    datasets = {dataset["name"]: dataset for dataset in dashboard["datasets"]}
    # The SELECT lists Databricks runs are the files DuckDB ran here, so their columns match.
    columns = {name: set(ran[name].columns) for name in datasets}
    pages = dashboard["pages"]
    assert [page["displayName"] for page in pages] == [view.title for view in VIEWS]
    names = [item["widget"]["name"] for page in pages for item in page["layout"]]
    assert len(names) == len(set(names))
    versions = {"bar": 3, "line": 3, "table": 2, "counter": 2}
    for page in pages:
        for item in page["layout"]:
            widget, position = item["widget"], item["position"]
            assert position["x"] >= 0 and position["x"] + position["width"] <= 6
            if "multilineTextboxSpec" in widget:
                continue
            spec = widget["spec"]
            for entry in widget["queries"]:
                query = entry["query"]
                assert query["datasetName"] in datasets
                for parameter in query.get("parameters", []):
                    declared = datasets[query["datasetName"]]["parameters"]
                    assert parameter["keyword"] in {p["keyword"] for p in declared}
                for field in query.get("fields", []):
                    referenced = set(re.findall(r"`([^`]+)`", field["expression"]))
                    assert referenced <= columns[query["datasetName"]] | {
                        "associative_filter_predicate_group"
                    }, (widget["name"], field)
            if spec["widgetType"] in versions:
                assert spec["version"] == versions[spec["widgetType"]]
                fields = {f["name"] for f in widget["queries"][0]["query"]["fields"]}
                encoded = _encoded_fields(spec["encodings"])
                assert encoded and encoded <= fields, widget["name"]


def _encoded_fields(encodings: dict[str, Any]) -> set[str]:
    found = set()
    for value in encodings.values():
        if isinstance(value, dict) and "fieldName" in value:
            found.add(value["fieldName"])
        if isinstance(value, list):
            found |= {item["fieldName"] for item in value if "fieldName" in item}
    return found


def test_bundle_deploys_the_dashboard_with_the_pipeline_schema() -> None:
    bundle = PROJECT_ROOT / "databricks"
    resource = yaml.safe_load((bundle / "resources" / "insightloop.dashboard.yml").read_text())
    (dashboard,) = resource["resources"]["dashboards"].values()
    assert (bundle / "resources" / dashboard["file_path"]).resolve() == DASHBOARD_PATH
    assert dashboard["warehouse_id"] == "${var.warehouse_id}"
    assert dashboard["dataset_catalog"] == "${var.catalog}"
    assert dashboard["dataset_schema"] == "${resources.schemas.insightloop.name}"
    variables = yaml.safe_load((bundle / "databricks.yml").read_text())["variables"]
    assert {"warehouse_id", "catalog", "schema"} <= variables.keys()
    json.loads(DASHBOARD_PATH.read_text(encoding="utf-8"))
