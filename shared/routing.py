"""Routing: each insight of an export to its owner's tickets and channels, exactly once.

The ``route_insights`` blob trigger hands over ``exports/insights/<run_id>.json`` (an
:class:`~shared.insights.InsightExport`). For every insight:

1. ``prompts/routing.yaml`` decides: the first rule whose ``match`` fits names the owner
   team and the destinations (Jira, ServiceNow, Slack, Teams); no match is the default
   route, at a lower priority. Low confidence, low volume or no evidence sends a
   not-yet-routed insight to the human-review queue (``landing/routing_review/``) instead.
2. The routing ledger ``ledger/routing/<insight_key>.json`` is taken under a short lease
   (ETag compare-and-swap), so one invocation at a time works on an insight.
3. Per destination: the first export creates the ticket or message, a later export with
   changed facts updates it (comment, work note, edited message, follow-up card), an
   unchanged one does nothing. A failure leaves the destination ``pending`` (outage) or
   ``failed`` (refused) in the ledger, and the next export of the insight retries it.
   A ticket created at the sink whose ledger write was lost is found again by its marker
   (Jira label / ServiceNow correlation_id ``insightloop-<insight key>``).
4. Every action lands an event at
   ``landing/routing_events/ingest_date=YYYY-MM-DD/routing_action-<event_id>.jsonl``.

Each insight's summary comes from :mod:`shared.synthesis` and is cached in the ledger,
so a replayed export costs no model tokens. Sinks without endpoint settings write to the
local outbox (:class:`~shared.sinks.OutboxSink`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import hashlib
import io
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import (
    AlreadyExistsError,
    ConcurrencyConflictError,
    ConfigError,
    PermanentInputError,
    TransientError,
)
from shared.insights import Insight, InsightExport, Severity
from shared.landing import Quarantine
from shared.models import SCHEMA_VERSION, AwareDatetime
from shared.settings import Settings, get_settings
from shared.sinks import (
    DESTINATION_ORDER,
    Delivery,
    DestinationKind,
    FactsSnapshot,
    JiraTarget,
    ServiceNowTarget,
    SinkSet,
    SlackTarget,
    TeamsTarget,
    TicketContent,
)
from shared.storage import ObjectStorage, storage_from_settings
from shared.synthesis import InsightSummary, Synthesizer, summary_fingerprint
from shared.taxonomy import get_taxonomy

logger = logging.getLogger(__name__)

ROUTING_CONFIG = "routing.yaml"
LEDGER_PREFIX = "routing"
EVENTS_DATASET = "routing_events"  # shared with the callbacks' events
REVIEW_DATASET = "routing_review"
EVENT_KIND = "routing_action"
# Renewed on every ledger write; outlives one destination's worst retry budget.
LEASE_SECONDS = 300
SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
TARGET_MODELS: dict[str, type[BaseModel]] = {
    "jira": JiraTarget,
    "servicenow": ServiceNowTarget,
    "slack": SlackTarget,
    "teams": TeamsTarget,
}
_TEAM_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"

Action = Literal["created", "updated", "pending", "failed", "review"]
Status = Literal["pending", "delivered", "failed"]


def utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ routing.yaml


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewThresholds(_Section):
    """Below these an insight that has no ticket yet goes to human review."""

    min_confidence: float | None = Field(default=None, ge=0, le=1)
    min_volume: int | None = Field(default=None, ge=0)


class Match(_Section):
    """All given conditions must hold; an empty match fits every insight."""

    themes: tuple[str, ...] = ()
    products: tuple[str, ...] = Field(default=(), description="globs on the product/category")
    segments: tuple[str, ...] = Field(default=(), description="globs on the segment")
    min_urgency_high: int | None = Field(default=None, ge=0)
    min_volume: int | None = Field(default=None, ge=0)
    min_velocity: float | None = None
    min_severity: Severity | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)

    def matches(self, insight: Insight) -> bool:
        if self.themes and insight.theme not in self.themes:
            return False
        if self.products and not any(
            fnmatch.fnmatchcase(insight.product, p) for p in self.products
        ):
            return False
        if self.segments and not any(
            fnmatch.fnmatchcase(insight.segment, p) for p in self.segments
        ):
            return False
        if self.min_urgency_high is not None and insight.urgency_high < self.min_urgency_high:
            return False
        if self.min_volume is not None and insight.volume < self.min_volume:
            return False
        if self.min_velocity is not None and velocity_of(insight) < self.min_velocity:
            return False
        if self.min_severity is not None and (
            SEVERITY_ORDER[insight.severity] < SEVERITY_ORDER[self.min_severity]
        ):
            return False
        return self.min_confidence is None or insight.confidence >= self.min_confidence


def velocity_of(insight: Insight) -> float:
    """The velocity rules compare against: a theme new this window counts as a spike."""
    if insight.previous_volume == 0 and insight.volume > 0:
        return float("inf")
    return insight.finite_velocity


class Destinations(_Section):
    jira: JiraTarget | None = None
    servicenow: ServiceNowTarget | None = None
    slack: SlackTarget | None = None
    teams: TeamsTarget | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Destinations:
        if not self.items():
            raise ValueError("name at least one destination (jira, servicenow, slack, teams)")
        return self

    def items(self) -> list[tuple[DestinationKind, BaseModel]]:
        return [(kind, getattr(self, kind)) for kind in DESTINATION_ORDER if getattr(self, kind)]


class Rule(_Section):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    description: str | None = None
    match: Match = Field(default_factory=Match)
    owner: str = Field(pattern=_TEAM_PATTERN)
    review: ReviewThresholds | None = None
    destinations: Destinations


class DefaultRoute(_Section):
    owner: str = Field(pattern=_TEAM_PATTERN, description="when the insight suggests none")
    destinations: Destinations


class UpdatePolicy(_Section):
    """When a later export is worth a comment on an existing ticket."""

    min_volume_change: float = Field(
        default=0.25, ge=0, description="relative to what the destination saw last; 0: any"
    )

    def worth_it(self, seen: FactsSnapshot | None, insight: Insight) -> bool:
        """A severity change always is; else the volume must have moved enough."""
        if seen is None or seen.severity != insight.severity:
            return True
        return abs(insight.volume - seen.volume) >= self.min_volume_change * max(seen.volume, 1)


class SynthesisConfig(_Section):
    prompt_version: str = Field(min_length=1)
    instructions: str = Field(min_length=1)


class RoutingConfig(_Section):
    """``prompts/routing.yaml``, validated."""

    version: str = Field(min_length=1)
    review: ReviewThresholds
    default: DefaultRoute
    rules: tuple[Rule, ...] = ()
    updates: UpdatePolicy = Field(default_factory=UpdatePolicy)
    synthesis: SynthesisConfig

    @model_validator(mode="after")
    def _consistent(self) -> RoutingConfig:
        names = [rule.name for rule in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {repeated}")
        if self.review.min_confidence is None or self.review.min_volume is None:
            raise ValueError("review: set both min_confidence and min_volume")
        return self

    @property
    def teams(self) -> tuple[str, ...]:
        """Every owner team the file names (what Reassign offers)."""
        return tuple(sorted({rule.owner for rule in self.rules} | {self.default.owner}))

    def decide(self, insight: Insight) -> RouteDecision:
        """First matching rule wins; no match is the default route (lower priority)."""
        rule = next((r for r in self.rules if r.match.matches(insight)), None)
        if rule is None:
            owner = insight.suggested_owner or self.default.owner
            return RouteDecision(
                None, owner, self.default.destinations, self._review(insight, None)
            )
        return RouteDecision(rule.name, rule.owner, rule.destinations, self._review(insight, rule))

    def _review(self, insight: Insight, rule: Rule | None) -> str | None:
        override = rule.review if rule and rule.review else ReviewThresholds()
        min_confidence = _first(override.min_confidence, self.review.min_confidence)
        min_volume = _first(override.min_volume, self.review.min_volume)
        if not insight.evidence:
            return "no_evidence: an insight without evidence quotes makes no claim"
        if insight.confidence < min_confidence:
            return f"low_confidence: {insight.confidence:.2f} < {min_confidence:.2f}"
        if insight.volume < min_volume:
            return f"low_volume: {insight.volume} < {min_volume}"
        return None


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    rule: str | None  # None: no rule matched, the default route
    owner: str
    destinations: Destinations
    review_reason: str | None


def load_routing_config(path: Path, theme_ids: tuple[str, ...] | None = None) -> RoutingConfig:
    """Read and validate a routing file; rule themes must exist when ``theme_ids`` is given."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read routing rules {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: routing rules are a YAML mapping")
    try:
        config = RoutingConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ConfigError(f"{path}: {problems}") from None
    if theme_ids is not None:
        unknown = sorted({t for rule in config.rules for t in rule.match.themes} - set(theme_ids))
        if unknown:
            raise ConfigError(f"{path}: rules name themes the taxonomy lacks: {unknown}")
    return config


