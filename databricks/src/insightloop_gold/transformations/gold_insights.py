from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from insightloop_gold.reporting import (
    in_days_before,
    insight_key,
    iso_week_start,
    label,
    ratio,
    severity_label,
    urgency_weight,
    with_as_of,
    zero_if_null,
)
from insightloop_gold.settings import PipelineSettings

KEY = ["theme", "product", "segment"]
FALLBACK_THEME = "other"
MAX_QUOTES = 5


def _evidence(current: DataFrame) -> DataFrame:
    """Up to five quotes per insight: negative ones first, then the surest, then the newest."""
    best = Window.partitionBy(*KEY).orderBy(
        (F.col("theme_sentiment") == "negative").desc(),
        F.col("confidence").desc(),
        F.col("created_at").desc(),
        "record_id",
    )
    quotes = current.withColumn("_quote_rank", F.row_number().over(best)).where(
        F.col("_quote_rank") <= MAX_QUOTES
    )
    return quotes.groupBy(*KEY).agg(
        F.transform(
            F.array_sort(
                F.collect_list(
                    F.struct(
                        "_quote_rank",
                        "record_id",
                        F.col("evidence").alias("quote"),
                        F.col("theme_sentiment").alias("sentiment"),
                        "created_at",
                    )
                )
            ),
            lambda quote: quote.dropFields("_quote_rank"),
        ).alias("evidence")
    )


def _owner(current: DataFrame) -> DataFrame:
    """The team most often recommended where this theme is the record's main theme (the
    owner the classifier or a reviewer picked for it), else among all its records."""
    votes = current.groupBy(*KEY, "recommended_owner").agg(
        F.count_if(F.col("theme_rank") == 0).alias("main_theme_votes"),
        F.count(F.lit(1)).alias("votes"),
    )
    best = Window.partitionBy(*KEY).orderBy(
        F.col("main_theme_votes").desc(), F.col("votes").desc(), "recommended_owner"
    )
    return (
        votes.where(F.col("recommended_owner").isNotNull())
        .withColumn("_rank", F.row_number().over(best))
        .where("_rank = 1")
        .select(*KEY, F.col("recommended_owner").alias("suggested_owner"))
    )


@dp.materialized_view(
    comment=(
        "Candidate insights: theme (except 'other') x product x customer segment with at least"
        " insightloop.insights.min_volume records in the current window (window_days up to"
        " as_of). insight_key is routing's key (theme x product x segment x the ISO week"
        " window_start..window_end of as_of), so daily exports in a week update one ticket."
        " volume, velocity (change vs the previous window, NULL when it had none),"
        " negative_share, severity_score (negative share x mean urgency weight) and its"
        " severity label (low/medium/high/critical), urgency_high records, confidence (mean"
        " classification confidence), 3-5 evidence quotes with record ids, suggested owner,"
        " priority = volume x severity x (1 + max(velocity, 0)), a new insight counting as"
        " +100%; rank 1 = highest priority."
    )
)
def gold_insights() -> DataFrame:
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    days = settings.window_days
    mentions = (
        with_as_of(
            # "other" is not actionable as such: gold_emerging_themes breaks it down.
            spark.read.table("silver_record_themes").where(F.col("theme") != FALLBACK_THEME),
            settings,
        )
        .withColumn("product", label("product"))
        .withColumn("segment", label("customer_segment"))
    )
    current = mentions.where(in_days_before(F.col("created_date"), F.col("as_of"), 0, days - 1))
    previous = mentions.where(
        in_days_before(F.col("created_date"), F.col("as_of"), days, 2 * days - 1)
    )
    stats = current.groupBy(*KEY, "as_of").agg(
        F.count_distinct("record_id").alias("volume"),
        F.count_distinct(F.when(F.col("theme_sentiment") == "negative", F.col("record_id"))).alias(
            "_negative"
        ),
        F.avg(urgency_weight(F.col("urgency"))).alias("_urgency"),
        F.count_distinct(F.when(F.col("urgency") == "high", F.col("record_id"))).alias(
            "urgency_high"
        ),
        F.avg("confidence").alias("confidence"),
    )
    before = previous.groupBy(*KEY).agg(F.count_distinct("record_id").alias("previous_volume"))
    velocity = ratio(F.col("volume") - F.col("previous_volume"), F.col("previous_volume"))
    negative_share = ratio(F.col("_negative"), F.col("volume"))
    severity = negative_share * F.coalesce(F.col("_urgency"), F.lit(0.0))
    priority = (
        F.col("volume")
        * F.col("severity_score")
        * (1 + F.greatest(F.coalesce(F.col("velocity"), F.lit(1.0)), F.lit(0.0)))
    )
    ranking = Window.orderBy(F.col("priority").desc(), F.col("volume").desc(), *KEY)
    return (
        stats.where(F.col("volume") >= settings.insight_min_volume)
        .join(before, KEY, "left")
        .withColumn("previous_volume", zero_if_null("previous_volume"))
        .join(_evidence(current), KEY)
        .join(_owner(current), KEY, "left")
        .withColumn("window_start", iso_week_start(F.col("as_of")))
        .withColumn("window_end", F.date_add("window_start", 6))
        .select(
            F.substring(F.sha2(F.concat_ws("|", *KEY), 256), 1, 32).alias("insight_id"),
            insight_key(*(F.col(c) for c in (*KEY, "window_start", "window_end"))).alias(
                "insight_key"
            ),
            *KEY,
            "window_start",
            "window_end",
            F.date_sub("as_of", days - 1).alias("period_start"),
            F.col("as_of").alias("period_end"),
            "volume",
            "previous_volume",
            velocity.alias("velocity"),
            negative_share.alias("negative_share"),
            severity_label(severity).alias("severity"),
            severity.alias("severity_score"),
            "urgency_high",
            "confidence",
            "evidence",
            "suggested_owner",
        )
        .withColumn("priority", priority)
        .withColumn("rank", F.row_number().over(ranking))
    )
