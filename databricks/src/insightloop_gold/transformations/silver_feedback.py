from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from insightloop_gold.dimensions import with_normalised_dimensions
from insightloop_gold.expectations import expect_all, record_key
from insightloop_gold.schemas import FEEDBACK
from insightloop_gold.settings import PipelineSettings


@dp.materialized_view(
    comment=(
        "One row per record_id (the latest landing wins, so a replayed file keeps one copy),"
        " with reporting columns: created_date/week, country from the locale, text length."
        " customer_segment, region and product_category have one spelling per value"
        " (whitespace, aliases: country names and insightloop.aliases.<column>, then the"
        " spelling most rows use among case variants)."
    )
)
@expect_all("silver_feedback")
def silver_feedback() -> DataFrame:
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    landed = spark.read.table("bronze_feedback")
    latest = Window.partitionBy("_dedup_key").orderBy(
        F.col("received_at").desc_nulls_last(), F.col("_source_file").desc()
    )
    latest_copies = (
        landed.withColumn(
            "_dedup_key", record_key([c for c in FEEDBACK.fieldNames() if c != "received_at"])
        )
        .withColumn("landed_copies", F.count(F.lit(1)).over(Window.partitionBy("_dedup_key")))
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
    )
    return with_normalised_dimensions(latest_copies, settings.aliases).select(
        *FEEDBACK.fieldNames(),
        F.to_date("created_at").alias("created_date"),
        F.date_trunc("week", "created_at").cast("date").alias("created_week"),
        # "en-GB" -> "GB": the market when the source has no region of its own.
        F.upper(F.nullif(F.regexp_extract("locale", r"[-_]([A-Za-z]{2})$", 1), F.lit(""))).alias(
            "country"
        ),
        F.char_length("text").alias("text_length"),
        "landed_copies",
        "_rescued_data",
        "_source_file",
        "ingest_date",
    )
