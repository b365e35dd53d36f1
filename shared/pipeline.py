"""The ingest pipeline shared by the Functions handlers and the local CLI.

parse (source mapping) -> FeedbackRecord -> idempotency ledger -> landing JSONL, with
every row accounted for: ``records_in = landed + duplicates + quarantined``. Each landing
file's records are queued as classify work items (``shared.decide.classify_stage``): run
in-process at the end of the input (the CLI), or handed to ``work_sink`` (Functions:
the classify queue) for the ``classify_batches`` function.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from shared.decide.classify_stage import ClassifyStage, StageResult, work_items
from shared.enrich.enrichment import Enrichment
from shared.enrich.quality import BatchProfile, QualityLog
from shared.errors import RowError, UnknownSourceError, UnreadableFileError
from shared.ingest.ledger import IdempotencyLedger, RecordKey
from shared.ingest.parsing import BadRow, CountingReader, ParsedRow, read_rows
from shared.ingest.sources import RecordMapper, SourceMapping, load_mappings, resolve_mapping
from shared.landing import LandingWriter, Quarantine
from shared.models import ClassifyWorkItem, IngestReport
from shared.settings import Settings, get_settings
from shared.storage import ObjectStorage, storage_from_settings
from shared.telemetry import record_model_calls, record_quality_gate

logger = logging.getLogger(__name__)

Opener = Callable[[], BinaryIO]
FEEDBACK_DATASET = "feedback"
REPORTS_DATASET = "ingest_reports"
WorkSink = Callable[[list[ClassifyWorkItem]], None]
# A batch is sized before serialising: its texts plus about this much per row.
_ROW_OVERHEAD_BYTES = 512
_UNSAFE_NAME = re.compile(r"[^a-z0-9_-]")
_DOT_SEGMENT = re.compile(r"^\.{1,2}$")


@dataclass(slots=True)
class EventMessage:
    """One queue message, decoded from the binding: body bytes plus properties."""

    body: bytes
    message_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:10]}"


def mapping_fingerprint(mapping: SourceMapping) -> str:
    return hashlib.sha256(mapping.model_dump_json().encode()).hexdigest()


class _Run:
    """State of one ingest call: the report, the open landing batch, the quarantine."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        source: str,
        input_name: str,
        mapping: SourceMapping | None = None,
    ) -> None:
        settings = pipeline.settings
        self.now = pipeline.clock()
        self.run_id = new_run_id(self.now)
        self.storage = pipeline.storage
        self.settings = settings
        self.mapping = mapping
        self.report = IngestReport(
            run_id=self.run_id, source=source, input_name=input_name, started_at=self.now
        )
        self.ledger = IdempotencyLedger(
            pipeline.storage,
            settings.ledger_container,
            shards=settings.ledger_shards,
            cache_bytes=settings.ledger_cache_bytes,
        )
        self.landing = LandingWriter(
            pipeline.storage,
            settings.landing_container,
            FEEDBACK_DATASET,
            run_id=self.run_id,
            ingest_date=self.now.date(),
        )
        self.quarantine = Quarantine(
            pipeline.storage, settings.quarantine_container, self.run_id, self.now
        )
        # Enrichment (language, quality gate, PII masking) runs when a mapping is known.
        self.enrichment = pipeline.enrichment if mapping is not None else None
        self.stage = pipeline.stage if mapping is not None else None
        self.work_sink = pipeline.work_sink
        self.quality = QualityLog(
            pipeline.storage,
            landing_container=settings.landing_container,
            quarantine_container=settings.quarantine_container,
            run_id=self.run_id,
            now=self.now,
        )
        self.gate_failed = False
        self._passed_profile: BatchProfile | None = None
        self._profiler = self.enrichment.profiler(source) if self.enrichment else None
        self._batch_number = 0
        # The open landing batch: record_id -> record, and its rough size in bytes.
        self._batch: dict[str, dict[str, Any]] = {}
        self._batch_bytes = 0
        self._ledger_key = self.ledger.key
        self._max_records = settings.landing_batch_max_records
        self._max_bytes = settings.landing_batch_max_bytes
        # Landed in this run and not claimed yet: record_id -> ledger key.
        self._unclaimed: dict[str, RecordKey] = {}

    # -------------------------------------------------------------- records

    def add(self, record: dict[str, Any]) -> None:
        """Queue one validated record (``RecordMapper.map_fields``) for landing."""
        record_id = record["record_id"]
        batch = self._batch
        if record_id in batch:
            self.report.duplicates += 1  # the same record twice in this input
            if self._profiler is not None:
                self._profiler.observe_duplicate()
            return
        batch[record_id] = record
        self._batch_bytes += len(record["text"]) + _ROW_OVERHEAD_BYTES
        if len(batch) >= self._max_records or self._batch_bytes >= self._max_bytes:
            self.flush()

    def flush(self) -> None:
        """Land the open batch: drop ids already landed, enrich, commit, claim later.

        Ids are claimed after their landing file commits (see ``shared.ingest.ledger``), in
        rounds of INSIGHTLOOP_LEDGER_CLAIM_EVERY_RECORDS, so a shard is rewritten once
        per round instead of once per landing file. Until then ``_unclaimed`` stops a
        later batch of the same run from landing them again.
        """
        if not self._batch and not self._profiler_has_rows():
            return
        batch, self._batch, self._batch_bytes = self._batch, {}, 0
        ledger_key = self._ledger_key
        keys = {
            rid: ledger_key(record["source"], rid, record["created_at"])
            for rid, record in batch.items()
        }
        unseen = self.ledger.unseen(keys.values())
        # In input order: landing files keep the rows of an export in its order.
        fresh = [rid for rid in batch if rid in unseen and rid not in self._unclaimed]
        self.report.duplicates += len(batch) - len(fresh)
        records = [batch[rid] for rid in fresh]
        # The gate also judges a batch whose rows were all quarantined (an empty export),
        # but not one that only repeats records landed before (a replay).
        enrich = self.enrichment is not None and (records or self._profiler_has_rows())
        if self._profiler is not None:
            self._profiler.observe_already_landed(len(batch) - len(fresh))
            if not enrich and self.enrichment is not None:
                # A pure replay: nothing to judge, and its rows must not count in the next.
                self._profiler = self.enrichment.profiler(self.report.source)
        if enrich and not self._enrich(records):
            return
        if not records:
            self._fold_passed_profile()  # nothing to land: the verdict stands as it is
            return
        buffer = bytearray()
        for record in records:
            buffer += to_json_line(record)
        for chunk in _split_lines(buffer, self._max_bytes):
            path = self.landing.commit(bytes(chunk))
            self.report.landed_files.append(path)
            self._queue_classification(path, bytes(chunk).count(b"\n"))
        self.report.landed += len(records)
        self._fold_passed_profile()
        for rid in fresh:
            self._unclaimed[rid] = keys[rid]
        if len(self._unclaimed) >= self.settings.ledger_claim_every_records:
            self.claim()

    def _fold_passed_profile(self) -> None:
        """A passed batch joins the source's baseline only once it has landed."""
        if self._passed_profile is not None and self.enrichment is not None:
            self.enrichment.gate.record_pass(self._passed_profile)
        self._passed_profile = None

    def _profiler_has_rows(self) -> bool:
        return self._profiler is not None and self._profiler.rows_in > 0

    def _enrich(self, records: list[dict[str, Any]]) -> bool:
        """Language, gate, masking for one batch; False when the gate quarantined it."""
        enrichment, mapping, profiler = self.enrichment, self.mapping, self._profiler
        assert enrichment is not None and mapping is not None and profiler is not None
        self._profiler = enrichment.profiler(self.report.source)
        self._batch_number += 1
        masked = enrichment.detect_and_mask(records, mapping, profiler)  # on every worker
        verdict = enrichment.judge(profiler.profile(), mapping)
        record_quality_gate(verdict.result)
        report = self.report
        if verdict.passed:
            self.quality.batch_event(
                input_name=report.input_name,
                batch=self._batch_number,
                result=verdict.result,
                profile=verdict.profile,
            )
            self._passed_profile = verdict.profile  # folded into the baseline once landed
            for record in records:
                report.languages[record["language"]] = (
                    report.languages.get(record["language"], 0) + 1
                )
            for entity, count in masked.items():
                report.masked_entities[entity] = report.masked_entities.get(entity, 0) + count
            return True
        self.gate_failed = True
        where = self.quality.quarantine_batch(
            source=report.source,
            batch=self._batch_number,
            rows=[to_json_line(record).rstrip(b"\n") for record in records],
            result=verdict.result,
        )
        self.quality.batch_event(
            input_name=report.input_name,
            batch=self._batch_number,
            result=verdict.result,
            profile=verdict.profile,
            quarantine_path=where,
        )
        if records:
            report.count_quarantined("quality_gate", len(records))
        report.warnings.append(
            f"batch {self._batch_number} ({len(records)} records) quarantined by the quality "
            f"gate at {self.storage.describe(self.settings.quarantine_container, where)}: "
            f"{verdict.result.summary()}"
        )
        return False

    def _queue_classification(self, path: str, lines: int) -> None:
        """Queue a landed file's records for the classify stage, before they are claimed:
        a crash in between re-lands them (a duplicate Silver drops) and queues them again."""
        if self.stage is None:
            return
        items = work_items(
            path,
            lines,
            run_id=self.run_id,
            ingest_date=f"{self.now:%Y-%m-%d}",
            per_item=self.settings.classify_item_records,
        )
        self.stage.pending.add(items)
        self.report.classify_items.extend(items)
        if self.work_sink is not None:
            self.work_sink(items)

    def classify_in_process(self) -> None:
        """Run this input's work items here (the CLI); an outage leaves them pending."""
        assert self.stage is not None
        results = self.stage.run_items(self.report.classify_items)
        fold_stage_results(self.report, results)
        if self.report.evidence_pii_masked:
            logger.warning(
                "run %s: masked %d PII span(s) in evidence quotes",
                self.run_id,
                self.report.evidence_pii_masked,
            )

    def claim(self) -> None:
        """Claim every landed, unclaimed id in the ledger."""
        if not self._unclaimed:
            return
        unclaimed, self._unclaimed = self._unclaimed, {}
        won = self.ledger.claim(unclaimed.values())
        if len(won) < len(unclaimed):
            # Another run landed these at the same moment; Silver keeps one copy.
            self.report.raced_duplicates += len(unclaimed) - len(won)
            logger.warning(
                "run %s: %d record(s) were landed concurrently by another run",
                self.run_id,
                len(unclaimed) - len(won),
            )

    # ----------------------------------------------------------- quarantine

    def reject(self, bad: BadRow, input_name: str | None = None) -> None:
        self.report.count_quarantined(bad.reason)
        if bad.reason == "missing_text" and self._profiler is not None:
            self._profiler.observe_empty()
        self.quarantine.add_row(
            source=self.report.source,
            input_name=input_name or self.report.input_name,
            record_index=bad.index,
            line=bad.line,
            reason=bad.reason,
            detail=bad.detail,
            raw=bad.raw,
        )

    def map_row(self, mapper: RecordMapper, row: ParsedRow, input_name: str | None = None) -> None:
        if self._profiler is not None:
            self._profiler.observe_columns(row.values)
        try:
            record = mapper.map_fields(row.values)
        except RowError as exc:
            raw = orjson.dumps(row.values, default=str).decode()
            self.reject(BadRow(row.index, row.line, exc.reason, exc.detail, raw), input_name)
            return
        self.add(record)

    # --------------------------------------------------------------- finish

    def finish(self, clock: Callable[[], datetime], *, check_volume: bool = False) -> IngestReport:
        self.flush()
        if self.enrichment is not None:
            self.enrichment.close()  # enrichment workers live for one input, not in between
        self.claim()
        self.quarantine.flush(self.report.source)
        if self.stage is not None and self.work_sink is None and self.report.classify_items:
            self.classify_in_process()
        report = self.report
        if check_volume and self.enrichment is not None and not report.file_errors:
            self._check_volume()
        events = self.quality.flush()
        if events:
            report.quality_events.append(events)
        report.finished_at = clock()
        self.storage.write(
            self.settings.landing_container,
            f"{REPORTS_DATASET}/ingest_date={self.now:%Y-%m-%d}/{self.run_id}.jsonl",
            report.model_dump_json().encode() + b"\n",
        )
        logger.info(
            "ingest run %s source=%s: in=%d landed=%d duplicates=%d quarantined=%d reconciled=%s",
            report.run_id,
            report.source,
            report.records_in,
            report.landed,
            report.duplicates,
            report.quarantined,
            report.reconciled,
        )
        return report

    def _check_volume(self) -> None:
        """Alert-only: this input's size against the source's usual volume."""
        assert self.enrichment is not None
        gate, report = self.enrichment.gate, self.report
        check = gate.check_volume(report.source, report.records_in)
        self.quality.volume_event(source=report.source, input_name=report.input_name, check=check)
        if check.passed:
            gate.record_input(report.source, report.records_in)
        else:
            report.warnings.append(f"volume alert: {check.message}; expected {check.expected}")


