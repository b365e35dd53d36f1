from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.reporting import distinct_rows, in_days_before, label, ratio, with_as_of
from insightloop_gold.settings import PipelineSettings

ALL_SEGMENTS = "all"


def _totals(records: DataFrame, keys: list[str]) -> DataFrame:
    return records.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("records"),
        F.count("rating").alias("rated"),
        F.sum("rating").alias("rating_sum"),
        F.count_if(F.col("sentiment") == "negative").alias("negative"),
    )


@dp.materialized_view(
    comment=(
        "What each theme costs per customer segment (and 'all') over the last"
        " insightloop.impact_days up to as_of: the average rating and negative share of"
        " decided records with and without the records mentioning the theme, and the change"
        " if that theme's feedback were removed (rating_change_if_removed > 0: the theme"
        " drags the rating down)."
    )
)
def gold_theme_impact() -> DataFrame:
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    decided = spark.read.table("silver_classifications").where(~F.col("needs_review"))
    feedback = spark.read.table("silver_feedback").select(
        "record_id", "customer_segment", "rating", "created_date"
    )
    dated = with_as_of(
        decided.select("record_id", "sentiment").join(feedback, "record_id"), settings
    )
    in_window = dated.where(
        in_days_before(F.col("created_date"), F.col("as_of"), 0, settings.impact_days - 1)
    )
    # Every record counts in its own segment and in "all".
    records = in_window.select(
        "record_id",
        "sentiment",
        "rating",
        "as_of",
        F.explode(F.array(label("customer_segment"), F.lit(ALL_SEGMENTS))).alias("segment"),
    )
    themes = distinct_rows(spark.read.table("silver_record_themes"), "record_id", "theme")
    segment = _totals(records, ["segment", "as_of"])
    with_theme = _totals(records.join(themes, "record_id"), ["segment", "theme"])
    t, s = with_theme.alias("t"), segment.alias("s")
    avg_rating = ratio(F.col("s.rating_sum"), F.col("s.rated"))
    avg_without = ratio(
        F.col("s.rating_sum") - F.col("t.rating_sum"), F.col("s.rated") - F.col("t.rated")
    )
    share = ratio(F.col("s.negative"), F.col("s.records"))
    share_without = ratio(
        F.col("s.negative") - F.col("t.negative"), F.col("s.records") - F.col("t.records")
    )
    return t.join(s, "segment").select(
        "t.theme",
        "segment",
        F.date_sub("s.as_of", settings.impact_days - 1).alias("period_start"),
        F.col("s.as_of").alias("period_end"),
        F.col("t.records").alias("theme_records"),
        F.col("s.records").alias("segment_records"),
        F.col("t.rated").alias("theme_rated_records"),
        avg_rating.alias("avg_rating"),
        avg_without.alias("avg_rating_without_theme"),
        (avg_without - avg_rating).alias("rating_change_if_removed"),
        share.alias("negative_share"),
        share_without.alias("negative_share_without_theme"),
        (share_without - share).alias("negative_share_change_if_removed"),
    )
