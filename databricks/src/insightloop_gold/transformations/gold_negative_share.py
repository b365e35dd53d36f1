from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.reporting import label, ratio

# dimension name -> silver_feedback column
DIMENSIONS = {
    "segment": "customer_segment",
    "channel": "channel",
    "product": "product",
    "region": "region",
    "language": "language",
}


@dp.materialized_view(
    comment=(
        "Share of decided records whose overall sentiment is negative, per week and per value"
        " of each dimension (segment, channel, product, region, language); missing values"
        " group as 'unknown'. 'mixed' is not counted as negative."
    )
)
def gold_negative_share() -> DataFrame:
    spark = SparkSession.active()
    decided = spark.read.table("silver_classifications").where(~F.col("needs_review"))
    records = decided.select("record_id", "sentiment").join(
        spark.read.table("silver_feedback").select(
            "record_id", "created_week", *DIMENSIONS.values()
        ),
        "record_id",
    )
    by_dimension = records.select(
        "record_id",
        "sentiment",
        F.col("created_week").alias("week_start"),
        F.inline(
            F.array(
                *(
                    F.struct(F.lit(name).alias("dimension"), label(column).alias("dimension_value"))
                    for name, column in DIMENSIONS.items()
                )
            )
        ),
    )
    return (
        by_dimension.groupBy("dimension", "dimension_value", "week_start")
        .agg(
            F.count("record_id").alias("records"),
            F.count_if(F.col("sentiment") == "negative").alias("negative_records"),
        )
        .withColumn("negative_share", ratio(F.col("negative_records"), F.col("records")))
    )
