from pyspark import pipelines as dp
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.reporting import distinct_rows, label, ratio, with_as_of, zero_if_null
from insightloop_gold.settings import PipelineSettings

# dimension name -> silver_record_themes column
DIMENSIONS = {"product": "product", "segment": "customer_segment"}
KEY = ["dimension", "dimension_value", "theme"]


def _weekly(mentions: DataFrame, weeks: int) -> DataFrame:
    """Records per key and week bucket (0 = the 7 days up to as_of, 1..weeks = baseline),
    zero-filled so a quiet baseline week lowers the mean instead of vanishing."""
    bucketed = mentions.withColumn(
        "bucket", F.floor(F.datediff("as_of", "created_date") / 7).cast("int")
    ).where(F.col("bucket").between(0, weeks))
    by_dimension = bucketed.select(
        "record_id",
        "theme",
        "theme_sentiment",
        "bucket",
        "as_of",
        F.inline(
            F.array(
                *(
                    F.struct(F.lit(name).alias("dimension"), label(column).alias("dimension_value"))
                    for name, column in DIMENSIONS.items()
                )
            )
        ),
    )
    counts = by_dimension.groupBy(*KEY, "bucket").agg(
        F.count_distinct("record_id").alias("records"),
        F.count_distinct(F.when(F.col("theme_sentiment") == "negative", F.col("record_id"))).alias(
            "negative_records"
        ),
    )
    buckets = distinct_rows(by_dimension, *KEY, "as_of").withColumn(
        "bucket", F.explode(F.sequence(F.lit(0), F.lit(weeks)))
    )
    return buckets.join(counts, [*KEY, "bucket"], "left").select(
        *KEY, "as_of", "bucket", zero_if_null("records"), zero_if_null("negative_records")
    )


def _alert(metric: str, current: Column, baseline: Column, z_score: Column) -> Column:
    return F.struct(
        F.lit(metric).alias("metric"),
        current.cast("double").alias("current_value"),
        baseline.cast("double").alias("baseline_value"),
        z_score.alias("z_score"),
    )


@dp.materialized_view(
    comment=(
        "Theme x product and theme x customer segment whose last 7 days (up to as_of) depart"
        " upward from their own trailing baseline (insightloop.alerts.baseline_weeks weeks"
        " before): volume z-score against the weekly mean (noise floor max(std, sqrt(mean),"
        " 1)), or negative share z-score against the baseline share. Fires when z >="
        " insightloop.alerts.sensitivity and the week has >= insightloop.alerts.min_volume"
        " records."
    )
)
def gold_alerts() -> DataFrame:
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    weeks = settings.alert_baseline_weeks
    mentions = with_as_of(spark.read.table("silver_record_themes"), settings)
    weekly = _weekly(mentions.where(F.col("created_date").isNotNull()), weeks)
    is_current = F.col("bucket") == 0
    stats = weekly.groupBy(*KEY, "as_of").agg(
        F.sum(F.when(is_current, F.col("records"))).alias("records"),
        F.sum(F.when(is_current, F.col("negative_records"))).alias("negative_records"),
        F.avg(F.when(~is_current, F.col("records"))).alias("baseline_mean"),
        F.stddev_pop(F.when(~is_current, F.col("records"))).alias("baseline_std"),
        F.sum(F.when(~is_current, F.col("records"))).alias("baseline_records"),
        F.sum(F.when(~is_current, F.col("negative_records"))).alias("baseline_negative"),
    )
    noise = F.greatest(F.col("baseline_std"), F.sqrt("baseline_mean"), F.lit(1.0))
    share = ratio(F.col("negative_records"), F.col("records"))
    baseline_share = ratio(F.col("baseline_negative"), F.col("baseline_records"))
    # Laplace-smoothed baseline share: a spotless baseline still has a finite spread.
    smoothed = (F.col("baseline_negative") + 1) / (F.col("baseline_records") + 2)
    share_noise = F.sqrt(smoothed * (1 - smoothed) / F.col("records"))
    min_volume = settings.alert_min_volume
    candidates = stats.where(F.col("records") >= min_volume).select(
        *KEY,
        "as_of",
        "records",
        "baseline_records",
        F.inline(
            F.array(
                _alert(
                    "volume",
                    F.col("records"),
                    F.col("baseline_mean"),
                    (F.col("records") - F.col("baseline_mean")) / noise,
                ),
                _alert(
                    "negative_share",
                    share,
                    baseline_share,
                    F.when(
                        F.col("baseline_records") >= min_volume,
                        (share - baseline_share) / share_noise,
                    ),
                ),
            )
        ),
    )
    return candidates.where(F.col("z_score") >= settings.alert_sensitivity).select(
        F.substring(
            F.sha2(F.concat_ws("|", *KEY, "metric", F.col("as_of").cast("string")), 256), 1, 32
        ).alias("alert_id"),
        *KEY,
        "metric",
        F.date_sub("as_of", 6).alias("period_start"),
        F.col("as_of").alias("period_end"),
        F.date_sub("as_of", 7 * weeks + 6).alias("baseline_start"),
        F.date_sub("as_of", 7).alias("baseline_end"),
        "current_value",
        "baseline_value",
        F.round("z_score", 3).alias("z_score"),
        "records",
        "baseline_records",
        F.lit(settings.alert_sensitivity).alias("sensitivity"),
    )
