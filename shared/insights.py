"""The insight export: what the Gold job hands to routing.

The Databricks job's export task writes one file per run, whole, to
``exports/insights/<run_id>.json`` (an :class:`InsightExport`); the ``route_insights``
blob trigger reads it. An insight is keyed by theme × product × segment × window
(:attr:`Insight.insight_key`), so a later export of the same insight updates its ticket
instead of opening a second one. Windows are calendar periods (an ISO week, Monday to
Sunday), so every export during a week refers to the same insight.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models import SCHEMA_VERSION, AwareDatetime

EXPORTS_PREFIX = "insights"
Severity = Literal["low", "medium", "high", "critical"]
KEY_FIELDS = ("theme", "product", "segment", "window_start", "window_end")


class EvidenceQuote(BaseModel):
    """A verbatim (masked) quote and the record it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    quote: str = Field(min_length=1, max_length=2000)
    sentiment: str | None = None
    created_at: AwareDatetime | None = None


class Insight(BaseModel):
    """One candidate insight from ``gold_insights``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str
    product: str = Field(description="product or category; '*' when not split by product")
    segment: str = Field(description="segment (channel, region, ...); '*' when not split")
    window_start: date = Field(description="the ISO week (Monday) the insight belongs to")
    window_end: date = Field(description="that week's Sunday; with window_start, part of the key")
    period_start: date | None = Field(
        default=None, description="first day of the trailing window the figures measure"
    )
    period_end: date | None = Field(default=None, description="the reporting date (as_of)")
    volume: int = Field(ge=0, description="records with this theme in the window")
    previous_volume: int = Field(default=0, ge=0, description="the same window one period back")
    velocity: float | None = Field(
        default=None,
        description="relative change against the previous window; None when it had none",
    )
    negative_share: float = Field(ge=0, le=1)
    severity: Severity
    severity_score: float | None = Field(
        default=None, ge=0, le=1, description="negative share x mean urgency weight"
    )
    confidence: float = Field(ge=0, le=1, description="mean classification confidence")
    urgency_high: int = Field(default=0, ge=0, description="records flagged high urgency")
    suggested_owner: str | None = None
    evidence: list[EvidenceQuote] = Field(default_factory=list, max_length=10)
    rank: int | None = Field(default=None, ge=1, description="1 = highest priority this run")
    priority: float | None = Field(default=None, ge=0)

    @property
    def finite_velocity(self) -> float:
        """The velocity for display and arithmetic: 0.0 when there is none to compare."""
        if self.velocity is None or not math.isfinite(self.velocity):
            return 0.0
        return self.velocity

    def key_fields(self) -> dict[str, str | date]:
        """What :attr:`insight_key` hashes, for records that must say what the key stands for."""
        return {name: getattr(self, name) for name in KEY_FIELDS}

    @property
    def insight_key(self) -> str:
        """Stable across exports of the same insight: theme × product × segment × window."""
        # str() of a date is its ISO form, as Gold's sha2 over the same fields writes it.
        raw = "\x1f".join(str(value) for value in self.key_fields().values())
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


class InsightExport(BaseModel):
    """``exports/insights/<run_id>.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    run_id: str = Field(min_length=1, max_length=200)
    generated_at: AwareDatetime
    as_of: date | None = Field(default=None, description="the reporting date; None when empty")
    insight_count: int | None = Field(default=None, ge=0)
    insights: list[Insight]

    @model_validator(mode="after")
    def _count_matches(self) -> InsightExport:
        if self.insight_count is not None and self.insight_count != len(self.insights):
            raise ValueError(
                f"insight_count is {self.insight_count} but {len(self.insights)} insights follow"
            )
        return self


__all__ = ["EXPORTS_PREFIX", "EvidenceQuote", "Insight", "InsightExport", "Severity"]