class IngestPipeline:
    """Ingest files and queue messages into landing, idempotently and with accounting."""

    def __init__(
        self,
        storage: ObjectStorage,
        settings: Settings,
        mappings: dict[str, SourceMapping] | None = None,
        clock: Callable[[], datetime] = utc_now,
        *,
        enrich: bool = True,
        work_sink: WorkSink | None = None,
        enrich_workers: int | None = None,
    ) -> None:
        """``enrich=False`` lands records without language, gate or PII masking: only for
        measuring the ingest foundation (``bench/ingest_bench.py``), never in production.
        ``work_sink`` takes the classify work items instead of running them in-process.
        ``enrich_workers``: processes enriching a batch (unset: the setting, else all cores)."""
        self.storage = storage
        self.settings = settings
        self.mappings = mappings if mappings is not None else load_mappings(settings.config_dir)
        self.clock = clock
        self.enrichment = (
            Enrichment.from_settings(settings, storage, enrich_workers) if enrich else None
        )
        self.work_sink = work_sink
        self.stage = (
            ClassifyStage.from_settings(settings, storage, self.enrichment.masker)
            if self.enrichment is not None
            else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestPipeline:
        return cls(storage_from_settings(settings), settings)

    # ------------------------------------------------------------------ files

    def ingest_file(
        self,
        source: str,
        name: str,
        opener: Opener,
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest one export file. Permanent problems are quarantined; transient ones raise."""
        source, name = path_safe_source(source), path_safe_name(name)
        try:
            mapping = resolve_mapping(self.mappings, source)
        except UnknownSourceError as exc:
            run = _Run(self, source, f"{source}/{name}")
            self._quarantine_input(run, name, opener, str(exc))
            return run.finish(self.clock)
        run = _Run(self, source, f"{source}/{name}", mapping)

        # Two passes: hashing first lets a replayed file cost one ledger read instead of
        # a parse and a claim check per record (on Blob it means reading the blob twice).
        content_sha256 = _sha256(opener)
        run.report.input_sha256 = content_sha256
        fingerprint = mapping_fingerprint(mapping)
        previous = run.ledger.file_claim(source, content_sha256, fingerprint)
        if previous is not None:
            run.report.duplicate_input = True
            run.report.records_in = run.report.duplicates = int(previous["records_in"])
            run.report.warnings.append(
                f"identical file already ingested by run {previous['run_id']}; skipped"
            )
            return run.finish(self.clock)

        mapper = RecordMapper(
            mapping,
            received_at=run.now,
            max_text_chars=self.settings.max_text_chars,
            flat_rows=False,
        )
        records_in = 0
        try:
            with opener() as raw:
                stream = CountingReader(raw, on_progress) if on_progress else raw
                rows = read_rows(stream, mapping, name, max_row_chars=self.settings.max_row_chars)
                for records_in, item in enumerate(rows, 1):  # noqa: B007 - counted for the report
                    if type(item) is BadRow:
                        run.reject(item)
                    else:
                        run.map_row(mapper, item)
        except UnreadableFileError as exc:
            self._quarantine_input(run, name, opener, str(exc))
        finally:
            run.report.records_in = records_in
        report = run.finish(self.clock, check_volume=True)
        # A gate-quarantined batch leaves the file unclaimed: once the cause is fixed, a
        # replay lands those records (the rest are skipped as claimed duplicates).
        if not report.file_errors and not run.gate_failed:
            run.ledger.claim_file(
                source,
                content_sha256,
                fingerprint,
                {"run_id": report.run_id, "records_in": report.records_in, "name": name},
            )
        return report

    def _quarantine_input(self, run: _Run, name: str, opener: Opener, reason: str) -> None:
        run.report.file_errors.append(reason)
        with opener() as raw:
            location = run.quarantine.add_file(run.report.source, name, raw, reason)
        run.report.warnings.append(f"input copied to quarantine at {location}")

    # --------------------------------------------------------------- messages

    def ingest_messages(self, messages: Iterable[EventMessage]) -> list[IngestReport]:
        """Ingest a batch of queue messages; one report per source in the batch.

        A message body is one JSON record or a JSON array of records. Its source mapping
        is named by the ``source`` application property, else INSIGHTLOOP_DEFAULT_EVENT_SOURCE.
        """
        runs: dict[str, _Run] = {}
        mappers: dict[str, RecordMapper | None] = {}
        for ordinal, message in enumerate(messages, 1):
            name = f"message {message.message_id or ordinal}"
            try:
                body = orjson.loads(message.body)
            except orjson.JSONDecodeError as exc:
                body, problem = None, f"message body is not JSON: {exc}"
            else:
                problem = None
            source = self._message_source(message)
            run = runs.get(source)
            if run is None:
                run = runs[source] = _Run(self, source, "servicebus", self.mappings.get(source))
                mappers[source] = self._mapper_or_none(source, run.now)
            items = body if isinstance(body, list) else [body]
            raw_body = message.body.decode("utf-8", "replace")[:65_536]
            mapper = mappers[source]
            if problem is not None or mapper is None:
                reason = "invalid_json" if problem else "unknown_source"
                detail = problem or str(UnknownSourceError(source, list(self.mappings)))
                run.report.records_in += 1
                run.reject(BadRow(ordinal, None, reason, detail, raw_body), name)
                continue
            for position, item in enumerate(items, 1):
                run.report.records_in += 1
                if not isinstance(item, dict):
                    detail = f"item {position}: expected a JSON object, got {type(item).__name__}"
                    run.reject(BadRow(ordinal, None, "invalid_record", detail, raw_body), name)
                else:
                    run.map_row(mapper, ParsedRow(ordinal, None, item), name)
        return [run.finish(self.clock) for run in runs.values()]

    def _message_source(self, message: EventMessage) -> str:
        return path_safe_source(
            str(message.properties.get("source") or self.settings.default_event_source)
        )

    def _mapper_or_none(self, source: str, now: datetime) -> RecordMapper | None:
        mapping = self.mappings.get(source)
        if mapping is None:
            return None
        return RecordMapper(
            mapping, received_at=now, max_text_chars=self.settings.max_text_chars, flat_rows=False
        )


def fold_stage_results(report: IngestReport, results: list[StageResult]) -> None:
    """Add what the classify stage did for an input's work items to its report."""
    for result in results:
        record_model_calls(result.calls)
        report.classified += result.classified
        report.in_review += result.in_review
        report.model_calls += len(result.calls)
        report.prompt_tokens += result.prompt_tokens
        report.completion_tokens += result.completion_tokens
        report.evidence_pii_masked += result.evidence_pii_masked


def path_safe_source(name: str) -> str:
    """Source names match mappings case-insensitively; unknown ones still name a folder."""
    return _UNSAFE_NAME.sub("_", name.strip().lower())[:63] or "unknown"


def path_safe_name(name: str) -> str:
    """An input name usable inside storage paths: no empty, '.' or '..' segments."""
    parts = [_DOT_SEGMENT.sub("_", part) for part in name.replace("\\", "/").split("/") if part]
    return "/".join(parts) or "unnamed"


def _split_lines(buffer: bytearray, max_bytes: int) -> Iterable[memoryview]:
    """Consecutive runs of whole lines of at most ``max_bytes`` each (one line at least)."""
    view, start, size = memoryview(buffer), 0, len(buffer)
    while start < size:
        end = min(start + max_bytes, size)
        if end < size:
            cut = buffer.rfind(b"\n", start, end)
            end = cut + 1 if cut >= start else buffer.find(b"\n", end) + 1
        yield view[start:end]
        start = end


def to_json_line(record: dict[str, Any]) -> bytes:
    """One landed JSON line with its newline: ``FeedbackRecord.model_dump_json`` + newline."""
    return orjson.dumps(record, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)


def _sha256(opener: Opener) -> str:
    digest = hashlib.sha256()
    with opener() as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def get_pipeline() -> IngestPipeline:
    """The process-wide pipeline for the Functions handlers, built on first use.

    Work items go to the classify queue when its namespace is set (Azure); without one
    (``func start`` on a laptop) they are classified in-process, as the CLI does.
    """
    settings = get_settings()
    sink = None
    if settings.service_bus_namespace:
        from shared.decide.work_queue import ServiceBusWorkSender

        sink = ServiceBusWorkSender.from_settings(settings).send
    # One instance enriches on one core unless the setting says otherwise (instances scale).
    workers = settings.enrich_workers or 1
    return IngestPipeline(
        storage_from_settings(settings), settings, work_sink=sink, enrich_workers=workers
    )