@functools.cache
def get_routing_config(config_dir: Path) -> RoutingConfig:
    """``<config_dir>/routing.yaml``, checked against the taxonomy, read once per process."""
    return load_routing_config(
        Path(config_dir) / ROUTING_CONFIG, get_taxonomy(Path(config_dir)).theme_ids
    )


# ------------------------------------------------------------------ ledger state


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


# ------------------------------------------------------------------ events and review


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


# ------------------------------------------------------------------ the router


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


@dataclass(frozen=True, slots=True)
class _Job:
    """One insight's routing within one invocation."""

    leased: LeasedState
    insight: Insight
    decision: RouteDecision
    run_id: str
    exported_at: datetime
    location: str
    fingerprint: str


def facts_fingerprint(insight: Insight) -> str:
    """Equal when a destination has nothing new to hear (confidence alone is not news)."""
    data = insight.model_dump(mode="json", exclude={"suggested_owner", "confidence"})
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


class Router:
    """Routes insight exports; one per process (:func:`get_router`), thread-compatible."""

    def __init__(
        self,
        storage: ObjectStorage,
        settings: Settings,
        config: RoutingConfig,
        sinks: SinkSet,
        synthesizer: Synthesizer,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.config = config
        self.sinks = sinks
        self.synthesizer = synthesizer
        self.clock = clock
        self.ledger = RoutingLedger(storage, settings.ledger_container, clock)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        storage: ObjectStorage | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        config: RoutingConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> Router:
        storage = storage if storage is not None else storage_from_settings(settings)
        config = config or get_routing_config(Path(settings.config_dir))
        return cls(
            storage,
            settings,
            config,
            SinkSet.from_settings(settings, storage, environ=environ, clock=clock),
            synthesizer_from_settings(settings, config),
            clock=clock,
        )

    def close(self) -> None:
        self.sinks.close()

    # ------------------------------------------------------------ entry points

    def route_bytes(self, data: bytes, name: str) -> RoutingReport:
        """Route an export file; an unreadable one is quarantined with the reason."""
        container = self.settings.exports_container
        path = name[len(container) + 1 :] if name.startswith(f"{container}/") else name
        try:
            export = InsightExport.model_validate_json(data)
        except ValidationError as exc:
            where = ", ".join(".".join(map(str, e["loc"])) or "file" for e in exc.errors()[:3])
            reason = f"not an insight export ({where})"
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                reason = "not an insight export (invalid JSON)"
            return self._quarantine(path, data, reason)
        return self.route(export, self.storage.describe(container, path))

    def route(self, export: InsightExport, location: str) -> RoutingReport:
        """Route every insight of ``export``; ``location`` is linked back from tickets."""
        report = RoutingReport(export=location, run_id=export.run_id, insights=len(export.insights))
        invocation = uuid.uuid4().hex
        for insight in export.insights:
            key = insight.insight_key
            leased = self.ledger.acquire(
                key, lambda i=insight: RoutingState.new(i, export.run_id, self.clock()), invocation
            )
            if leased is None:
                report.busy += 1
                continue
            try:
                self._route_insight(leased, insight, export, location, report)
            finally:
                leased.release()
        return report

    def _quarantine(self, path: str, data: bytes, reason: str) -> RoutingReport:
        now = self.clock()
        quarantine = Quarantine(
            self.storage, self.settings.quarantine_container, uuid.uuid4().hex[:12], now
        )
        where = quarantine.add_file("routing", path, io.BytesIO(data), reason)
        logger.warning("routing export %s quarantined: %s", path, reason)
        return RoutingReport(export=where, rejected=reason)

    # ------------------------------------------------------------ one insight

    def _route_insight(
        self,
        leased: LeasedState,
        insight: Insight,
        export: InsightExport,
        location: str,
        report: RoutingReport,
    ) -> None:
        decision = self.config.decide(insight)
        state = leased.state.model_copy(
            update={
                "last_run_id": export.run_id,
                "rule": decision.rule,
                "owner": decision.owner,
                "updated_at": self.clock(),
            }
        )
        if decision.review_reason and not state.routed:
            self._review(leased, state, insight, decision, export, report)
            return
        if not insight.evidence:
            # Routed before, no quote now: nothing a ticket could cite, so nothing to say.
            leased.save(state, release=True)
            report.unchanged += 1
            return
        targets = dict(decision.destinations.items())
        for kind, known in state.destinations.items():
            # A destination of an earlier route keeps getting updates (no orphaned ticket).
            if kind not in targets and known.created:
                targets[kind] = TARGET_MODELS[kind].model_validate(known.target)
        job = _Job(
            leased,
            insight,
            decision,
            export.run_id,
            export.generated_at,
            location,
            facts_fingerprint(insight),
        )
        acted = False
        for kind in DESTINATION_ORDER:
            if kind not in targets:
                continue
            state, action = self._deliver(job, state, kind, targets[kind], report)
            if action is None:
                continue
            acted = True
            report.events += 1
            setattr(report, action, getattr(report, action) + 1)
        report.routed += 1 if acted else 0
        report.unchanged += 0 if acted else 1
        leased.save(state, release=True)

    def _deliver(
        self,
        job: _Job,
        state: RoutingState,
        kind: DestinationKind,
        target: Any,
        report: RoutingReport,
    ) -> tuple[RoutingState, Action | None]:
        """Create, update or retry one destination; commits the ledger after the action."""
        insight = job.insight
        known = state.destinations.get(kind)
        now = self.clock()
        target_json = target.model_dump(mode="json")
        previous = known or DestinationState(
            kind=kind, sink=kind, target=target_json, status="pending", updated_at=now
        )
        delivery: Delivery | None = None
        sink_name, update, error = previous.sink, False, ""
        try:
            sink = self.sinks.for_target(kind, target)
            sink_name = sink.name
            update = known is not None and known.created and known.sink == sink.name
            if (
                update
                and known.status == "delivered"
                and (
                    known.fingerprint == job.fingerprint
                    or not self.config.updates.worth_it(known.delivered, insight)
                )
            ):
                return state, None  # nothing the destination needs to hear (yet)
            summary, state = self._summary(state, insight, report)
            if summary is None:
                return state, None
            content = TicketContent(
                insight=insight,
                summary=summary,
                owner=job.decision.owner,
                rule=job.decision.rule,
                run_id=job.run_id,
                export_location=job.location,
                insight_url=self._insight_url(insight.insight_key),
                related=self._related(state, kind),
                previous=known.delivered if update and known else None,
                teams=self.config.teams,
            )
            if update and known is not None:
                delivery = sink.update(content, target, known.delivery())
            else:
                delivery = sink.create(content, target)
        except TransientError as exc:
            action: Action = "pending"
            error = str(exc)
        except (ConfigError, PermanentInputError) as exc:
            action, error = "failed", str(exc)
            logger.error("routing %s -> %s failed: %s", insight.insight_key, kind, error)
        if delivery is not None:
            action = "updated" if update else "created"
            new = DestinationState(
                kind=kind,
                sink=sink_name,
                target=target_json,
                status="delivered",
                created=True,
                external_id=delivery.external_id,
                external_url=delivery.external_url,
                ref=delivery.ref,
                delivered=FactsSnapshot.of(insight, job.run_id),
                fingerprint=job.fingerprint,
                updated_at=now,
            )
            reason = "found at the sink by its marker" if delivery.adopted else None
            ident = (sink_name, new.external_id or "") if not update else (job.fingerprint,)
        else:
            new = previous.model_copy(
                update={
                    "status": action,
                    "target": target_json,
                    "pending_action": "update" if update else "create",
                    "attempts": previous.attempts + 1,
                    "last_error": error[:500],
                    "updated_at": now,
                }
            )
            reason = error[:500]
            ident = (sink_name, str(new.attempts), job.run_id)
            if action == "pending":
                logger.warning(
                    "routing %s -> %s pending (attempt %d): %s",
                    insight.insight_key,
                    kind,
                    new.attempts,
                    error,
                )
        event = RoutingActionEvent(
            event_id=event_id(insight.insight_key, kind, action, *ident),
            insight_key=insight.insight_key,
            **insight.key_fields(),
            destination=kind,
            action=action,
            sink=sink_name,
            external_id=new.external_id,
            external_url=new.external_url,
            external_ids=_external_ids(kind, new),
            rule=job.decision.rule,
            owner=job.decision.owner,
            run_id=job.run_id,
            exported_at=job.exported_at,
            reason=reason,
            at=now,
        )
        # The event lands before the ledger commit: its id is stable, so a retry after a
        # lost commit lands nothing twice, and a lost event cannot hide a committed action.
        self._land_event(event)
        state = state.model_copy(update={"destinations": {**state.destinations, kind: new}})
        job.leased.save(state)
        return state, action

    def _review(
        self,
        leased: LeasedState,
        state: RoutingState,
        insight: Insight,
        decision: RouteDecision,
        export: InsightExport,
        report: RoutingReport,
    ) -> None:
        run_id = export.run_id
        if state.review is not None:
            # Queued once: a reviewer has it, later exports add nothing.
            leased.save(state, release=True)
            report.unchanged += 1
            return
        summary, state = self._summary(state, insight, report)
        now = self.clock()
        reason = decision.review_reason or "review"
        item = ReviewItem(
            insight_key=insight.insight_key,
            reason=reason,
            rule=decision.rule,
            suggested_owner=decision.owner,
            run_id=run_id,
            exported_at=export.generated_at,
            queued_at=now,
            summary=summary,
            insight=insight,
        )
        # AlreadyExists: a retry of this invocation landed it already.
        with contextlib.suppress(AlreadyExistsError):
            self.storage.write(
                self.settings.landing_container,
                item.landing_path,
                item.model_dump_json().encode() + b"\n",
                if_none_match=True,
            )
        self._land_event(
            RoutingActionEvent(
                event_id=event_id(insight.insight_key, "review"),
                insight_key=insight.insight_key,
                **insight.key_fields(),
                destination="review",
                action="review",
                sink="landing",
                external_id=item.landing_path,
                rule=decision.rule,
                owner=decision.owner,
                run_id=run_id,
                exported_at=export.generated_at,
                reason=reason,
                at=now,
            )
        )
        mark = ReviewMark(queued_at=now, reason=reason, run_id=run_id, path=item.landing_path)
        leased.save(state.model_copy(update={"review": mark}), release=True)
        report.in_review += 1
        report.events += 1

    # ------------------------------------------------------------ helpers

    def _summary(
        self, state: RoutingState, insight: Insight, report: RoutingReport
    ) -> tuple[InsightSummary | None, RoutingState]:
        """The cached summary while facts and evidence are unchanged, else a new one."""
        fingerprint = summary_fingerprint(insight, self.synthesizer.version)
        if state.summary is not None and state.summary_fingerprint == fingerprint:
            return state.summary, state
        summary = self.synthesizer.summarize(insight)
        if summary is not None:
            report.llm_summaries += summary.method == "llm"
            report.dropped_sentences += summary.dropped_sentences
        return summary, state.model_copy(
            update={"summary": summary, "summary_fingerprint": fingerprint}
        )

    def _related(self, state: RoutingState, kind: str) -> tuple[tuple[str, str], ...]:
        labels = {"jira": "Jira", "servicenow": "ServiceNow", "slack": "Slack", "teams": "Teams"}
        return tuple(
            (f"{labels[other]} {known.external_id}", known.external_url)
            for other, known in state.destinations.items()
            if other != kind and known.created and known.external_url and known.sink != "outbox"
        )

    def _insight_url(self, insight_key: str) -> str | None:
        base = self.settings.routing_link_base_url
        return f"{base.rstrip('/')}/{insight_key}" if base else None

    def _land_event(self, event: RoutingActionEvent) -> None:
        # AlreadyExists: the same action, landed by an earlier try.
        with contextlib.suppress(AlreadyExistsError):
            self.storage.write(
                self.settings.landing_container,
                event.landing_path,
                event.model_dump_json().encode() + b"\n",
                if_none_match=True,
            )


def _external_ids(kind: str, state: DestinationState) -> dict[str, str]:
    """The ids the callbacks match on (Jira issue key, Slack channel + ts, ServiceNow sys_id)."""
    if not state.external_id or state.sink != kind:
        return {}
    found = {
        "jira": {"issue_key": state.external_id},
        "slack": {"channel_id": state.ref.get("channel"), "message_ts": state.external_id},
        "servicenow": {"number": state.external_id, "sys_id": state.ref.get("sys_id")},
    }.get(kind, {})
    return {name: value for name, value in found.items() if value}


def synthesizer_from_settings(settings: Settings, config: RoutingConfig) -> Synthesizer:
    """Extractive with the ``local`` provider; the configured model otherwise."""
    if settings.llm_provider == "local":
        return Synthesizer()
    from shared.decide import chat_model_from_settings  # the openai SDK only when needed

    return Synthesizer(
        chat_model_from_settings(settings),
        instructions=config.synthesis.instructions,
        prompt_version=config.synthesis.prompt_version,
    )


@functools.cache
def get_router() -> Router:
    """The process-wide router for the Functions handler, built on first use."""
    return Router.from_settings(get_settings())


def route_export(data: bytes, name: str, *, router: Router | None = None) -> RoutingReport:
    """Route the export file ``name`` (``insights/<run>.json``, container prefix optional)."""
    return (router or get_router()).route_bytes(data, name)


__all__ = [
    "DestinationState",
    "Match",
    "ReviewItem",
    "RouteDecision",
    "Router",
    "RoutingActionEvent",
    "RoutingConfig",
    "RoutingLedger",
    "RoutingReport",
    "RoutingState",
    "Rule",
    "get_router",
    "get_routing_config",
    "load_routing_config",
    "route_export",
    "synthesizer_from_settings",
]
