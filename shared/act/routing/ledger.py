"""The routing ledger: one leased JSON per insight, what each destination has received."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.act.sinks import (
    Delivery,
    DestinationKind,
    FactsSnapshot,
)
from shared.act.synthesis import InsightSummary
from shared.errors import (
    ConcurrencyConflictError,
    TransientError,
)
from shared.insights import Insight
from shared.models import SCHEMA_VERSION, AwareDatetime
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)


LEDGER_PREFIX = "routing"


# Renewed on every ledger write; outlives one destination's worst retry budget.
LEASE_SECONDS = 300


Status = Literal["pending", "delivered", "failed"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DestinationState(BaseModel):
    """One destination of one insight, as the ledger knows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DestinationKind
    sink: str = Field(description="the kind for a live sink, or outbox")
    target: dict[str, Any]
    status: Status
    created: bool = Field(default=False, description="the sink holds a ticket/message")
    pending_action: Literal["create", "update"] | None = None
    external_id: str | None = None
    external_url: str | None = None
    ref: dict[str, str] = Field(default_factory=dict)
    delivered: FactsSnapshot | None = Field(default=None, description="what the sink saw last")
    fingerprint: str | None = Field(default=None, description="facts the sink saw last")
    attempts: int = Field(default=0, ge=0, description="failed attempts since the last success")
    last_error: str | None = None
    updated_at: AwareDatetime

    def delivery(self) -> Delivery:
        return Delivery(self.external_id, self.external_url, dict(self.ref))


class ReviewMark(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queued_at: AwareDatetime
    reason: str
    run_id: str
    path: str


class Lease(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str
    until: AwareDatetime


class RoutingState(BaseModel):
    """``ledger/routing/<insight_key>.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    insight_key: str = Field(pattern=r"^[0-9a-f]{32}$")
    theme: str
    product: str
    segment: str
    window_start: date
    window_end: date
    first_run_id: str
    last_run_id: str
    rule: str | None = None
    owner: str | None = None
    review: ReviewMark | None = None
    summary: InsightSummary | None = None
    summary_fingerprint: str | None = None
    destinations: dict[str, DestinationState] = Field(default_factory=dict)
    lease: Lease | None = None
    updated_at: AwareDatetime

    @classmethod
    def new(cls, insight: Insight, run_id: str, now: datetime) -> RoutingState:
        return cls(
            insight_key=insight.insight_key,
            **insight.key_fields(),
            first_run_id=run_id,
            last_run_id=run_id,
            updated_at=now,
        )

    @property
    def routed(self) -> bool:
        """Some sink holds a ticket or message: the review queue no longer applies."""
        return any(d.created for d in self.destinations.values())


class LeasedState:
    """A ledger entry this invocation holds; every save renews the lease (ETag CAS)."""

    def __init__(self, ledger: RoutingLedger, state: RoutingState, etag: str, owner: str) -> None:
        self.ledger = ledger
        self.state = state
        self.etag = etag
        self.owner = owner
        self.released = False

    def save(self, state: RoutingState, *, release: bool = False) -> None:
        """Raises ConcurrencyConflictError when the lease was lost (it had expired)."""
        lease = None if release else self.ledger.lease(self.owner)
        state = state.model_copy(update={"lease": lease})
        self.etag = self.ledger.write(state, if_match=self.etag)
        self.state = state
        self.released = release

    def release(self) -> None:
        """Give the lease back if the last save kept it (after a failure part-way)."""
        if self.released:
            return
        try:
            self.save(self.state, release=True)
        except (TransientError, OSError) as exc:
            # The lease runs out on its own; only a later invocation waits for it.
            logger.warning(
                "routing lease on %s not released: %s", self.state.insight_key, type(exc).__name__
            )


class RoutingLedger:
    """Routing state per insight in the ledger container."""

    def __init__(
        self,
        storage: ObjectStorage,
        container: str,
        clock: Callable[[], datetime] = utc_now,
        lease_seconds: int = LEASE_SECONDS,
    ) -> None:
        self.storage = storage
        self.container = container
        self.clock = clock
        self.lease_seconds = lease_seconds

    @staticmethod
    def path(insight_key: str) -> str:
        return f"{LEDGER_PREFIX}/{insight_key}.json"

    def lease(self, owner: str) -> Lease:
        return Lease(owner=owner, until=self.clock() + timedelta(seconds=self.lease_seconds))

    def read(self, insight_key: str) -> tuple[RoutingState, str] | None:
        found = self.storage.read(self.container, self.path(insight_key))
        if found is None:
            return None
        return RoutingState.model_validate_json(found[0]), found[1]

    def write(
        self, state: RoutingState, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        data = state.model_dump_json(indent=2).encode() + b"\n"
        return self.storage.write(
            self.container,
            self.path(state.insight_key),
            data,
            if_match=if_match,
            if_none_match=if_none_match,
        )

    def acquire(
        self, insight_key: str, fresh: Callable[[], RoutingState], owner: str
    ) -> LeasedState | None:
        """The entry under this owner's lease, or None while another invocation holds it."""
        for _ in range(3):
            found = self.read(insight_key)
            if found is not None:
                state, etag = found
                lease = state.lease
                if lease is not None and lease.owner != owner and lease.until > self.clock():
                    return None
            else:
                state, etag = fresh(), None
            claimed = state.model_copy(update={"lease": self.lease(owner)})
            try:
                if etag is None:
                    new_etag = self.write(claimed, if_none_match=True)
                else:
                    new_etag = self.write(claimed, if_match=etag)
            except ConcurrencyConflictError:
                continue  # another invocation wrote in between: look again
            return LeasedState(self, claimed, new_etag, owner)
        return None
