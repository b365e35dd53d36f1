"""Run every dashboard dataset on Spark SQL and on DuckDB and compare the rows.

The dataset SQL files must mean the same on Databricks and in the local report. Spark SQL
(ANSI mode, as Databricks SQL warehouses run it) is the closest engine this machine has;
a check takes about a minute (a JVM and 22 queries), so it is a tool, not a unit test::

    .venv/bin/python databricks/dashboards/spark_parity.py    # over the tables tests/ builds
    .venv/bin/python databricks/dashboards/spark_parity.py \
        --warehouse .insightloop/demo/gold/spark-warehouse

Exits 1 when a dataset fails on Spark or returns other rows than DuckDB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.report.queries import LocalWarehouse, load_queries  # noqa: E402
from tests.report.test_report import RELEASE, build_warehouse  # noqa: E402


def _comparable(value: Any) -> Any:
    # Spark returns DECIMAL where DuckDB returns DOUBLE for some literals; compare values.
    if isinstance(value, Decimal):
        value = float(value)
    return round(value, 9) if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, help="a spark-warehouse folder (default: tests')")
    parser.add_argument("--release-date", type=date.fromisoformat, default=RELEASE)
    args = parser.parse_args(argv)
    warehouse = args.warehouse or build_warehouse(Path(tempfile.mkdtemp()))
    parameters = {"release_date": args.release_date}
    queries = load_queries()
    with LocalWarehouse(warehouse) as local:
        expected = {name: local.run(query, parameters) for name, query in queries.items()}

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for table in sorted(path for path in warehouse.iterdir() if path.is_dir()):
            if any(table.glob("*.parquet")):
                spark.read.parquet(str(table)).createOrReplaceTempView(table.name)
        mismatches = 0
        for name, query in queries.items():
            try:
                frame = spark.sql(query.sql, args=parameters if query.parameters else None)
                rows = [tuple(_comparable(value) for value in row) for row in frame.collect()]
            except Exception as exc:  # any Spark error is a finding to report, not a crash
                print(f"FAIL {name}: {str(exc).splitlines()[0]}")
                mismatches += 1
                continue
            local_rows = [tuple(_comparable(v) for v in row) for row in expected[name].rows]
            same = tuple(frame.columns) == expected[name].columns and rows == local_rows
            mismatches += not same
            print(f"{'same' if same else 'DIFF'} {name}: {len(rows)} row(s)")
    finally:
        spark.stop()
    print(f"{mismatches} dataset(s) differ")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
