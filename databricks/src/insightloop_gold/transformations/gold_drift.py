from functools import reduce

from pyspark import pipelines as dp
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from insightloop_gold.reporting import distinct_rows, label, ratio

COLUMNS = ["metric", "week_start", "dimension", "value", "records"]
ALL = "all"


def _shares(rows: DataFrame, category: Column, metric: str) -> DataFrame:
    """Per week, each category's share of the rows, plus the week's total variation
    distance from the week before (half the L1 distance of the share vectors, 0..1)."""
    counts = rows.groupBy("week_start", category.alias("dimension")).agg(
        F.count(F.lit(1)).alias("count")
    )
    shares = counts.withColumn(
        "records", F.sum("count").over(Window.partitionBy("week_start"))
    ).withColumn("value", ratio(F.col("count"), F.col("records")))
    previous = shares.select(
        F.date_add("week_start", 7).alias("week_start"),
        "dimension",
        F.col("value").alias("previous_value"),
    )
    weeks = distinct_rows(shares, "week_start")
    compared = (
        shares.select("week_start", "dimension", "value", "records")
        .join(previous, ["week_start", "dimension"], "full")
        # Only weeks that have rows and follow a week that had rows are compared.
        .join(weeks, "week_start")
        .join(weeks.select(F.date_add("week_start", 7).alias("week_start")), "week_start")
    )
    distance = compared.groupBy("week_start").agg(
        (
            F.sum(F.abs(F.coalesce("value", F.lit(0.0)) - F.coalesce("previous_value", F.lit(0.0))))
            / 2
        ).alias("value"),
        F.max("records").alias("records"),
    )
    return shares.select(F.lit(f"{metric}_share").alias("metric"), *COLUMNS[1:]).unionByName(
        distance.select(
            F.lit(f"{metric}_mix_tvd").alias("metric"),
            "week_start",
            F.lit(ALL).alias("dimension"),
            "value",
            "records",
        )
    )


def _weekly(rows: DataFrame, metric: str, value: Column) -> DataFrame:
    return rows.groupBy("week_start").agg(
        F.lit(metric).alias("metric"),
        F.lit(ALL).alias("dimension"),
        value.cast("double").alias("value"),
        F.count(F.lit(1)).alias("records"),
    )


def _canary_agreement(answers: DataFrame, feedback: DataFrame) -> DataFrame:
    """How often two prompt versions that both classified a record agree, per pair."""
    latest = Window.partitionBy("record_id", "prompt_version").orderBy(
        F.col("classified_at").desc()
    )
    per_version = (
        answers.where(F.col("prompt_version").isNotNull() & (F.col("method") != "human"))
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .select(
            "record_id",
            "prompt_version",
            "sentiment",
            F.array_sort(F.transform("themes", lambda claim: claim["theme"])).alias("theme_set"),
        )
    )
    a, b = per_version.alias("a"), per_version.alias("b")
    pairs = (
        a.join(b, "record_id")
        .where(F.col("a.prompt_version") < F.col("b.prompt_version"))
        .join(feedback.select("record_id", F.col("created_week").alias("week_start")), "record_id")
        .select(
            "week_start",
            F.concat_ws(" vs ", "a.prompt_version", "b.prompt_version").alias("dimension"),
            (F.col("a.theme_set") == F.col("b.theme_set")).alias("same_themes"),
            (F.col("a.sentiment") == F.col("b.sentiment")).alias("same_sentiment"),
        )
    )
    agreement = pairs.groupBy("week_start", "dimension").agg(
        F.avg(F.col("same_themes").cast("double")).alias("themes"),
        F.avg(F.col("same_sentiment").cast("double")).alias("sentiment"),
        F.count(F.lit(1)).alias("records"),
    )
    return agreement.select(
        "week_start",
        "dimension",
        "records",
        F.inline(
            F.array(
                *(
                    F.struct(
                        F.lit(f"canary_{part}_agreement").alias("metric"),
                        F.col(part).alias("value"),
                    )
                    for part in ("themes", "sentiment")
                )
            )
        ),
    )


@dp.materialized_view(
    comment=(
        "Weekly drift signals in long form (metric, week_start, dimension, value, records):"
        " theme/sentiment/language shares and their *_mix_tvd distance from the week before,"
        " text length (mean, p90), review rate, and canary agreement between prompt versions"
        " on records both classified (dimension 'v1 vs v2')."
    )
)
def gold_drift() -> DataFrame:
    spark = SparkSession.active()
    feedback = spark.read.table("silver_feedback").withColumn("week_start", F.col("created_week"))
    classifications = spark.read.table("silver_classifications").join(
        feedback.select("record_id", "week_start"), "record_id"
    )
    decided = classifications.where(~F.col("needs_review"))
    mentions = spark.read.table("silver_record_themes").withColumn(
        "week_start", F.col("created_week")
    )
    answers = spark.read.table("bronze_classified").unionByName(spark.read.table("bronze_review"))
    parts = [
        _shares(mentions, F.col("theme"), "theme"),
        _shares(decided, F.col("sentiment"), "sentiment"),
        _shares(feedback, label("language"), "language"),
        _weekly(feedback, "text_length_mean", F.avg("text_length")),
        _weekly(feedback, "text_length_p90", F.percentile("text_length", 0.9)),
        _weekly(classifications, "review_rate", F.avg(F.col("needs_review").cast("double"))),
        _canary_agreement(answers, feedback),
    ]
    rows = reduce(lambda left, right: left.unionByName(right), parts)
    return rows.where(F.col("week_start").isNotNull()).select(*COLUMNS)
