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
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models import SCHEMA_VERSION, AwareDatetime

EXPORTS_PREFIX = "insights"
Severity = Literal["low", "medium", "high", "critical"]


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
    window_start: date
    window_end: date
    volume: int = Field(ge=0, description="records with this theme in the window")
    previous_volume: int = Field(default=0, ge=0, description="the same window one period back")
    velocity: float = Field(description="relative change against the previous window")
    negative_share: float = Field(ge=0, le=1)
    severity: Severity
    confidence: float = Field(ge=0, le=1, description="mean classification confidence")
    urgency_high: int = Field(default=0, ge=0, description="records flagged high urgency")
    suggested_owner: str | None = None
    evidence: list[EvidenceQuote] = Field(default_factory=list, max_length=10)

    @property
    def insight_key(self) -> str:
        """Stable across exports of the same insight: theme × product × segment × window."""
        raw = "\x1f".join(
            (
                self.theme,
                self.product,
                self.segment,
                self.window_start.isoformat(),
                self.window_end.isoformat(),
            )
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


class InsightExport(BaseModel):
    """``exports/insights/<run_id>.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    run_id: str = Field(min_length=1, max_length=200)
    generated_at: AwareDatetime
    insights: list[Insight]


__all__ = ["EXPORTS_PREFIX", "EvidenceQuote", "Insight", "InsightExport", "Severity"]
