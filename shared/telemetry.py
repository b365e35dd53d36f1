"""Telemetry: Azure Monitor export when configured, the pipeline's metrics and log lines.

Nothing runs at import time. The first ``record_*`` call (or ``configure_telemetry()``)
starts the Azure Monitor exporter when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set; it
authenticates with the identity in ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` (local auth
is off in Azure). Without it the metrics are no-ops and only the log lines are written.

Metric attributes are low-cardinality labels (source, trigger, reason, prompt version,
model, sink, route); ids, counts and durations go to one ``key=value`` log line per event
on the ``insightloop.telemetry`` logger. Feedback text never goes to either. docs/operate.md
has the KQL that reads them.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter, MeterProvider

    from shared.act.routing import RoutingReport
    from shared.decide.batch_backfill import PollResult
    from shared.decide.classify_stage import StageResult
    from shared.enrich.quality import GateResult
    from shared.models import IngestReport

__all__ = [
    "CONNECTION_STRING_ENV",
    "METER_NAME",
    "ModelCall",
    "configure_telemetry",
    "model_call_cost",
    "record_batch_poll",
    "record_callback",
    "record_classify_item",
    "record_ingest",
    "record_model_call",
    "record_model_calls",
    "record_quality_gate",
    "record_routing",
    "record_sink_action",
    "use_meter_provider",
]

logger = logging.getLogger("insightloop.telemetry")

CONNECTION_STRING_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
METER_NAME = "insightloop"
PRICES_PATH = Path(__file__).resolve().parent.parent / "eval" / "prices.yaml"
# Azure OpenAI Global Batch and OpenAI's Batch API bill half the list price.
BATCH_PRICE_FACTOR = 0.5

# The Functions host already ships worker logs and requests to Application Insights; the
# distro would duplicate them, and its HTTP instrumentations would add client metrics.
_INSTRUMENTATIONS = (
    "azure_sdk",
    "django",
    "fastapi",
    "flask",
    "httpx",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)


class ModelCall(Protocol):
    """What ``record_model_call`` reads (the fields of ``shared.decide.classifier.CallRecord``)."""

    prompt_version: str
    model: str
    outcome: str
    attempt: int
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


@dataclass(frozen=True, slots=True)
class _Instruments:
    ingest_records: Any
    ingest_quarantined: Any
    ingest_inputs: Any
    ingest_duration: Any
    gate_verdicts: Any
    gate_failed_checks: Any
    model_calls: Any
    model_retries: Any
    model_tokens: Any
    model_cost: Any
    model_latency: Any
    model_throttled: Any
    classify_items: Any
    classify_records: Any
    routing_exports: Any
    routing_insights: Any
    routing_actions: Any
    sink_actions: Any
    callbacks: Any

    @classmethod
    def create(cls, meter: Meter) -> _Instruments:
        counter, histogram = meter.create_counter, meter.create_histogram
        return cls(
            ingest_records=counter(
                "insightloop.ingest.records",
                unit="{record}",
                description="records per outcome: in = landed + duplicate + quarantined; "
                "review and classified count landed records",
            ),
            ingest_quarantined=counter(
                "insightloop.ingest.quarantined", unit="{record}", description="by reason"
            ),
            ingest_inputs=counter(
                "insightloop.ingest.inputs",
                unit="{input}",
                description="files and message batches by result",
            ),
            ingest_duration=histogram(
                "insightloop.ingest.duration", unit="s", description="one input, end to end"
            ),
            gate_verdicts=counter(
                "insightloop.quality_gate.verdicts", unit="{batch}", description="by passed"
            ),
            gate_failed_checks=counter(
                "insightloop.quality_gate.failed_checks",
                unit="{check}",
                description="failing checks of quarantined batches",
            ),
            model_calls=counter(
                "insightloop.model.calls", unit="{call}", description="model requests by outcome"
            ),
            model_retries=counter(
                "insightloop.model.retries",
                unit="{call}",
                description="requests that were a re-ask (attempt > 1)",
            ),
            model_tokens=counter(
                "insightloop.model.tokens",
                unit="{token}",
                description="by kind: prompt (incl. cached), cached, completion",
            ),
            model_cost=counter(
                "insightloop.model.cost",
                unit="USD",
                description="at eval/prices.yaml list prices; unpriced models count nothing",
            ),
            model_latency=histogram(
                "insightloop.model.latency", unit="s", description="one request, SDK retries incl."
            ),
            model_throttled=counter(
                "insightloop.model.throttled",
                unit="{response}",
                description="429s from the deployment (its quota, shared by the instances)",
            ),
            classify_items=counter(
                "insightloop.classify.items",
                unit="{item}",
                description="classify work items by result: classified, already_done, "
                "dead_lettered",
            ),
            classify_records=counter(
                "insightloop.classify.records",
                unit="{record}",
                description="records of work items by outcome: classified, review",
            ),
            routing_exports=counter(
                "insightloop.routing.exports", unit="{export}", description="by result"
            ),
            routing_insights=counter(
                "insightloop.routing.insights",
                unit="{insight}",
                description="routed, review, unchanged or busy",
            ),
            routing_actions=counter(
                "insightloop.routing.actions",
                unit="{action}",
                description="destination actions: created, updated, pending, failed",
            ),
            sink_actions=counter(
                "insightloop.routing.sink_actions", unit="{action}", description="by sink"
            ),
            callbacks=counter(
                "insightloop.callbacks", unit="{request}", description="by route and outcome"
            ),
        )


_lock = threading.Lock()
_configured: bool | None = None  # None: not tried yet in this process
_instruments: _Instruments | None = None


def configure_telemetry() -> bool:
    """Start exporting to Azure Monitor if configured; once per process, then cached.

    Returns whether metrics are recorded. A failing exporter setup is logged and turns the
    metrics off: telemetry never fails an invocation.
    """
    global _configured
    if _configured is not None:
        return _configured
    with _lock:
        if _configured is None:
            _configured = _configure_azure_monitor()
    return _configured


def use_meter_provider(provider: MeterProvider | None) -> None:
    """Record to ``provider`` from now on (tests, another exporter); None turns metrics off."""
    global _configured, _instruments
    with _lock:
        _instruments = _Instruments.create(_meter(provider)) if provider is not None else None
        _configured = provider is not None


def _configure_azure_monitor() -> bool:
    global _instruments
    if not os.environ.get(CONNECTION_STRING_ENV, "").strip():
        logger.debug("telemetry: %s is not set; metrics are off", CONNECTION_STRING_ENV)
        return False
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry import metrics

        configure_azure_monitor(
            disable_logging=True,
            disable_tracing=True,
            enable_live_metrics=False,
            enable_performance_counters=False,
            instrumentation_options={name: {"enabled": False} for name in _INSTRUMENTATIONS},
        )
        _instruments = _Instruments.create(_meter(metrics.get_meter_provider()))
    except Exception:
        logger.warning("telemetry: Azure Monitor setup failed; metrics are off", exc_info=True)
        return False
    logger.info("telemetry: exporting metrics to Azure Monitor")
    return True


def _meter(provider: MeterProvider) -> Meter:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("insightloop")
    except PackageNotFoundError:
        release = None
    return provider.get_meter(METER_NAME, release)


def _active() -> _Instruments | None:
    return _instruments if configure_telemetry() else None


def _log(event: str, fields: Mapping[str, object]) -> None:
    """One ``event key=value ...`` line; values are ids, labels and numbers only."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "%s %s", event, " ".join(f"{key}={_show(value)}" for key, value in fields.items())
        )


