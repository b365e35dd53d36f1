"""What Gold datasets share: the reporting date, windows, labels and safe ratios."""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.settings import PipelineSettings

UNKNOWN = "unknown"
URGENCY_WEIGHT = {"low": 1 / 3, "medium": 2 / 3, "high": 1.0}
# Severity labels routing matches on, from the score (negative share x urgency weight):
# all-negative medium-urgency feedback scores 2/3 -> high; half of it high-urgency -> critical.
SEVERITY_FLOORS = (("critical", 0.75), ("high", 0.5), ("medium", 0.25))


def with_as_of(rows: DataFrame, settings: PipelineSettings) -> DataFrame:
    """``rows`` plus an ``as_of`` date column: the configured date, else the latest day
    with landed feedback, so every Gold dataset of one update shares one reporting date
    and a rerun over the same landing reproduces the same tables."""
    if settings.as_of is not None:
        return rows.withColumn("as_of", F.lit(settings.as_of))
    latest = (
        SparkSession.active()
        .read.table("silver_feedback")
        .agg(F.max("created_date").alias("as_of"))
    )
    return rows.crossJoin(F.broadcast(latest))


def in_days_before(day: Column, as_of: Column, first: int, last: int) -> Column:
    """True when ``day`` lies ``first``..``last`` days before ``as_of`` (0 = as_of)."""
    return F.datediff(as_of, day).between(first, last)


def severity_label(score: Column) -> Column:
    """low / medium / high / critical for a 0..1 severity score (:data:`SEVERITY_FLOORS`)."""
    found = F.lit("low")
    for level, floor in reversed(SEVERITY_FLOORS):
        found = F.when(score >= floor, F.lit(level)).otherwise(found)
    return found


def iso_week_start(day: Column) -> Column:
    """The Monday of ``day``'s ISO week."""
    return F.date_trunc("week", day).cast("date")


def insight_key(*parts: Column) -> Column:
    """Routing's key of an insight (shared/insights.py ``Insight.insight_key``): the first
    32 hex digits of sha256 over the parts joined by the unit separator."""
    return F.substring(F.sha2(F.concat_ws("\x1f", *(p.cast("string") for p in parts)), 256), 1, 32)


def label(column: str) -> Column:
    """A segment column for grouping: missing values group as "unknown", not NULL."""
    return F.coalesce(F.col(column), F.lit(UNKNOWN))


# Spark Connect resolves the input of ``distinct``/``dropDuplicates`` and ``fillna``
# eagerly, when the pipeline registers the dataset and its upstream tables may not be
# defined yet; these two helpers express the same with lazy aggregates and coalesce.


def distinct_rows(rows: DataFrame, *columns: str) -> DataFrame:
    """The distinct combinations of ``columns`` in ``rows``."""
    return rows.groupBy(*columns).agg(F.count(F.lit(1)).alias("_rows")).select(*columns)


def zero_if_null(column: str) -> Column:
    """A count from an outer join: no match means zero."""
    return F.coalesce(F.col(column), F.lit(0)).alias(column)


def ratio(numerator: Column, denominator: Column) -> Column:
    """``numerator / denominator``, NULL instead of an error when there is nothing."""
    return F.try_divide(numerator.cast("double"), denominator)


def urgency_weight(urgency: Column) -> Column:
    """low 1/3, medium 2/3, high 1: how much a negative mention weighs in severity."""
    weight = F.lit(None).cast("double")
    for level, value in URGENCY_WEIGHT.items():
        weight = F.when(urgency == level, F.lit(value)).otherwise(weight)
    return weight


def two_sided_p(z: Column) -> Column:
    """P(|Z| >= |z|) for a standard normal Z (Abramowitz-Stegun 26.2.17, error < 1e-7):
    Spark SQL has no normal CDF, and a Python UDF would cost a worker round trip."""
    x = F.abs(z)
    t = 1 / (1 + 0.2316419 * x)
    poly = t * (
        0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429)))
    )
    density = F.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    return 2 * density * poly
