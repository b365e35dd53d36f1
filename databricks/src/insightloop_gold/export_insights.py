"""Job task: export this run's ``gold_insights`` as one JSON document for routing.

    <exports_path>/insights/<run_id>.json

Each insight carries exactly the fields of routing's contract (``shared/insights.py``
``InsightExport``; the test suite validates a real export against it). The document is
written in place with one write: on a Unity Catalog volume the file is uploaded and
committed when it is closed, which is when Event Grid reports ``BlobCreated`` and the
routing trigger fires (a staged file renamed into place would arrive as
``BlobRenamed``, which the trigger ignores). Routing keys insights by theme x product x
segment x ISO week, and re-exporting a run replaces the file with the same insights, so
routing stays idempotent.

    python export_insights.py --table main.insightloop.gold_insights \\
        --exports-path /Volumes/main/insightloop/exports --run-id 123   # Databricks
    python export_insights.py --parquet work/spark-warehouse/gold_insights \\
        --exports-path work/exports --run-id local-1                      # local
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

EXPORT_SCHEMA_VERSION = "1.0"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        # Spark hands back naive timestamps in the session time zone, UTC in this pipeline.
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


# gold_insights columns routing reads; insight_id/insight_key are derived from them.
EXPORTED_FIELDS = (
    "theme",
    "product",
    "segment",
    "window_start",
    "window_end",
    "period_start",
    "period_end",
    "volume",
    "previous_volume",
    "velocity",
    "negative_share",
    "severity",
    "severity_score",
    "urgency_high",
    "confidence",
    "suggested_owner",
    "evidence",
    "rank",
    "priority",
)
EVIDENCE_FIELDS = ("record_id", "quote", "sentiment", "created_at")


def _exported(row: Mapping[str, Any]) -> dict[str, Any]:
    insight = {name: row[name] for name in EXPORTED_FIELDS}
    insight["evidence"] = [
        {name: quote[name] for name in EVIDENCE_FIELDS} for quote in row["evidence"] or []
    ]
    return insight


def insights_document(
    rows: Iterable[Mapping[str, Any]], *, run_id: str, generated_at: datetime
) -> bytes:
    """The export of ``gold_insights`` rows (plain dicts), best first."""
    ranked = sorted(rows, key=lambda row: row["rank"])
    document = {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "run_id": run_id,
        "generated_at": generated_at,
        "as_of": ranked[0]["period_end"] if ranked else None,
        "insight_count": len(ranked),
        "insights": [_exported(row) for row in ranked],
    }
    return json.dumps(document, default=_json_value, ensure_ascii=False, indent=1).encode()


def commit_export(document: bytes, exports_path: Path, run_id: str) -> Path:
    """Write ``document`` to ``insights/<run_id>.json`` in place, in one write."""
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r} is not a safe file name")
    final = exports_path / "insights" / f"{run_id}.json"
    final.parent.mkdir(parents=True, exist_ok=True)
    with final.open("wb") as out:
        out.write(document)
        out.flush()
        os.fsync(out.fileno())
    return final


def main(argv: Sequence[str] | None = None) -> None:
    from pyspark.sql import SparkSession  # the runtime's Spark; kept out of the pure helpers

    parser = argparse.ArgumentParser(description="Export gold_insights for routing.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--table", help="gold_insights table name (catalog.schema.table)")
    source.add_argument("--parquet", help="local: parquet folder of gold_insights")
    parser.add_argument("--exports-path", type=Path, required=True)
    parser.add_argument("--run-id", required=True, help="the job run id ({{job.run_id}})")
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName("insightloop-export-insights").getOrCreate()
    insights = spark.read.table(args.table) if args.table else spark.read.parquet(args.parquet)
    rows = [row.asDict(recursive=True) for row in insights.collect()]
    document = insights_document(rows, run_id=args.run_id, generated_at=datetime.now(UTC))
    path = commit_export(document, args.exports_path, args.run_id)
    print(f"exported {len(rows)} insights to {path}")


if __name__ == "__main__":
    main()