def _show(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping):
        return ",".join(f"{key}:{count}" for key, count in sorted(value.items())) or "-"
    # Labels and ids never hold spaces; quoting keeps a stray one from splitting the line.
    text = str(value)
    return text if " " not in text else repr(text)


# ------------------------------------------------------------------ ingest


def record_ingest(report: IngestReport, *, trigger: str) -> None:
    """One ingested input (a blob, a message batch's source, a CLI file): counts by outcome.

    ``trigger`` is ``blob``, ``servicebus`` or ``cli``.
    """
    duration = (
        (report.finished_at - report.started_at).total_seconds() if report.finished_at else None
    )
    if report.duplicate_input:
        result = "duplicate_input"
    elif report.file_errors:
        result = "file_error"
    elif not report.reconciled:
        result = "unreconciled"
    else:
        result = "ok"
    _log(
        "ingest",
        {
            "trigger": trigger,
            "source": report.source,
            "run": report.run_id,
            "input": report.input_name,
            "result": result,
            "records_in": report.records_in,
            "landed": report.landed,
            "duplicates": report.duplicates,
            "quarantined": report.quarantined,
            "review": report.in_review,
            "classified": report.classified,
            "model_calls": report.model_calls,
            "reconciled": report.reconciled,
            "reasons": report.quarantine_reasons,
            "duration_ms": round(duration * 1000) if duration is not None else None,
        },
    )
    instruments = _active()
    if instruments is None:
        return
    try:
        labels = {"source": report.source, "trigger": trigger}
        for outcome, count in (
            ("in", report.records_in),
            ("landed", report.landed),
            ("duplicate", report.duplicates),
            ("quarantined", report.quarantined),
            ("review", report.in_review),
            ("classified", report.classified),
        ):
            if count:
                instruments.ingest_records.add(count, {**labels, "outcome": outcome})
        for reason, count in report.quarantine_reasons.items():
            instruments.ingest_quarantined.add(count, {"source": report.source, "reason": reason})
        instruments.ingest_inputs.add(1, {**labels, "result": result})
        if duration is not None:
            instruments.ingest_duration.record(duration, labels)
    except Exception:
        logger.warning("telemetry: record_ingest failed", exc_info=True)


