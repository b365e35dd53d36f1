"""The router: an export's insights to their destinations, exactly once, and its entry points."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from shared.act.routing.events import (
    Action,
    ReviewItem,
    RoutingActionEvent,
    RoutingReport,
    event_id,
)
from shared.act.routing.ledger import (
    DestinationState,
    LeasedState,
    ReviewMark,
    RoutingLedger,
    RoutingState,
    utc_now,
)
from shared.act.routing.rules import TARGET_MODELS, RouteDecision, RoutingConfig, get_routing_config
from shared.act.sinks import (
    DESTINATION_ORDER,
    Delivery,
    DestinationKind,
    FactsSnapshot,
    SinkSet,
    TicketContent,
)
from shared.act.synthesis import InsightSummary, Synthesizer, summary_fingerprint
from shared.errors import (
    AlreadyExistsError,
    ConfigError,
    PermanentInputError,
    TransientError,
)
from shared.insights import Insight, InsightExport
from shared.landing import Quarantine
from shared.settings import Settings, get_settings
from shared.storage import ObjectStorage, storage_from_settings

logger = logging.getLogger(__name__)


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
    from shared.decide.factory import chat_model_from_settings  # the openai SDK only when needed

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
