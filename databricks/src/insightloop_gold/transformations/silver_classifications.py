from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from insightloop_gold.expectations import expect_all, record_key
from insightloop_gold.schemas import CLASSIFICATION


@dp.materialized_view(
    comment=(
        "One classification per record_id from landing/classified and landing/review: a human"
        " override wins over any model answer, even a newer one; otherwise the latest"
        " classified_at wins. needs_review marks records still waiting for a reviewer."
    )
)
@expect_all("silver_classifications")
def silver_classifications() -> DataFrame:
    spark = SparkSession.active()
    answers = spark.read.table("bronze_classified").unionByName(spark.read.table("bronze_review"))
    is_human = F.coalesce(F.col("method") == "human", F.lit(False))
    key = record_key(CLASSIFICATION.fieldNames())
    winner = Window.partitionBy("_key").orderBy(
        is_human.desc(),
        F.col("classified_at").desc_nulls_last(),
        F.col("_source_file").desc(),
    )
    return (
        answers.withColumn("_key", key)
        .withColumn("landed_answers", F.count(F.lit(1)).over(Window.partitionBy("_key")))
        .withColumn("_rank", F.row_number().over(winner))
        .where("_rank = 1")
        .select(
            *CLASSIFICATION.fieldNames(),
            F.transform("themes", lambda claim: claim["theme"]).alias("theme_ids"),
            is_human.alias("is_human_override"),
            "landed_answers",
            "_rescued_data",
            "_source_file",
        )
    )
