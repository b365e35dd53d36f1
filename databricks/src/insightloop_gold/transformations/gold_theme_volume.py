from functools import reduce

from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from insightloop_gold.reporting import distinct_rows, ratio, zero_if_null

# grain -> (period column of silver_record_themes, step in days, periods in a week)
GRAINS = {"day": ("created_date", 1, 7), "week": ("created_week", 7, 1)}


def _volume(mentions: DataFrame, grain: str) -> DataFrame:
    period, step, per_week = GRAINS[grain]
    counts = mentions.groupBy("theme", F.col(period).alias("period_start")).agg(
        F.count_distinct("record_id").alias("records"),
        F.count_distinct(F.when(F.col("theme_sentiment") == "negative", F.col("record_id"))).alias(
            "negative_records"
        ),
    )
    # Every theme gets every period of the data's span, so a quiet week counts as 0 and
    # the week-over-week comparison never skips one.
    calendar = mentions.agg(
        F.explode(F.sequence(F.min(period), F.max(period), F.expr(f"INTERVAL {step} DAYS"))).alias(
            "period_start"
        )
    )
    dense = (
        distinct_rows(mentions, "theme")
        .crossJoin(calendar)
        .join(counts, ["theme", "period_start"], "left")
        .select("theme", "period_start", zero_if_null("records"), zero_if_null("negative_records"))
    )
    week_ago = F.lag("records", per_week, 0).over(
        Window.partitionBy("theme").orderBy("period_start")
    )
    return dense.select(
        F.lit(grain).alias("grain"),
        "theme",
        "period_start",
        "records",
        "negative_records",
        ratio(F.col("negative_records"), F.col("records")).alias("negative_share"),
        week_ago.alias("records_week_before"),
    ).select(
        "*",
        (F.col("records") - F.col("records_week_before")).alias("wow_delta"),
        ratio(F.col("records") - F.col("records_week_before"), F.col("records_week_before")).alias(
            "velocity"
        ),
    )


@dp.materialized_view(
    comment=(
        "Records mentioning each theme per day and per week (grain), zero-filled; wow_delta"
        " compares with the same period one week earlier (same weekday for days) and velocity"
        " is that change relative to the week before (NULL when it had none)."
    )
)
def gold_theme_volume() -> DataFrame:
    mentions = (
        SparkSession.active()
        .read.table("silver_record_themes")
        .where(F.col("created_date").isNotNull())
    )
    return reduce(
        lambda left, right: left.unionByName(right), (_volume(mentions, g) for g in GRAINS)
    )
