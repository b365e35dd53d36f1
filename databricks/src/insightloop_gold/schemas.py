"""The landing contracts as Spark schemas: one explicit schema per landed dataset.

They mirror the pydantic models the function app writes (``shared/models.py``,
``shared/decide/classification.py``, ``shared/enrich/quality/``,
``shared/decide/overrides.py``). Reading with an explicit schema keeps Bronze types
stable whichever file arrives first; fields a newer writer adds are kept in the
rescued-data column instead of being lost.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# Rows (or fields) that did not fit the schema land here instead of being dropped.
RESCUED_DATA = "_rescued_data"


def _struct(*fields: tuple[str, object]) -> StructType:
    return StructType([StructField(name, kind, nullable=True) for name, kind in fields])  # type: ignore[arg-type]


_TEXT = StringType()
_STRINGS = ArrayType(StringType())

FEEDBACK = _struct(
    ("schema_version", _TEXT),
    ("record_id", _TEXT),
    ("source", _TEXT),
    ("channel", _TEXT),
    ("source_event_id", _TEXT),
    ("created_at", TimestampType()),
    ("received_at", TimestampType()),
    ("text", _TEXT),
    ("title", _TEXT),
    ("rating", IntegerType()),
    ("nps_score", IntegerType()),
    ("product", _TEXT),
    ("sku", _TEXT),
    ("product_category", _TEXT),
    ("region", _TEXT),
    ("locale", _TEXT),
    ("language", _TEXT),
    ("language_confidence", DoubleType()),
    ("customer_segment", _TEXT),
    ("order_value", DoubleType()),
    ("metadata", MapType(StringType(), StringType())),
)

THEME_CLAIM = _struct(
    ("theme", _TEXT),
    ("evidence", _TEXT),
    ("start", IntegerType()),
    ("end", IntegerType()),
    ("method", _TEXT),
    ("sentiment", _TEXT),
)

# Both ``classified`` and ``review`` land this shape (review rows have needs_review=true).
CLASSIFICATION = _struct(
    ("schema_version", _TEXT),
    ("record_id", _TEXT),
    ("themes", ArrayType(THEME_CLAIM)),
    ("sentiment", _TEXT),
    ("urgency", _TEXT),
    ("recommended_owner", _TEXT),
    ("confidence", DoubleType()),
    ("method", _TEXT),
    ("taxonomy_version", _TEXT),
    ("prompt_version", _TEXT),
    ("model", _TEXT),
    ("needs_review", BooleanType()),
    ("review_reasons", _STRINGS),
    ("dropped_claims", IntegerType()),
    ("reviewed_by", _TEXT),
    ("classified_at", TimestampType()),
)

# Two kinds of rows share the audit folder: one per model call (``shared.decide.classifier.
# CallRecord`` plus run_id/batch) and one per human override (kind="human_override",
# with the classification before and after kept as JSON text).
AUDIT = _struct(
    ("kind", _TEXT),
    ("run_id", _TEXT),
    ("batch", IntegerType()),
    ("prompt_version", _TEXT),
    ("model", _TEXT),
    ("record_ids", _STRINGS),
    ("text_sha256", _STRINGS),
    ("attempt", IntegerType()),
    ("outcome", _TEXT),
    ("raw_output", _TEXT),
    ("answered", IntegerType()),
    ("invalid_items", _STRINGS),
    ("prompt_tokens", LongType()),
    ("completion_tokens", LongType()),
    ("cached_tokens", LongType()),
    ("latency_s", DoubleType()),
    ("record_id", _TEXT),
    ("reviewer", _TEXT),
    ("reason", _TEXT),
    ("recorded_at", TimestampType()),
    ("before", _TEXT),
    ("after", _TEXT),
)

QUALITY_CHECK = _struct(
    ("name", _TEXT),
    ("passed", BooleanType()),
    # A number or "-" in the source: kept as text.
    ("observed", _TEXT),
    ("expected", _TEXT),
    ("message", _TEXT),
    ("skipped", BooleanType()),
    ("warning", BooleanType()),
)

QUALITY_EVENT = _struct(
    ("schema_version", _TEXT),
    ("run_id", _TEXT),
    ("source", _TEXT),
    ("input_name", _TEXT),
    ("batch", IntegerType()),
    ("kind", _TEXT),
    ("passed", BooleanType()),
    ("action", _TEXT),
    ("checks", ArrayType(QUALITY_CHECK)),
    ("summary", _TEXT),
    ("profile", _TEXT),
    ("quarantine_path", _TEXT),
    ("created_at", TimestampType()),
)

# Two writers share routing_events: the router (kind="routing_action": created, updated,
# pending, failed, review per destination, shared/act/routing/ RoutingActionEvent) and the
# callbacks (kind fix_recorded / insight_decision / review_decision, shared/act/callbacks/
# RoutingEvent). This is the union of both; each row fills its own subset.
ROUTING_EVENT = _struct(
    ("schema_version", _TEXT),
    ("event_id", _TEXT),
    ("kind", _TEXT),
    ("source", _TEXT),
    ("action", _TEXT),
    ("insight_key", _TEXT),
    ("theme", _TEXT),
    ("product", _TEXT),
    ("segment", _TEXT),
    ("window_start", DateType()),
    ("window_end", DateType()),
    ("destination", _TEXT),
    ("sink", _TEXT),
    ("external_id", _TEXT),
    ("external_url", _TEXT),
    ("external_ids", MapType(StringType(), StringType())),
    ("rule", _TEXT),
    ("owner", _TEXT),
    ("run_id", _TEXT),
    ("exported_at", TimestampType()),
    ("reason", _TEXT),
    ("at", TimestampType()),
    ("record_id", _TEXT),
    ("actor", _TEXT),
    ("new_owner", _TEXT),
    ("occurred_at", TimestampType()),
    ("received_at", TimestampType()),
    ("idempotency_key", _TEXT),
)

LANDING_SCHEMAS: dict[str, StructType] = {
    "feedback": FEEDBACK,
    "classified": CLASSIFICATION,
    "review": CLASSIFICATION,
    "audit": AUDIT,
    "quality_events": QUALITY_EVENT,
    "routing_events": ROUTING_EVENT,
}
