from pyspark import pipelines as dp
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from insightloop_gold.reporting import label, ratio, two_sided_p, with_as_of
from insightloop_gold.settings import PipelineSettings

KEY = ["theme", "product", "segment"]
# What _routed_insights yields per insight (named: pipeline code must not ask for a schema).
ROUTED_COLUMNS = [
    "insight_key",
    *KEY,
    "owner",
    "destination",
    "external_id",
    "external_url",
    "routed_at",
    "triaged_at",
    "_last_decision",
    "resolved_at",
    "as_of",
]
TICKET_SYSTEMS = ("jira", "servicenow")
# Below this many records in a window the normal approximations behind the p-values mislead.
MIN_RECORDS_FOR_SIGNIFICANCE = 5
SIGNIFICANCE_LEVEL = 0.05


def _hours(start: str, end: str) -> Column:
    return (F.unix_micros(F.col(end)) - F.unix_micros(F.col(start))) / 3.6e9


def _routed_insights(events: DataFrame) -> DataFrame:
    """One row per insight a destination accepted: where it went first (a ticket system
    before chat), who owns it (the last reassign wins), when it was triaged and fixed."""
    when = F.coalesce("occurred_at", "received_at", "at")
    created = (F.col("kind") == "routing_action") & (F.col("action") == "created")
    ticket = created & F.col("destination").isin(*TICKET_SYSTEMS)
    decision = F.col("kind") == "insight_decision"
    reassign = decision & (F.col("action") == "reassign")
    resolved = (F.col("kind") == "fix_recorded") & (F.col("action") == "resolved")

    def first_of(column: str, condition: Column) -> Column:
        return F.min_by(column, F.when(condition, F.col("_at")))

    return (
        events.where(F.col("insight_key").isNotNull())
        .withColumn("_at", when)
        .groupBy("insight_key")
        .agg(
            *(F.max(column).alias(column) for column in KEY),
            F.coalesce(
                F.max_by("new_owner", F.when(reassign, F.col("_at"))),
                first_of("owner", created),
            ).alias("owner"),
            F.coalesce(first_of("destination", ticket), first_of("destination", created)).alias(
                "destination"
            ),
            F.coalesce(first_of("external_id", ticket), first_of("external_id", created)).alias(
                "external_id"
            ),
            F.coalesce(first_of("external_url", ticket), first_of("external_url", created)).alias(
                "external_url"
            ),
            F.min(F.when(created, F.col("_at"))).alias("routed_at"),
            F.min(F.when(decision, F.col("_at"))).alias("triaged_at"),
            F.max_by("action", F.when(decision, F.col("_at"))).alias("_last_decision"),
            F.min(F.when(resolved, F.col("_at"))).alias("resolved_at"),
        )
        .where(F.col("routed_at").isNotNull())
    )


def _nps(promoters: str, detractors: str, scored: str) -> Column:
    return ratio(F.col(promoters) - F.col(detractors), F.col(scored)) * 100


