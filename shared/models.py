"""Contracts: the canonical feedback record, quarantine entries and ingest reports.

Every landed row is JSON Lines with a ``schema_version`` so that Auto Loader and the
Silver layer can evolve the schema deliberately.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

SCHEMA_VERSION = "1.0"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Channel = Literal["review", "ticket", "chat", "survey", "social"]
CHANNELS: tuple[str, ...] = Channel.__args__  # type: ignore[attr-defined]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_utc)]
OptionalText = Annotated[str | None, Field(default=None, max_length=2_000)]


def normalize_for_identity(text: str) -> str:
    """Case- and whitespace-insensitive form of a text, used only for content ids."""
    return " ".join(text.casefold().split())


def make_record_id(
    source: str,
    source_event_id: str | None,
    *,
    text: str = "",
    title: str | None = None,
    created_at: datetime | None = None,
    product: str | None = None,
) -> str:
    """Stable 128-bit id: source + source_event_id, else source + normalized content.

    The content form includes created_at and product so that two customers writing
    "Great!" on different days stay two records, while a re-export of the same row
    maps to the same id.
    """
    if source_event_id:
        key = f"id\x1f{source}\x1f{source_event_id}"
    else:
        # Whole microseconds since the epoch: one instant, one stamp, whatever the offset.
        stamp = str((created_at - _EPOCH) // _MICROSECOND) if created_at else ""
        key = "\x1f".join(
            (
                "content",
                source,
                stamp,
                normalize_for_identity(product or ""),
                normalize_for_identity(title or ""),
                normalize_for_identity(text),
            )
        )
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class FeedbackRecord(BaseModel):
    """One piece of customer feedback in the canonical shape every stage consumes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    record_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    source: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    channel: Channel
    source_event_id: str | None = Field(default=None, max_length=256)
    created_at: AwareDatetime
    received_at: AwareDatetime
    # Empty only where the source mapping allows it (an NPS score without a comment).
    text: str
    title: OptionalText = None
    rating: int | None = Field(default=None, ge=1, le=5)
    nps_score: int | None = Field(default=None, ge=0, le=10)
    product: OptionalText = None
    sku: OptionalText = None
    product_category: OptionalText = None
    region: OptionalText = None
    locale: str | None = Field(default=None, max_length=35)
    # Detected from the text before masking; "und" when too short or unclear to tell.
    language: str | None = Field(default=None, pattern=r"^(?:[a-z]{2}|und)$")
    language_confidence: float | None = Field(default=None, ge=0, le=1)
    customer_segment: OptionalText = None
    order_value: float | None = Field(default=None, ge=0)
    metadata: dict[str, str] = Field(default_factory=dict)


QuarantineReason = Literal[
    "unknown_source",
    "unreadable_file",
    "bad_encoding",
    "wrong_column_count",
    "malformed_row",
    "oversized_row",
    "invalid_json",
    "invalid_record",
    "missing_text",
    "text_too_long",
    "bad_date",
    "invalid_field",
    "quality_gate",
]


class QuarantinedRow(BaseModel):
    """A row (or message) that could not become a record, with where and why."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    run_id: str
    source: str
    input_name: str
    record_index: int | None = Field(description="1-based position of the row in the input")
    line: int | None = Field(description="1-based line where the row starts, when known")
    reason: QuarantineReason
    detail: str
    raw: str | None = None
    raw_truncated: bool = False
    quarantined_at: AwareDatetime


class ClassifyWorkItem(BaseModel):
    """One unit of the classify stage (a queue message): where records are, never their text.

    Lines ``start`` to ``stop`` (0-based, ``stop`` excluded) of one landing file; the id
    is derived from them, so every output the stage lands for it has a deterministic name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    path: str = Field(min_length=1, max_length=1_024)
    start: int = Field(ge=0)
    stop: int = Field(ge=1)
    run_id: str = Field(min_length=1, max_length=128)
    ingest_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")

    @property
    def item_id(self) -> str:
        key = f"{self.path}\x1f{self.start}\x1f{self.stop}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]


class IngestReport(BaseModel):
    """What happened to one input (a file or a batch of messages); landed as a row too."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    run_id: str
    source: str
    input_name: str
    input_sha256: str | None = None
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    records_in: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    duplicate_input: bool = Field(
        default=False, description="the whole input was ingested before and was skipped"
    )
    raced_duplicates: int = Field(
        default=0,
        description="records another concurrent run landed too; Silver keeps one",
    )
    quarantine_reasons: dict[str, int] = Field(default_factory=dict)
    languages: dict[str, int] = Field(
        default_factory=dict, description="landed records per detected language"
    )
    masked_entities: dict[str, int] = Field(
        default_factory=dict, description="PII spans masked in landed records, per entity type"
    )
    quality_events: list[str] = Field(
        default_factory=list, description="landed quality-gate event files"
    )
    classified: int = Field(default=0, description="landed records classified with confidence")
    in_review: int = Field(default=0, description="landed records queued for human review")
    model_calls: int = 0
    evidence_pii_masked: int = Field(
        default=0, description="PII spans the re-scan masked in evidence quotes before landing"
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0
    file_errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    landed_files: list[str] = Field(default_factory=list)
    classify_items: list[ClassifyWorkItem] = Field(
        default_factory=list, description="classify work items queued for the landed records"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reconciled(self) -> bool:
        """True when every record in is accounted for: in = landed + duplicates + quarantined."""
        return self.records_in == self.landed + self.duplicates + self.quarantined

    def count_quarantined(self, reason: str, n: int = 1) -> None:
        self.quarantined += n
        self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + n