def record_quality_gate(result: GateResult) -> None:
    """One quality-gate verdict on a landing batch, with the names of failing checks."""
    failed = [check.name for check in result.failures]
    _log(
        "quality_gate",
        {
            "source": result.source,
            "passed": result.passed,
            "rows": result.rows_in,
            "failed_checks": ",".join(failed),
        },
    )
    instruments = _active()
    if instruments is None:
        return
    try:
        instruments.gate_verdicts.add(
            1, {"source": result.source, "passed": "true" if result.passed else "false"}
        )
        for name in failed:
            instruments.gate_failed_checks.add(1, {"source": result.source, "check": name})
    except Exception:
        logger.warning("telemetry: record_quality_gate failed", exc_info=True)


# ------------------------------------------------------------------ model calls


@functools.cache
def _prices() -> dict[str, dict[str, float]]:
    """``eval/prices.yaml``, read once; an unreadable file prices nothing."""
    import yaml

    try:
        raw = yaml.safe_load(PRICES_PATH.read_text(encoding="utf-8")) or {}
        return {
            str(model): {str(kind): float(price) for kind, price in prices.items()}
            for model, prices in (raw.get("models") or {}).items()
        }
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError):
        logger.warning("telemetry: no model prices from %s", PRICES_PATH, exc_info=True)
        return {}


def model_call_cost(
    model: str, prompt_tokens: int, cached_tokens: int, completion_tokens: int
) -> float | None:
    """USD for one request at list prices (``eval/prices.yaml``); None for an unpriced model."""
    price = _prices().get(model)
    if price is None:
        return None
    uncached = max(prompt_tokens - cached_tokens, 0)
    return (
        uncached * price["input"]
        + cached_tokens * price.get("cached_input", price["input"])
        + completion_tokens * price["output"]
    ) / 1_000_000


def record_model_call(call: ModelCall) -> None:
    """One model request: outcome, latency, tokens and cost by prompt version and model."""
    cost = model_call_cost(
        call.model, call.prompt_tokens, call.cached_tokens, call.completion_tokens
    )
    _log(
        "model_call",
        {
            "prompt_version": call.prompt_version,
            "model": call.model,
            "outcome": call.outcome,
            "attempt": call.attempt,
            "latency_ms": round(call.latency_s * 1000),
            "prompt_tokens": call.prompt_tokens,
            "cached_tokens": call.cached_tokens,
            "completion_tokens": call.completion_tokens,
            "cost_usd": cost,
        },
    )
    instruments = _active()
    if instruments is None:
        return
    try:
        labels = {"prompt_version": call.prompt_version, "model": call.model}
        instruments.model_calls.add(1, {**labels, "outcome": call.outcome})
        if call.attempt > 1:
            instruments.model_retries.add(1, labels)
        for kind, count in (
            ("prompt", call.prompt_tokens),
            ("cached", call.cached_tokens),
            ("completion", call.completion_tokens),
        ):
            if count:
                instruments.model_tokens.add(count, {**labels, "kind": kind})
        if cost:
            instruments.model_cost.add(cost, labels)
        instruments.model_latency.record(call.latency_s, {**labels, "outcome": call.outcome})
    except Exception:
        logger.warning("telemetry: record_model_call failed", exc_info=True)


def record_model_calls(calls: Iterable[ModelCall]) -> None:
    """``record_model_call`` for each call of a classification outcome."""
    for call in calls:
        record_model_call(call)


