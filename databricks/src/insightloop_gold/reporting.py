"""What Gold datasets share: the reporting date, windows, labels and safe ratios."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.settings import PipelineSettings

UNKNOWN = "unknown"
URGENCY_WEIGHT = {"low": 1 / 3, "medium": 2 / 3, "high": 1.0}


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
