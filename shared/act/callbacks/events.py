"""The routing events the callbacks land, their ids and claim markers, and a request's outcome."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.act.callbacks.payload import _validated
from shared.models import SCHEMA_VERSION, AwareDatetime

ROUTING_EVENTS_DATASET = "routing_events"


MARKERS_PREFIX = "callbacks"


SLACK_ACTIONS = frozenset({"confirm", "reject", "reassign"})


_HEX_KEY = r"^[0-9a-f]{32}$"


EventKind = Literal["fix_recorded", "insight_decision", "review_decision"]


EventSource = Literal["jira", "slack", "review"]


EventAction = Literal["resolved", "confirm", "reject", "reassign", "approve", "correct"]


Outcome = Literal["recorded", "duplicate", "ignored"]


_KIND: dict[str, str] = {
    "jira": "fix_recorded",
    "slack": "insight_decision",
    "review": "review_decision",
}


_ACTIONS: dict[str, frozenset[str]] = {
    "jira": frozenset({"resolved"}),
    "slack": SLACK_ACTIONS,
    "review": frozenset({"approve", "correct", "reject"}),
}


def routing_event_id(source: str, idempotency_key: str) -> str:
    """Stable per delivery: every retry of one delivery maps to the same event id."""
    return hashlib.sha256(f"{source}\x1f{idempotency_key}".encode()).hexdigest()[:32]


def marker_path(source: str, event_id: str) -> str:
    """The ledger object that claims an event id: create-if-absent, holds the event."""
    return f"{MARKERS_PREFIX}/{source}/{event_id}.json"


class RoutingEvent(BaseModel):
    """One accepted callback, as landed at ``landing/routing_events/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    event_id: str = Field(pattern=_HEX_KEY, description="sha256(source, idempotency_key)")
    kind: EventKind
    source: EventSource
    action: EventAction
    insight_key: str | None = Field(default=None, pattern=_HEX_KEY)
    record_id: str | None = Field(default=None, pattern=_HEX_KEY)
    actor: str | None = Field(
        default=None, max_length=200, description="Jira account id, Slack user id, reviewer"
    )
    new_owner: str | None = Field(default=None, description="the team of a reassign")
    occurred_at: AwareDatetime | None = Field(default=None, description="as the sender says")
    received_at: AwareDatetime
    idempotency_key: str = Field(min_length=1, max_length=400)
    external_ids: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> RoutingEvent:
        if self.kind != _KIND[self.source] or self.action not in _ACTIONS[self.source]:
            raise ValueError(
                f"{self.source} events are {_KIND[self.source]} with an action in "
                f"{sorted(_ACTIONS[self.source])}"
            )
        if self.source == "review" and self.record_id is None:
            raise ValueError("a review decision names its record_id")
        if self.source != "review" and self.insight_key is None:
            raise ValueError(f"a {self.source} event names its insight_key")
        if (self.action == "reassign") != (self.new_owner is not None):
            raise ValueError("new_owner is given exactly for a reassign")
        if self.event_id != routing_event_id(self.source, self.idempotency_key):
            raise ValueError("event_id does not match the idempotency key")
        return self

    @classmethod
    def create(cls, source: EventSource, idempotency_key: str, **fields: Any) -> RoutingEvent:
        """The event of one delivery; ids too long or odd for the contract are a 400."""
        values = {
            "event_id": routing_event_id(source, idempotency_key),
            "kind": _KIND[source],
            "source": source,
            "idempotency_key": idempotency_key,
            **fields,
        }
        return _validated(cls, values, f"{source} event")

    @property
    def landing_path(self) -> str:
        day = self.received_at.astimezone(UTC)
        return (
            f"{ROUTING_EVENTS_DATASET}/ingest_date={day:%Y-%m-%d}/{self.kind}-{self.event_id}.jsonl"
        )

    @property
    def marker_path(self) -> str:
        return marker_path(self.source, self.event_id)


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    """What one accepted request did; every outcome is answered with 202."""

    status: Outcome
    events: tuple[RoutingEvent, ...] = ()
    reason: str | None = None  # why nothing was recorded, for an ignored delivery