def record_classify_item(
    result: StageResult, *, trigger: str, quota: Mapping[str, float] | None = None
) -> None:
    """One classify work item: its records by outcome, its model calls, and the quota
    gauges of the process's model client (in flight, 429s, tokens/minute used vs quota)."""
    if result.already_done:
        outcome = "already_done"
    elif result.dead_lettered:
        outcome = "dead_lettered"
    else:
        outcome = "classified"
    _log(
        "classify_item",
        {
            "trigger": trigger,
            "item": result.item_id,
            "result": outcome,
            "records": result.records,
            "classified": result.classified,
            "review": result.in_review,
            "cache_hits": result.cache_hits,
            "model_calls": len(result.calls),
            **(quota or {}),
        },
    )
    record_model_calls(result.calls)
    instruments = _active()
    if instruments is None:
        return
    try:
        instruments.classify_items.add(1, {"trigger": trigger, "result": outcome})
        for kind, count in (("classified", result.classified), ("review", result.in_review)):
            if count:
                instruments.classify_records.add(count, {"trigger": trigger, "outcome": kind})
        throttled = int((quota or {}).get("throttled_new", 0))
        if throttled:
            instruments.model_throttled.add(throttled, {"trigger": trigger})
    except Exception:
        logger.warning("telemetry: record_classify_item failed", exc_info=True)


def record_batch_poll(result: PollResult, *, model: str) -> None:
    """One collected Batch API job: its requests by outcome, and its cost at batch price,
    beside the online calls' cost (``mode=batch`` on the cost metric) for cost per record,
    split by prompt version (a canary's versions share one job)."""

    def batch_cost(prompt_tokens: int, completion_tokens: int) -> float | None:
        cost = model_call_cost(model, prompt_tokens, 0, completion_tokens)
        return cost * BATCH_PRICE_FACTOR if cost is not None else None

    _log(
        "batch_poll",
        {
            "batch": result.batch_id,
            "status": result.status,
            "model": model,
            "requests": result.requests,
            "failed": result.failed_requests,
            "missing": result.missing_requests,
            "answered_records": result.answered_records,
            "items": result.requeued_items,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "cost_usd": batch_cost(result.prompt_tokens, result.completion_tokens),
            "prompt_versions": ",".join(sorted(result.tokens_by_version)),
        },
    )
    instruments = _active()
    if instruments is None:
        return
    try:
        for version, (prompt, completion) in result.tokens_by_version.items():
            labels = {"prompt_version": version, "model": model, "mode": "batch"}
            for kind, count in (("prompt", prompt), ("completion", completion)):
                if count:
                    instruments.model_tokens.add(count, {**labels, "kind": kind})
            cost = batch_cost(prompt, completion)
            if cost:
                instruments.model_cost.add(cost, labels)
    except Exception:
        logger.warning("telemetry: record_batch_poll failed", exc_info=True)


# ------------------------------------------------------------------ routing and callbacks


def record_routing(report: RoutingReport) -> None:
    """One routed insight export: what happened to its insights and their destinations."""
    if report.rejected:
        result = "rejected"
    elif report.busy:
        result = "busy"
    else:
        result = "routed"
    _log(
        "routing",
        {
            "export": report.export,
            "run": report.run_id,
            "result": result,
            "insights": report.insights,
            "routed": report.routed,
            "review": report.in_review,
            "unchanged": report.unchanged,
            "busy": report.busy,
            "created": report.created,
            "updated": report.updated,
            "pending": report.pending,
            "failed": report.failed,
            "events": report.events,
        },
    )
    instruments = _active()
    if instruments is None:
        return
    try:
        instruments.routing_exports.add(1, {"result": result})
        for outcome, count in (
            ("routed", report.routed),
            ("review", report.in_review),
            ("unchanged", report.unchanged),
            ("busy", report.busy),
        ):
            if count:
                instruments.routing_insights.add(count, {"outcome": outcome})
        for action, count in (
            ("created", report.created),
            ("updated", report.updated),
            ("pending", report.pending),
            ("failed", report.failed),
        ):
            if count:
                instruments.routing_actions.add(count, {"action": action})
    except Exception:
        logger.warning("telemetry: record_routing failed", exc_info=True)


def record_sink_action(sink: str, action: str) -> None:
    """One destination action (``jira``/``servicenow``/``slack``/``teams``/``outbox``)."""
    instruments = _active()
    if instruments is None:
        return
    try:
        instruments.sink_actions.add(1, {"sink": sink, "action": action})
    except Exception:
        logger.warning("telemetry: record_sink_action failed", exc_info=True)


def record_callback(route: str, outcome: str, *, status_code: int, events: int = 0) -> None:
    """One callback request: ``recorded``/``duplicate``/``ignored`` or why it was refused."""
    _log(
        "callback",
        {"route": route, "outcome": outcome, "status": status_code, "events": events},
    )
    instruments = _active()
    if instruments is None:
        return
    try:
        instruments.callbacks.add(
            1, {"route": route, "outcome": outcome, "status_code": str(status_code)}
        )
    except Exception:
        logger.warning("telemetry: record_callback failed", exc_info=True)
