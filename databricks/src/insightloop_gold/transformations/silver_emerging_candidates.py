from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.reporting import in_days_before, with_as_of
from insightloop_gold.settings import PipelineSettings


@dp.materialized_view(
    comment=(
        "Feedback the taxonomy does not explain yet: model answers with the theme 'other' or"
        " a confidence below insightloop.emerging.max_confidence, from the current window"
        " (window_start..as_of) and the one before, with the masked text. The emerging_themes"
        " job task clusters them into gold_emerging_themes."
    )
)
def silver_emerging_candidates() -> DataFrame:
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    unexplained = spark.read.table("silver_classifications").where(
        ~F.col("is_human_override")
        & (
            F.array_contains("theme_ids", "other")
            | (F.col("confidence") < settings.emerging_max_confidence)
        )
    )
    feedback = spark.read.table("silver_feedback").where(F.length(F.trim("text")) > 0)
    candidates = unexplained.select(
        "record_id", "theme_ids", "confidence", "needs_review", "classified_at"
    ).join(
        feedback.select(
            "record_id",
            "text",
            "language",
            "product",
            "customer_segment",
            "channel",
            "created_date",
        ),
        "record_id",
    )
    days = settings.window_days
    dated = with_as_of(candidates, settings).withColumn(
        "window_start", F.date_sub("as_of", days - 1)
    )
    return dated.where(in_days_before(F.col("created_date"), F.col("as_of"), 0, 2 * days - 1))
