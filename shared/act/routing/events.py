"""What routing lands: an event per action, a review item per held-back insight, a run's report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.act.synthesis import InsightSummary
from shared.insights import Insight
from shared.models import SCHEMA_VERSION, AwareDatetime

EVENTS_DATASET = "routing_events"  # shared with the callbacks' events


REVIEW_DATASET = "routing_review"


EVENT_KIND = "routing_action"


Action = Literal["created", "updated", "pending", "failed", "review"]


def event_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class RoutingActionEvent(BaseModel):
    """One routing action, landed as one JSON line beside the callbacks' events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    event_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    kind: Literal["routing_action"] = EVENT_KIND
    source: Literal["routing"] = "routing"
    insight_key: str = Field(pattern=r"^[0-9a-f]{32}$")
    # What the key stands for, so Gold can measure outcomes of insights long out of window.
    theme: str
    product: str
    segment: str
    window_start: date
    window_end: date
    destination: Literal["jira", "servicenow", "slack", "teams", "review"]
    action: Action
    sink: str = Field(description="jira, servicenow, slack, teams, outbox or landing")
    external_id: str | None = None
    external_url: str | None = None
    external_ids: dict[str, str] = Field(default_factory=dict)
    rule: str | None = None
    owner: str | None = None
    run_id: str = Field(description="the export run that caused the action")
    exported_at: AwareDatetime = Field(description="the export's generated_at: the partition")
    reason: str | None = Field(default=None, description="why pending/failed/review; no text")
    at: AwareDatetime

    @property
    def landing_path(self) -> str:
        # The export's date, not the clock's: a retry after midnight lands at the same path.
        day = self.exported_at.astimezone(UTC)
        return f"{EVENTS_DATASET}/ingest_date={day:%Y-%m-%d}/{self.kind}-{self.event_id}.jsonl"


class ReviewItem(BaseModel):
    """An insight for a human to confirm before it becomes a ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    insight_key: str
    reason: str
    rule: str | None
    suggested_owner: str
    run_id: str
    exported_at: AwareDatetime
    queued_at: AwareDatetime
    summary: InsightSummary | None
    insight: Insight

    @property
    def landing_path(self) -> str:
        day = self.exported_at.astimezone(UTC)
        return f"{REVIEW_DATASET}/ingest_date={day:%Y-%m-%d}/{self.insight_key}.jsonl"


@dataclass(slots=True)
class RoutingReport:
    """What routing one export did (counts only: no feedback text)."""

    export: str
    run_id: str | None = None
    insights: int = 0
    routed: int = 0
    in_review: int = 0
    unchanged: int = 0
    busy: int = 0
    created: int = 0
    updated: int = 0
    pending: int = 0
    failed: int = 0
    events: int = 0
    llm_summaries: int = 0
    dropped_sentences: int = 0
    rejected: str | None = None  # why the export itself was quarantined
