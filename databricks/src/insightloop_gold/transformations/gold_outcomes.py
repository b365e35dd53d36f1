from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.reporting import label, ratio
from insightloop_gold.settings import PipelineSettings

KEY = ["theme", "product", "segment"]


@dp.materialized_view(
    comment=(
        "Placeholder until routing lands its events: per routed insight, where it went, its"
        " latest status, and the theme's volume and negative share in the window_days before"
        " it was routed vs the window_days after it was resolved (NULL until resolved)."
    )
)
def gold_outcomes() -> DataFrame:
    spark = SparkSession.active()
    days = PipelineSettings.from_conf(spark.conf).window_days
    events = spark.read.table("bronze_routing_events").where(F.col("insight_id").isNotNull())
    routed = F.col("kind") == "routed"
    insights = events.groupBy("insight_id").agg(
        *(F.first(column, ignorenulls=True).alias(column) for column in KEY),
        F.min(F.when(routed, F.col("occurred_at"))).alias("routed_at"),
        F.min_by("system", F.when(routed, F.col("occurred_at"))).alias("system"),
        F.min_by("external_id", F.when(routed, F.col("occurred_at"))).alias("external_id"),
        F.max_by("status", "occurred_at").alias("status"),
        F.min(F.when(F.col("kind") == "resolved", F.col("occurred_at"))).alias("resolved_at"),
    )
    mentions = spark.read.table("silver_record_themes").select(
        "record_id",
        "theme",
        label("product").alias("product"),
        label("customer_segment").alias("segment"),
        "created_at",
        (F.col("theme_sentiment") == "negative").alias("negative"),
    )
    window = F.expr(f"INTERVAL {days} DAYS")
    before = (F.col("created_at") < F.col("routed_at")) & (
        F.col("created_at") >= F.col("routed_at") - window
    )
    after = (F.col("created_at") >= F.col("resolved_at")) & (
        F.col("created_at") < F.col("resolved_at") + window
    )
    measured = insights.join(mentions, KEY, "left").groupBy(
        "insight_id", *KEY, "routed_at", "system", "external_id", "status", "resolved_at"
    )
    return measured.agg(
        F.count_distinct(F.when(before, F.col("record_id"))).alias("volume_before"),
        F.count_distinct(F.when(before & F.col("negative"), F.col("record_id"))).alias(
            "_negative_before"
        ),
        F.count_distinct(F.when(after, F.col("record_id"))).alias("volume_after"),
        F.count_distinct(F.when(after & F.col("negative"), F.col("record_id"))).alias(
            "_negative_after"
        ),
    ).select(
        "insight_id",
        *KEY,
        "routed_at",
        "system",
        "external_id",
        "status",
        "resolved_at",
        "volume_before",
        ratio(F.col("_negative_before"), F.col("volume_before")).alias("negative_share_before"),
        F.when(F.col("resolved_at").isNotNull(), F.col("volume_after")).alias("volume_after"),
        ratio(F.col("_negative_after"), F.col("volume_after")).alias("negative_share_after"),
    )
