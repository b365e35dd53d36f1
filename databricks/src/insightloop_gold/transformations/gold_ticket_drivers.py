from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from insightloop_gold.reporting import in_days_before, ratio, with_as_of
from insightloop_gold.settings import PipelineSettings


@dp.materialized_view(
    comment=(
        "Themes ranked by support-ticket volume in the current window (insightloop.window_days"
        " up to as_of), with the previous window, the trend (change and relative change),"
        " the share of all tickets and the share of high-urgency tickets."
    )
)
def gold_ticket_drivers() -> DataFrame:
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    days = settings.window_days
    tickets = with_as_of(
        spark.read.table("silver_record_themes").where(F.col("channel") == "ticket"), settings
    )
    current = in_days_before(F.col("created_date"), F.col("as_of"), 0, days - 1)
    previous = in_days_before(F.col("created_date"), F.col("as_of"), days, 2 * days - 1)
    in_window = tickets.where(current | previous)
    all_tickets = in_window.agg(
        F.count_distinct(F.when(current, F.col("record_id"))).alias("window_tickets")
    )
    drivers = in_window.groupBy("theme", "as_of").agg(
        F.count_distinct(F.when(current, F.col("record_id"))).alias("tickets"),
        F.count_distinct(F.when(previous, F.col("record_id"))).alias("previous_tickets"),
        F.count_distinct(F.when(current & (F.col("urgency") == "high"), F.col("record_id"))).alias(
            "high_urgency_tickets"
        ),
    )
    ranking = Window.orderBy(F.col("tickets").desc(), F.col("trend_delta").desc(), "theme")
    return (
        drivers.crossJoin(all_tickets)
        .select(
            "theme",
            F.date_sub("as_of", days - 1).alias("period_start"),
            F.col("as_of").alias("period_end"),
            "tickets",
            "previous_tickets",
            (F.col("tickets") - F.col("previous_tickets")).alias("trend_delta"),
            ratio(F.col("tickets") - F.col("previous_tickets"), F.col("previous_tickets")).alias(
                "trend"
            ),
            ratio(F.col("tickets"), F.col("window_tickets")).alias("share_of_tickets"),
            ratio(F.col("high_urgency_tickets"), F.col("tickets")).alias("high_urgency_share"),
        )
        .withColumn("rank", F.row_number().over(ranking))
    )
