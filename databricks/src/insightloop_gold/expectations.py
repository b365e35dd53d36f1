"""Data expectations of the Silver datasets: declared once, counted everywhere.

Each rule is a SQL condition a good row satisfies. Rules warn, never drop: a failing
row stays in Silver (so nothing vanishes between landing and Gold) and is counted.
On Databricks :func:`expect_all` attaches the rules as native expectations, whose
pass/fail counts appear in the pipeline event log; OSS Spark has no expectations, so
``silver_expectations`` evaluates the same rules over the same datasets and is the
place to read the counts in both environments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pyspark import pipelines as dp
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from insightloop_gold.schemas import RESCUED_DATA

QueryFunction = TypeVar("QueryFunction", bound=Callable[..., DataFrame])

_RECORD_ID = "record_id RLIKE '^[0-9a-f]{32}$'"
_NOT_RESCUED = f"{RESCUED_DATA} IS NULL"

RULES: dict[str, dict[str, str]] = {
    "silver_feedback": {
        "valid_record_id": _RECORD_ID,
        "parsed_cleanly": _NOT_RESCUED,
        "has_created_at": "created_at IS NOT NULL",
        "known_channel": "channel IN ('review', 'ticket', 'chat', 'survey', 'social')",
        "rating_in_range": "rating IS NULL OR rating BETWEEN 1 AND 5",
        "nps_in_range": "nps_score IS NULL OR nps_score BETWEEN 0 AND 10",
    },
    "silver_classifications": {
        "valid_record_id": _RECORD_ID,
        "parsed_cleanly": _NOT_RESCUED,
        "confidence_in_range": "confidence BETWEEN 0 AND 1",
        "known_sentiment": "sentiment IN ('positive', 'negative', 'neutral', 'mixed')",
        "themed_unless_in_review": "needs_review OR size(themes) > 0",
        "evidence_quoted": "forall(themes, t -> length(t.evidence) > 0)",
    },
    "silver_record_themes": {
        # A classification whose feedback row never landed cannot be placed in a segment.
        "has_feedback": "created_at IS NOT NULL",
        "evidence_span_valid": "evidence_end > evidence_start",
    },
}


def record_key(content: list[str]) -> Column:
    """record_id for de-duplication; rows without one keep one copy per distinct
    ``content``, so a broken row is counted by the rules instead of merged into another."""
    return F.coalesce(F.col("record_id"), F.sha2(F.to_json(F.struct(*content, RESCUED_DATA)), 256))


def expect_all(dataset: str) -> Callable[[QueryFunction], QueryFunction]:
    """The dataset's rules as warn-level native expectations where the runtime has them."""
    native = getattr(dp, "expect_all", None)  # Databricks only; OSS counts them in a table
    if native is None:
        return lambda query: query
    return native(RULES[dataset])


def violation_counts(dataset: str, rows: DataFrame) -> DataFrame:
    """One row per rule of ``dataset``: rows checked, rows failing, and the condition.

    One pass over ``rows``; a condition that evaluates to NULL counts as failed.
    """
    rules = RULES[dataset]
    counts = rows.agg(
        F.count(F.lit(1)).alias("rows_checked"),
        *(
            F.count_if(~F.coalesce(F.expr(condition), F.lit(False))).alias(name)
            for name, condition in rules.items()
        ),
    )
    per_rule = F.array(
        *(
            F.struct(
                F.lit(name).alias("expectation"),
                F.lit(condition).alias("condition"),
                F.col(name).alias("failed_rows"),
            )
            for name, condition in rules.items()
        )
    )
    return counts.select(
        F.lit(dataset).alias("dataset"), "rows_checked", F.inline(per_rule)
    ).select("dataset", "expectation", "condition", "rows_checked", "failed_rows")
