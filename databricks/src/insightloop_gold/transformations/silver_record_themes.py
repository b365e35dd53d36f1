from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.expectations import expect_all

SEGMENT_COLUMNS = (
    "source",
    "channel",
    "product",
    "product_category",
    "customer_segment",
    "region",
    "country",
    "language",
    "rating",
    "nps_score",
    "order_value",
    "created_at",
    "created_date",
    "created_week",
    "text_length",
)


@dp.materialized_view(
    comment=(
        "One row per (record, theme) of decided classifications (records in review wait for"
        " a reviewer): the evidence quote, the sentiment about that theme (falling back to the"
        " record's), theme_rank 0 for the record's main theme, and the feedback's segment"
        " columns."
    )
)
@expect_all("silver_record_themes")
def silver_record_themes() -> DataFrame:
    spark = SparkSession.active()
    decided = spark.read.table("silver_classifications").where(~F.col("needs_review"))
    feedback = spark.read.table("silver_feedback").select("record_id", *SEGMENT_COLUMNS)
    claims = decided.select(
        "record_id",
        F.col("sentiment").alias("record_sentiment"),
        "urgency",
        "recommended_owner",
        "confidence",
        F.col("method").alias("classification_method"),
        "prompt_version",
        "classified_at",
        "is_human_override",
        F.posexplode("themes").alias("theme_rank", "claim"),
    )
    return claims.join(feedback, "record_id", "left").select(
        "record_id",
        F.col("claim.theme").alias("theme"),
        "theme_rank",
        F.col("claim.evidence").alias("evidence"),
        F.col("claim.start").alias("evidence_start"),
        F.col("claim.end").alias("evidence_end"),
        F.coalesce("claim.sentiment", "record_sentiment").alias("theme_sentiment"),
        "record_sentiment",
        "urgency",
        "recommended_owner",
        "confidence",
        "classification_method",
        "prompt_version",
        "classified_at",
        "is_human_override",
        *SEGMENT_COLUMNS,
    )