@dp.materialized_view(
    comment=(
        "Insight -> action -> result: per routed insight (routing_events), its owner, ticket,"
        " status (open/triaged/resolved/rejected), hours to triage (first chat decision) and"
        " to resolution (Jira resolved), and the theme x product x segment's records in the"
        " window_days before routing vs the window_days after the fix (cut at as_of:"
        " after_window_complete says whether it is whole): volume per day, negative share,"
        " NPS (promoters - detractors, where scored) and rating, with deltas. p_value tests"
        " the negative-share change (two proportions), volume_p_value the daily-volume change"
        " (Poisson rates); significant = either below 0.05 with >= 5 records in each window."
    )
)
def gold_outcomes() -> DataFrame:
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    days = settings.window_days
    insights = with_as_of(_routed_insights(spark.read.table("bronze_routing_events")), settings)
    mentions = spark.read.table("silver_record_themes").select(
        "record_id",
        "theme",
        label("product").alias("product"),
        label("customer_segment").alias("segment"),
        "created_at",
        (F.col("theme_sentiment") == "negative").alias("negative"),
        "nps_score",
        "rating",
    )
    window = F.expr(f"INTERVAL {days} DAYS")
    as_of_end = F.date_add("as_of", 1).cast("timestamp")
    after_end = F.least(F.col("resolved_at") + window, as_of_end)
    created = F.col("created_at")
    before = (created >= F.col("routed_at") - window) & (created < F.col("routed_at"))
    after = (created >= F.col("resolved_at")) & (created < after_end)

    def per_window(name: str, inside: Column) -> list[Column]:
        record = F.col("record_id")
        return [
            F.count_distinct(F.when(inside, record)).alias(f"volume_{name}"),
            F.count_distinct(F.when(inside & F.col("negative"), record)).alias(f"_neg_{name}"),
            F.count_distinct(F.when(inside & (F.col("nps_score") >= 9), record)).alias(
                f"_pro_{name}"
            ),
            F.count_distinct(F.when(inside & (F.col("nps_score") <= 6), record)).alias(
                f"_det_{name}"
            ),
            F.count_distinct(F.when(inside & F.col("nps_score").isNotNull(), record)).alias(
                f"_scored_{name}"
            ),
            F.avg(F.when(inside, F.col("rating"))).alias(f"rating_{name}"),
        ]

    measured = (
        insights.join(mentions, KEY, "left")
        .groupBy(*ROUTED_COLUMNS)
        .agg(*per_window("before", before), *per_window("after", after))
        .withColumn(
            "_days_after",
            F.when(
                F.col("resolved_at").isNotNull(),
                (F.unix_micros(after_end) - F.unix_micros(F.col("resolved_at"))) / 8.64e10,
            ),
        )
        # Resolved on (or after) the reporting date: nothing after it to measure yet.
        .withColumn("_days_after", F.when(F.col("_days_after") > 0, F.col("_days_after")))
        .withColumn("volume_after", F.when(F.col("_days_after").isNotNull(), F.col("volume_after")))
    )
    volume_before, volume_after = F.col("volume_before"), F.col("volume_after")
    share_before = ratio(F.col("_neg_before"), volume_before)
    share_after = ratio(F.col("_neg_after"), volume_after)
    pooled = ratio(F.col("_neg_before") + F.col("_neg_after"), volume_before + volume_after)
    share_se = F.sqrt(pooled * (1 - pooled) * (1 / volume_before + 1 / volume_after))
    # Equal daily rates: the after-count is binomial over all records, p = its share of days.
    records, after_days_share = (
        volume_before + volume_after,
        F.col("_days_after") / (F.col("_days_after") + days),
    )
    volume_se = F.sqrt(records * after_days_share * (1 - after_days_share))
    p_value = F.when(share_se > 0, two_sided_p((share_after - share_before) / share_se))
    volume_p_value = F.when(
        volume_se > 0, two_sided_p((volume_after - records * after_days_share) / volume_se)
    )
    enough = (volume_before >= MIN_RECORDS_FOR_SIGNIFICANCE) & (
        volume_after >= MIN_RECORDS_FOR_SIGNIFICANCE
    )
    status = (
        F.when(F.col("resolved_at").isNotNull(), "resolved")
        .when(F.col("_last_decision") == "reject", "rejected")
        .when(F.col("triaged_at").isNotNull(), "triaged")
        .otherwise("open")
    )
    per_day_before = volume_before / F.lit(float(days))
    per_day_after = volume_after / F.col("_days_after")
    nps_before = _nps("_pro_before", "_det_before", "_scored_before")
    nps_after = _nps("_pro_after", "_det_after", "_scored_after")
    return measured.select(
        *(column for column in ROUTED_COLUMNS if column not in ("_last_decision", "as_of")),
        status.alias("status"),
        _hours("routed_at", "triaged_at").alias("hours_to_triage"),
        _hours("routed_at", "resolved_at").alias("hours_to_resolution"),
        F.lit(days).alias("window_days"),
        "volume_before",
        "volume_after",
        per_day_before.alias("volume_per_day_before"),
        per_day_after.alias("volume_per_day_after"),
        ratio(per_day_after - per_day_before, per_day_before).alias("volume_change"),
        volume_p_value.alias("volume_p_value"),
        share_before.alias("negative_share_before"),
        share_after.alias("negative_share_after"),
        (share_after - share_before).alias("negative_share_delta"),
        p_value.alias("p_value"),
        F.coalesce(
            enough & (F.least(p_value, volume_p_value) < SIGNIFICANCE_LEVEL), F.lit(False)
        ).alias("significant"),
        nps_before.alias("nps_before"),
        nps_after.alias("nps_after"),
        (nps_after - nps_before).alias("nps_delta"),
        "rating_before",
        "rating_after",
        (F.col("rating_after") - F.col("rating_before")).alias("rating_delta"),
        F.coalesce(F.col("resolved_at") + window <= as_of_end, F.lit(False)).alias(
            "after_window_complete"
        ),
        "as_of",
    )
