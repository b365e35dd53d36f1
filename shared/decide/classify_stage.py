"""The classify stage: one work item (a range of a landing file) in, decisions landed out.

Ingest lands masked records and queues :class:`~shared.models.ClassifyWorkItem` s
(``work_items``): paths and line ranges, never text. For each item the stage reads
those lines, classifies the records that have text, re-scans evidence quotes for PII
and lands ``classified/``, ``review/`` and ``audit/`` rows under names derived from the
item (create-if-absent), then marks the item done. So:

* a redelivered item lands nothing twice (done, or every write finds its file there);
* paid answers are in the answer cache the moment they arrive, so a retry after an
  outage pays only for the unanswered records;
* an item that keeps failing (``handle`` on its last delivery) sends its records that
  have no decision yet to review, with the reason, and then dead-letters;
* every record is accounted for: classified + review = the item's records with text.

Pending items are kept in the ledger container (``classify_queue/pending/``) until done:
the backlog to resume locally (``insightloop classify --pending``) and the record of
what Service Bus was asked to do in Azure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from shared.decide.classification import Classification
from shared.decide.classifier import CallRecord, MaskedText
from shared.decide.factory import Classifier, rescan_evidence
from shared.decide.rules import RuleClassifier
from shared.decide.taxonomy import Taxonomy
from shared.enrich.masking import PiiMasker
from shared.errors import ConcurrencyConflictError, PermanentInputError
from shared.models import ClassifyWorkItem
from shared.settings import Settings
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)

CLASSIFIED_DATASET = "classified"
REVIEW_DATASET = "review"
AUDIT_DATASET = "audit"
PENDING_PREFIX = "classify_queue/pending"
DONE_PREFIX = "classify_queue/done"


def work_items(
    path: str, lines: int, *, run_id: str, ingest_date: str, per_item: int
) -> list[ClassifyWorkItem]:
    """Items covering ``lines`` lines of one landing file, ``per_item`` lines each."""
    return [
        ClassifyWorkItem(
            path=path,
            start=start,
            stop=min(start + per_item, lines),
            run_id=run_id,
            ingest_date=ingest_date,
        )
        for start in range(0, lines, per_item)
    ]


class PendingWork:
    """The classify backlog in storage: one small object per item until it is done."""

    def __init__(self, storage: ObjectStorage, container: str) -> None:
        self.storage = storage
        self.container = container

    @staticmethod
    def _pending_path(item: ClassifyWorkItem) -> str:
        return f"{PENDING_PREFIX}/{item.item_id}.json"

    @staticmethod
    def _done_path(item: ClassifyWorkItem) -> str:
        return f"{DONE_PREFIX}/{item.ingest_date}/{item.item_id}.json"

    def add(self, items: Iterable[ClassifyWorkItem]) -> None:
        for item in items:
            try:
                self.storage.write(
                    self.container,
                    self._pending_path(item),
                    item.model_dump_json().encode(),
                    if_none_match=True,
                )
            except ConcurrencyConflictError:
                continue  # queued before (a replay of the same landing file)

    def is_done(self, item: ClassifyWorkItem) -> bool:
        return self.storage.exists(self.container, self._done_path(item))

    def done(self, item: ClassifyWorkItem, outcome: str) -> None:
        body = orjson.dumps({"outcome": outcome, "at": datetime.now(UTC).isoformat()})
        # A concurrent delivery may have finished it first: equally done.
        with contextlib.suppress(ConcurrencyConflictError):
            self.storage.write(self.container, self._done_path(item), body, if_none_match=True)
        self.storage.delete(self.container, self._pending_path(item))

    def pending(self) -> list[ClassifyWorkItem]:
        items = []
        for path in self.storage.list(self.container, f"{PENDING_PREFIX}/"):
            entry = self.storage.read(self.container, path)
            if entry is None:
                continue  # finished meanwhile
            items.append(ClassifyWorkItem.model_validate_json(entry[0]))
        return sorted(items, key=lambda item: (item.path, item.start))


@dataclass(slots=True)
class StageResult:
    """What one work item did: its records with text = classified + in_review."""

    item_id: str
    records: int = 0
    classified: int = 0
    in_review: int = 0
    cache_hits: int = 0
    evidence_pii_masked: int = 0
    already_done: bool = False
    dead_lettered: bool = False
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(call.prompt_tokens for call in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(call.completion_tokens for call in self.calls)


class ClassifyStage:
    """Classifies work items and lands their rows; the same code in Functions and the CLI."""

    def __init__(
        self,
        storage: ObjectStorage,
        settings: Settings,
        classifier: Classifier,
        masker: PiiMasker,
        taxonomy: Taxonomy,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.classifier = classifier
        self.masker = masker
        self.taxonomy = taxonomy
        self.rules = RuleClassifier(taxonomy)
        self.pending = PendingWork(storage, settings.ledger_container)
        self._last_gauges = (time.monotonic(), 0, 0)  # when, 429s, admitted tokens

    def quota_gauges(self) -> dict[str, float]:
        """The model client's in-flight requests, 429s and tokens/minute used vs its share
        of the quota since the last call (for ``record_classify_item``)."""
        chat = getattr(self.classifier, "chat", None)
        if chat is None:
            return {}
        now, throttled = time.monotonic(), chat.stats.throttled
        limiter = chat.limiter
        admitted = limiter.stats.admitted_tokens if limiter is not None else 0
        then, throttled_before, admitted_before = self._last_gauges
        self._last_gauges = (now, throttled, admitted)
        gauges: dict[str, float] = {
            "in_flight": chat.stats.in_flight,
            "throttled_new": throttled - throttled_before,
        }
        if limiter is not None and limiter.tokens_per_minute and now > then:
            per_minute = (admitted - admitted_before) / (now - then) * 60
            gauges["tokens_per_minute"] = round(per_minute)
            gauges["quota_share_used"] = per_minute / (
                limiter.tokens_per_minute / limiter.instances
            )
        return gauges

    @classmethod
    def from_settings(
        cls, settings: Settings, storage: ObjectStorage, masker: PiiMasker | None = None
    ) -> ClassifyStage:
        from pathlib import Path

        from shared.decide.factory import classifier_from_settings
        from shared.decide.taxonomy import get_taxonomy
        from shared.enrich.enrichment import PII_CONFIG
        from shared.enrich.masking import get_masker

        config_dir = Path(settings.config_dir)
        return cls(
            storage,
            settings,
            classifier_from_settings(settings, storage=storage),
            masker or get_masker(config_dir / PII_CONFIG),
            get_taxonomy(config_dir),
        )

    # ------------------------------------------------------------------ items

    def run(self, item: ClassifyWorkItem) -> StageResult:
        """Classify one item and land its rows; a done item is skipped."""
        result = StageResult(item.item_id)
        if self.pending.is_done(item):
            result.already_done = True
            return result
        records, languages = self.read_item(item)
        result.records = len(records)
        if records:
            outcome = self.classifier.classify(records)
            decisions, hits = rescan_evidence(self.masker, outcome.classifications, languages)
            shadow, shadow_hits = rescan_evidence(self.masker, outcome.shadow, languages)
            hits += shadow_hits
            if hits:
                logger.warning("item %s: masked %d PII span(s) in evidence", item.item_id, hits)
            result.evidence_pii_masked = hits
            result.cache_hits = outcome.cache_hits
            result.calls = outcome.calls
            decided = [c for c in decisions if not c.needs_review]
            review = [c for c in decisions if c.needs_review]
            result.classified, result.in_review = len(decided), len(review)
            # Shadow answers (a canary's records answered by the active version too) land
            # first in the file, beside the decisions, for the canary comparison in Gold.
            self._land(
                CLASSIFIED_DATASET,
                item,
                [c.model_dump_json().encode() for c in [*shadow, *decided]],
            )
            self._land(REVIEW_DATASET, item, [c.model_dump_json().encode() for c in review])
            audit = [
                orjson.dumps(
                    {"run_id": item.run_id, "item_id": item.item_id, **dataclasses.asdict(call)}
                )
                for call in outcome.calls
            ]
            self._land(AUDIT_DATASET, item, audit)
        self.pending.done(item, "classified")
        return result

    def run_items(self, items: Sequence[ClassifyWorkItem]) -> list[StageResult]:
        return [self.run(item) for item in items]

    def run_pending(self) -> list[StageResult]:
        """Resume the backlog: every item queued and not done yet."""
        return self.run_items(self.pending.pending())

    def handle(
        self, item: ClassifyWorkItem, *, delivery_count: int, max_deliveries: int
    ) -> StageResult:
        """One Service Bus delivery: on the last one a failure sends the records to review
        before it propagates (and the message dead-letters), so none is left undecided."""
        try:
            return self.run(item)
        except Exception as exc:
            if delivery_count < max_deliveries:
                raise
            reason = f"classification failed on {delivery_count} deliveries: {type(exc).__name__}"
            self.dead_letter(item, reason)
            raise

    def dead_letter(self, item: ClassifyWorkItem, reason: str) -> StageResult:
        """Queue for review every record of ``item`` without a landed decision."""
        result = StageResult(item.item_id, dead_lettered=True)
        try:
            records, _ = self.read_item(item)
        except PermanentInputError:
            records = []  # the landing file itself is unreadable: nothing to queue
        decided = self._landed_ids(CLASSIFIED_DATASET, item) | self._landed_ids(
            REVIEW_DATASET, item
        )
        undecided = [record for record in records if record.record_id not in decided]
        result.records, result.in_review = len(records), len(undecided)
        rows = [self._to_review(record, reason).model_dump_json().encode() for record in undecided]
        self._land(REVIEW_DATASET, item, rows, suffix="-dead-letter")
        self.pending.done(item, "dead_lettered")
        logger.error("item %s dead-lettered: %d record(s) to review", item.item_id, len(rows))
        return result

    # -------------------------------------------------------------- internals

    def read_item(self, item: ClassifyWorkItem) -> tuple[list[MaskedText], dict[str, str | None]]:
        """The item's records with text, and each one's detected language (for the re-scan)."""
        entry = self.storage.read(self.settings.landing_container, item.path)
        if entry is None:
            raise PermanentInputError(f"landing file {item.path} is missing")
        lines = entry[0].splitlines()[item.start : item.stop]
        records: list[MaskedText] = []
        languages: dict[str, str | None] = {}
        for line in lines:
            row: dict[str, Any] = orjson.loads(line)
            text = row.get("text") or ""
            if text.strip():
                records.append(MaskedText(row["record_id"], text))
                languages[row["record_id"]] = row.get("language")
        return records, languages

    def _path(self, dataset: str, item: ClassifyWorkItem, suffix: str = "") -> str:
        name = f"{item.run_id}-{item.item_id}{suffix}.jsonl"
        return f"{dataset}/ingest_date={item.ingest_date}/{name}"

    def _land(
        self, dataset: str, item: ClassifyWorkItem, rows: list[bytes], suffix: str = ""
    ) -> None:
        if not rows:
            return
        try:
            self.storage.write(
                self.settings.landing_container,
                self._path(dataset, item, suffix),
                b"\n".join(rows) + b"\n",
                if_none_match=True,
            )
        except ConcurrencyConflictError:
            # An earlier delivery landed this item's rows (the same answers, from the cache).
            logger.info("item %s: %s rows already landed", item.item_id, dataset)

    def _landed_ids(self, dataset: str, item: ClassifyWorkItem) -> set[str]:
        entry = self.storage.read(self.settings.landing_container, self._path(dataset, item))
        if entry is None:
            return set()
        return {orjson.loads(line)["record_id"] for line in entry[0].splitlines() if line}

    def _to_review(self, record: MaskedText, reason: str) -> Classification:
        return Classification(
            record_id=record.record_id,
            themes=[],
            sentiment="neutral",
            urgency=self.rules.urgency_level(record.text),
            recommended_owner=None,
            confidence=0.0,
            method="llm",
            taxonomy_version=self.taxonomy.version,
            model=self.classifier.model,
            needs_review=True,
            review_reasons=[reason],
            classified_at=datetime.now(UTC),
        )


def parse_work_item(body: bytes) -> ClassifyWorkItem:
    """A queue message's work item; a body that is not one is a permanent error."""
    try:
        return ClassifyWorkItem.model_validate_json(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in exc.errors()[:3])
        raise PermanentInputError(f"not a classify work item (invalid {fields})") from None


@functools.cache
def get_classify_stage() -> ClassifyStage:
    """The process-wide stage for the Functions handler, built on first use."""
    from shared.settings import get_settings
    from shared.storage import storage_from_settings

    settings = get_settings()
    return ClassifyStage.from_settings(settings, storage_from_settings(settings))


__all__ = [
    "ClassifyStage",
    "PendingWork",
    "StageResult",
    "get_classify_stage",
    "parse_work_item",
    "work_items",
]
