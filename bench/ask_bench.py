#!/usr/bin/env python
"""Ask benchmark: latency of each ask tool on Gold the size 1,000,000 records produce.

Gold is synthesized, not built: running the Spark pipeline over 1M records takes ~6 min of
this machine's 2 cores, so the parquet tables are written directly at the row counts that
landing produces (bench/gold_bench.py's shape: 13 weeks, 24 products, 3 segments, 13
themes, 1-3 themes per record, 4% in review, files of 20,000 rows). Per table:

    silver_feedback, silver_classifications    1,000,000 rows
    silver_record_themes                        ~2,000,000 rows (one per record and theme)
    gold_insights                               864 (12 themes x 24 products x 3 segments)
    gold_theme_volume                           1,352 (13 themes x (91 days + 13 weeks))
    gold_outcomes                               2,000 routed insights
    gold_alerts, gold_drift, bronze_quality_events, silver_expectations: tens to hundreds

Each tool is called ``--repeat`` times through ``GoldTools`` (validation, DuckDB over the
parquet, row cap, PII re-scan of quotes, pydantic output) and, beside it, the same SQL
files through the report's path (``LocalWarehouse.run``: the query, every row fetched, no
validation or re-scan), on the same tables in the same run. p50/p95 of each, and the
ratio tool/report, are printed as a Markdown table; also the one-time costs (opening the
tables, the masker's first use).

    .venv/bin/python bench/ask_bench.py                 # 1,000,000 records, 30 calls each
    .venv/bin/python bench/ask_bench.py --records 100000 --repeat 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shared.ask import QuoteScanner
from shared.ask.backends import ASK_TABLE_COLUMNS, DuckDbGold
from shared.ask.tools import HEALTH_DATASETS, GoldTools, tool_queries
from shared.enrich.enrichment import PII_CONFIG
from shared.enrich.masking import get_masker
from shared.report.queries import LocalWarehouse
from shared.settings import Settings

FILE_ROWS = 20_000
WEEKS = 13
AS_OF = date(2026, 3, 1)
PRODUCTS = [f"Product {n:02d}" for n in range(24)]
SEGMENTS = ["consumer", "business", "enterprise"]
CHANNELS = ["review", "ticket", "chat", "survey", "social"]
SENTIMENTS = ["negative", "negative", "positive", "neutral", "mixed"]
THEMES = {
    "shipping": "parcel arrived late",
    "returns_refunds": "still waiting for my refund",
    "pricing_billing": "charged twice this month",
    "checkout_payment": "card was declined at checkout",
    "product_quality": "broke after a week",
    "sizing_fit": "runs a size small",
    "setup_usability": "setup instructions are confusing",
    "account_login": "cannot log in to my account",
    "performance_bugs": "the app crashes on start",
    "customer_service": "support never answered",
    "feature_request": "please add dark mode",
    "praise": "love the sound quality",
    "other": "no idea what this is about",
}
OPENERS = ["honestly", "again", "sadly", "well", "so", "today", "as usual", "frankly"]


def _write(folder: Path, table: pa.Table, files: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    step = max(1, -(-table.num_rows // files))
    for index, start in enumerate(range(0, max(table.num_rows, 1), step)):
        pq.write_table(table.slice(start, step), folder / f"part-{index:05d}.parquet")


def synthesize(warehouse: Path, records: int, seed: int = 7) -> dict[str, int]:
    """Write every table the ask tools read, at the sizes ``records`` produce."""
    rng = np.random.default_rng(seed)
    files = max(1, records // FILE_ROWS)
    days = WEEKS * 7
    start = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC) - timedelta(days=days - 1)
    ids = np.char.add("rec-", np.char.zfill(np.arange(records).astype(str), 7))
    offsets = rng.integers(0, days * 86_400, records)
    created = np.datetime64(start.replace(tzinfo=None), "s") + offsets.astype("timedelta64[s]")
    created_date = created.astype("datetime64[D]")
    weekday = (created_date.astype("int64") - 4) % 7  # 1970-01-01 was a Thursday
    created_week = created_date - weekday.astype("timedelta64[D]")
    product = rng.integers(0, len(PRODUCTS), records)
    segment = rng.integers(0, len(SEGMENTS), records)
    channel = rng.integers(0, len(CHANNELS), records)
    products = np.array(PRODUCTS)[product]
    segments = np.array(SEGMENTS)[segment]
    channels = np.array(CHANNELS)[channel]
    rating = rng.integers(1, 6, records)
    feedback = pa.table(
        {
            "record_id": ids,
            "source": np.array(["reviews", "zendesk", "chat", "survey"])[channel % 4],
            "channel": channels,
            "created_at": pa.array(created, pa.timestamp("s", tz="UTC")),
            "received_at": pa.array(
                created + np.timedelta64(3600, "s"), pa.timestamp("s", tz="UTC")
            ),
            "rating": rating.astype("int32"),
            "nps_score": rng.integers(0, 11, records).astype("int32"),
            "order_value": rng.random(records) * 200,
            "product": products,
            "customer_segment": segments,
            "created_date": pa.array(created_date),
            "created_week": pa.array(created_week),
            "ingest_date": pa.array(created_date),
        }
    )
    _write(warehouse / "silver_feedback", feedback, files)
    in_review = rng.random(records) < 0.04
    _write(
        warehouse / "silver_classifications",
        pa.table(
            {
                "record_id": ids,
                "needs_review": in_review,
                "confidence": rng.random(records),
                "method": np.where(in_review, "llm", "rules"),
                "prompt_version": np.full(records, "v3"),
                "classified_at": pa.array(created, pa.timestamp("s", tz="UTC")),
            }
        ),
        files,
    )
    # One row per record and theme: 1-3 themes each (mean 2), none for records in review.
    per_record = np.where(in_review, 0, rng.integers(1, 4, records))
    index = np.repeat(np.arange(records), per_record)
    names = np.array(list(THEMES))
    theme = rng.integers(0, len(names), index.size)
    sentiment = np.array(SENTIMENTS)[rng.integers(0, len(SENTIMENTS), index.size)]
    opener = np.array(OPENERS)[rng.integers(0, len(OPENERS), index.size)]
    evidence = np.char.add(np.char.add(opener, " "), np.array(list(THEMES.values()))[theme])
    rank = np.arange(index.size) - np.repeat(np.cumsum(per_record) - per_record, per_record)
    _write(
        warehouse / "silver_record_themes",
        pa.table(
            {
                "record_id": ids[index],
                "theme": names[theme],
                "theme_rank": rank.astype("int32"),
                "theme_sentiment": sentiment,
                "record_sentiment": sentiment,
                "urgency": np.array(["low", "medium", "high"])[rng.integers(0, 3, index.size)],
                "confidence": rng.random(index.size),
                "prompt_version": np.full(index.size, "v3"),
                "source": np.full(index.size, "reviews"),
                "channel": channels[index],
                "product": products[index],
                "customer_segment": segments[index],
                "rating": rating[index].astype("int32"),
                "nps_score": np.zeros(index.size, "int32"),
                "order_value": np.zeros(index.size),
                "created_at": pa.array(created[index], pa.timestamp("s", tz="UTC")),
                "created_date": pa.array(created_date[index]),
                "created_week": pa.array(created_week[index]),
                "evidence": evidence,
            }
        ),
        files,
    )
    week_start = AS_OF - timedelta(days=6)
    insights = []
    for t, name in enumerate(n for n in THEMES if n != "other"):
        for p, prod in enumerate(PRODUCTS):
            for s, seg in enumerate(SEGMENTS):
                volume = int(rng.integers(40, 160))
                key = f"{t:02d}{p:02d}{s:02d}".ljust(32, "0")
                insights.append(
                    {
                        "insight_id": key[:16],
                        "insight_key": key,
                        "theme": name,
                        "product": prod,
                        "segment": seg,
                        "window_start": week_start,
                        "window_end": AS_OF,
                        "period_start": week_start,
                        "period_end": AS_OF,
                        "volume": volume,
                        "previous_volume": volume - 10,
                        "velocity": 10 / (volume - 10),
                        "negative_share": float(rng.random()),
                        "severity": "high",
                        "severity_score": float(rng.random()),
                        "urgency_high": 3,
                        "confidence": 0.8,
                        "priority": float(rng.random() * volume),
                        "suggested_owner": "team",
                        "evidence": [
                            {
                                "record_id": f"rec-{int(rng.integers(0, records)):07d}",
                                "quote": f"{OPENERS[k]} {THEMES[name]}",
                                "sentiment": "negative",
                                "created_at": datetime(2026, 2, 28, tzinfo=UTC),
                            }
                            for k in range(4)
                        ],
                    }
                )
    insights.sort(key=lambda row: -row["priority"])
    for position, row in enumerate(insights, 1):
        row["rank"] = position
    _write(warehouse / "gold_insights", pa.Table.from_pylist(insights))
    volume_rows = []
    for name in THEMES:
        for grain, periods, step in (("day", days, 1), ("week", WEEKS, 7)):
            for n in range(periods):
                count = int(rng.integers(100, 20_000))
                volume_rows.append(
                    {
                        "grain": grain,
                        "theme": name,
                        # AS_OF is a Sunday: weeks start on the Mondays before it.
                        "period_start": AS_OF - timedelta(days=step * (periods - 1 - n) + step - 1),
                        "records": count,
                        "negative_records": count // 3,
                        "negative_share": 1 / 3,
                        "records_week_before": count,
                        "wow_delta": 0,
                        "velocity": 0.0,
                    }
                )
    _write(warehouse / "gold_theme_volume", pa.Table.from_pylist(volume_rows))
    statuses = ["open", "triaged", "rejected", "resolved"]
    outcomes = [
        {
            "insight_key": f"{n:032d}",
            "theme": names[n % 12],
            "product": PRODUCTS[n % 24],
            "segment": SEGMENTS[n % 3],
            "owner": "team",
            "destination": "jira",
            "external_id": f"OPS-{n}",
            "external_url": f"https://jira.example/OPS-{n}",
            "routed_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n),
            "triaged_at": None,
            "resolved_at": None,
            "status": statuses[n % 4],
            "hours_to_triage": 5.0,
            "hours_to_resolution": None,
            "window_days": 14,
            "volume_before": 100,
            "volume_after": 80,
            "volume_per_day_before": 7.1,
            "volume_per_day_after": 5.7,
            "negative_share_before": 0.5,
            "negative_share_after": 0.4,
            "negative_share_delta": -0.1,
            "p_value": 0.04,
            "significant": True,
            "nps_before": -10.0,
            "nps_after": 5.0,
            "rating_before": 3.0,
            "rating_after": 3.5,
            "after_window_complete": True,
        }
        for n in range(2_000)
    ]
    _write(warehouse / "gold_outcomes", pa.Table.from_pylist(outcomes))
    alerts = [
        {
            "alert_id": f"{n:032x}",
            "dimension": "product",
            "dimension_value": PRODUCTS[n % 24],
            "theme": names[n % 12],
            "metric": "volume",
            "period_start": AS_OF - timedelta(days=6),
            "period_end": AS_OF,
            "baseline_start": AS_OF - timedelta(days=97),
            "baseline_end": AS_OF - timedelta(days=7),
            "current_value": 100.0,
            "baseline_value": 50.0,
            "z_score": 3.0 + n / 100,
            "records": 100,
            "baseline_records": 600,
            "sensitivity": 3.0,
        }
        for n in range(60)
    ]
    _write(warehouse / "gold_alerts", pa.Table.from_pylist(alerts))
    drift = [
        {
            "metric": metric,
            "week_start": AS_OF - timedelta(days=7 * w + 6),
            "dimension": "all",
            "value": 0.1,
            "records": records // WEEKS,
        }
        for metric in ("theme_mix_tvd", "sentiment_mix_tvd", "language_mix_tvd", "review_rate")
        for w in range(WEEKS)
    ]
    _write(warehouse / "gold_drift", pa.Table.from_pylist(drift))
    events = [
        {
            "run_id": f"run-{n}",
            "source": ["reviews", "zendesk", "chat", "survey"][n % 4],
            "input_name": f"in-{n}.csv",
            "batch": 0,
            "kind": "batch",
            "passed": n % 17 != 0,
            "action": "land",
            "created_at": datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=n),
        }
        for n in range(files)
    ]
    _write(warehouse / "bronze_quality_events", pa.Table.from_pylist(events))
    expectations = [
        {
            "dataset": "silver_feedback",
            "expectation": f"rule_{n}",
            "condition": "x",
            "rows_checked": records,
            "failed_rows": n,
        }
        for n in range(15)
    ]
    _write(warehouse / "silver_expectations", pa.Table.from_pylist(expectations))
    return {
        "silver_feedback": records,
        "silver_record_themes": int(index.size),
        "gold_insights": len(insights),
        "gold_theme_volume": len(volume_rows),
        "gold_outcomes": len(outcomes),
    }


# tool -> (arguments, the SQL files it runs with their parameters)
CASES: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {
    "top_insights": (
        {"window_days": 7, "limit": 10},
        [("top_insights", {"window_days": 7, "product": None, "segment": None})],
    ),
    "theme_trend": (
        {"theme": "shipping", "weeks": 8},
        [("theme_trend", {"theme": "shipping", "weeks": 8})],
    ),
    "search_evidence": (
        {"query": "refund", "sentiment": "negative", "limit": 10},
        [
            (
                "search_evidence",
                {"query": "refund", "theme": None, "sentiment": "negative", "product": None},
            )
        ],
    ),
    "insight_detail": (
        {"insight_key": "00000000".ljust(32, "0")},
        [
            ("insight_detail", {"insight_key": "00000000".ljust(32, "0")}),
            ("insight_evidence", {"insight_key": "00000000".ljust(32, "0")}),
        ],
    ),
    "outcomes": ({"status": "resolved", "limit": 20}, [("exec_outcomes", {})]),
    "alerts": ({"window_days": 7, "limit": 20}, [("alerts", {"window_days": 7})]),
    "data_health": ({}, [(query, {}) for query in HEALTH_DATASETS.values()]),
}


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _time(action: Callable[[], Any], repeat: int) -> list[float]:
    action()  # warm: DuckDB's first read of a file, the masker's patterns
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ask-bench-") as tmp:
        warehouse = Path(tmp) / "spark-warehouse"
        started = time.perf_counter()
        sizes = synthesize(warehouse, args.records)
        seconds = time.perf_counter() - started
        print(f"synthesized Gold for {args.records:,} records in {seconds:.1f} s: {sizes}")
        started = time.perf_counter()
        backend = DuckDbGold(warehouse)
        opened = time.perf_counter() - started
        started = time.perf_counter()
        scanner = QuoteScanner(get_masker(Settings().config_dir / PII_CONFIG))
        scanner.rescan(["warm up the engines"])
        masker_s = time.perf_counter() - started
        tools = GoldTools(backend, scanner, max_rows=50)
        report = LocalWarehouse(warehouse, ASK_TABLE_COLUMNS)
        queries = tool_queries()
        print(
            f"one-time: tables opened in {opened * 1000:.0f} ms; masker ready in {masker_s:.1f} s\n"
        )
        print(f"{args.repeat} calls each after one warm-up; ms\n")
        print(
            "| tool | tool p50 | tool p95 | report path p50 | report path p95 "
            "| rows the report path fetched | tool / report (p50) |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, (arguments, runs) in CASES.items():
            tool_samples = _time(lambda: tools.call(name, arguments), args.repeat)  # noqa: B023
            fetched = [0]

            def through_report() -> None:
                fetched[0] = sum(len(report.run(queries[q], p).rows) for q, p in runs)  # noqa: B023

            report_samples = _time(through_report, args.repeat)
            tool_p50, tool_p95 = _percentiles(tool_samples)
            report_p50, report_p95 = _percentiles(report_samples)
            print(
                f"| {name} | {tool_p50:.1f} | {tool_p95:.1f} | {report_p50:.1f} | {report_p95:.1f} "
                f"| {fetched[0]:,} | {tool_p50 / report_p50:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
