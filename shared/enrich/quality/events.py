"""The gate's verdicts as events (landing/quality_events/), and the quarantine of a failed batch."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.enrich.quality.checks import CheckResult, GateResult
from shared.enrich.quality.config import QUALITY_SCHEMA_VERSION
from shared.enrich.quality.profile import BatchProfile
from shared.models import AwareDatetime
from shared.storage import ObjectStorage

QUALITY_EVENTS_DATASET = "quality_events"


class QualityEvent(BaseModel):
    """One gate verdict, landed at ``landing/quality_events/ingest_date=.../<run>.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.0"] = QUALITY_SCHEMA_VERSION
    run_id: str
    source: str
    input_name: str
    batch: int | None = Field(description="1-based batch of the input; None for input checks")
    kind: Literal["batch", "volume"]
    passed: bool
    action: Literal["landed", "quarantined", "alert", "none"]
    checks: list[CheckResult]
    summary: str
    profile: BatchProfile | None = None
    quarantine_path: str | None = None
    created_at: AwareDatetime


class QualityLog:
    """The gate's outputs for one run: events (one landing file) and quarantined batches.

    A failing batch goes to ``quarantine/batches/<source>/ingest_date=.../<run>-<n>.jsonl``
    as the canonical records it would have landed, beside ``<run>-<n>.report.json``;
    it can be released by copying it into landing once the cause is understood.
    """

    def __init__(
        self,
        storage: ObjectStorage,
        *,
        landing_container: str,
        quarantine_container: str,
        run_id: str,
        now: datetime,
    ) -> None:
        self.storage = storage
        self.landing_container = landing_container
        self.quarantine_container = quarantine_container
        self.run_id = run_id
        self.now = now
        self.events: list[QualityEvent] = []

    def batch_event(
        self,
        *,
        input_name: str,
        batch: int,
        result: GateResult,
        profile: BatchProfile,
        quarantine_path: str | None = None,
    ) -> QualityEvent:
        event = QualityEvent(
            run_id=self.run_id,
            source=result.source,
            input_name=input_name,
            batch=batch,
            kind="batch",
            passed=result.passed,
            action="landed" if result.passed else "quarantined",
            checks=result.checks,
            summary=result.summary(),
            profile=profile,
            quarantine_path=quarantine_path,
            created_at=self.now,
        )
        self.events.append(event)
        return event

    def volume_event(self, *, source: str, input_name: str, check: CheckResult) -> QualityEvent:
        verdict = "volume alert" if not check.passed else "volume ok"
        event = QualityEvent(
            run_id=self.run_id,
            source=source,
            input_name=input_name,
            batch=None,
            kind="volume",
            passed=check.passed,
            action="none" if check.passed else "alert",
            checks=[check],
            summary=f"{source}: {verdict}: {check.message}; expected {check.expected}",
            created_at=self.now,
        )
        self.events.append(event)
        return event

    def quarantine_batch(
        self, *, source: str, batch: int, rows: list[bytes], result: GateResult
    ) -> str:
        """Write a failed batch's records and its report; returns the records' path."""
        stem = f"batches/{source}/ingest_date={self.now:%Y-%m-%d}/{self.run_id}-{batch:05d}"
        report = {
            "run_id": self.run_id,
            "source": source,
            "batch": batch,
            "records": len(rows),
            "summary": result.summary(),
            "result": result.model_dump(mode="json"),
        }
        if rows:
            self.storage.write(self.quarantine_container, f"{stem}.jsonl", b"\n".join(rows) + b"\n")
        # The report is written last: a report on disk means its records are there too.
        self.storage.write(
            self.quarantine_container,
            f"{stem}.report.json",
            orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n",
        )
        return f"{stem}.jsonl"

    def flush(self) -> str | None:
        """Land this run's events as one JSONL file; returns its path (None if no events)."""
        if not self.events:
            return None
        path = f"{QUALITY_EVENTS_DATASET}/ingest_date={self.now:%Y-%m-%d}/{self.run_id}.jsonl"
        body = b"\n".join(event.model_dump_json().encode() for event in self.events) + b"\n"
        self.storage.write(self.landing_container, path, body)
        return path
