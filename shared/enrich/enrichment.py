"""Enrichment of a landing batch: language detection, the quality gate, PII masking.

These stages sit between the ledger and the landing writer, so nothing lands (or reaches
a model later) unmasked and no broken batch is classified:

1. detect the language of each new record's text (before masking: placeholders are
   not words);
2. profile the batch and judge it with the quality gate (``shared/enrich/quality/``);
3. mask ``text``, ``title`` and the mapping's ``free_text_metadata`` with Presidio
   (``shared/enrich/masking/``), whatever the verdict: a gate-quarantined batch is stored
   masked too, ready to be released into landing once its cause is understood.

The engines (spaCy, Presidio, lingua) are built once per process on first use. Steps 1
and 3 of a large batch run on ``workers`` processes (``shared/enrich/workers.py``); the
gate and the accounting stay here, in input order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.enrich.language import LanguageDetector, get_language_detector
from shared.enrich.masking import PiiMasker, get_masker
from shared.enrich.quality import (
    BatchProfile,
    BatchProfiler,
    GateResult,
    QualityGate,
    get_quality_config,
)
from shared.enrich.workers import EnrichmentPool, default_workers
from shared.ingest.sources import SourceMapping
from shared.settings import Settings
from shared.storage import ObjectStorage

PII_CONFIG = "pii.yaml"
METADATA_PREFIX = "metadata."


@dataclass(slots=True)
class BatchVerdict:
    """What the gate said about one batch, with the profile it judged."""

    result: GateResult
    profile: BatchProfile

    @property
    def passed(self) -> bool:
        return self.result.passed


class Enrichment:
    """The enrichment stages for one pipeline; see the module docstring for the order."""

    def __init__(
        self,
        detector: LanguageDetector,
        masker: PiiMasker,
        gate: QualityGate,
        workers: int = 1,
    ) -> None:
        self.detector = detector
        self.masker = masker
        self.gate = gate
        self.pool = EnrichmentPool(detector, masker, workers)

    @classmethod
    def from_settings(
        cls, settings: Settings, storage: ObjectStorage, workers: int | None = None
    ) -> Enrichment:
        """``workers``: processes per batch; unset: INSIGHTLOOP_ENRICH_WORKERS, else every core."""
        quality = get_quality_config(settings.config_dir)
        return cls(
            get_language_detector(quality.language),
            get_masker(Path(settings.config_dir) / PII_CONFIG),
            QualityGate(quality, storage, settings.ledger_container),
            workers or settings.enrich_workers or default_workers(),
        )

    def close(self) -> None:
        """Stop the enrichment worker processes, if any were started."""
        self.pool.close()

    def profiler(self, source: str) -> BatchProfiler:
        return self.gate.profiler(source)

    def detect_languages(self, records: Sequence[dict[str, Any]], profiler: BatchProfiler) -> None:
        """Set ``language``/``language_confidence`` and profile each record."""
        guesses = self.detector.detect_batch([record["text"] for record in records])
        for record, guess in zip(records, guesses, strict=True):
            record["language"] = guess.language
            record["language_confidence"] = round(guess.confidence, 4)
            profiler.observe_record(record["text"], guess.language)

    def judge(self, profile: BatchProfile, mapping: SourceMapping) -> BatchVerdict:
        result = self.gate.check_batch(
            profile, mapping.referenced_columns, mapping.required_columns
        )
        return BatchVerdict(result, profile)

    def detect_and_mask(
        self,
        records: Sequence[dict[str, Any]],
        mapping: SourceMapping,
        profiler: BatchProfiler,
    ) -> Counter[str]:
        """Steps 1 and 3 at once (on the pool): languages set and profiled, fields masked.

        Masking does not depend on the verdict, so the gate can judge afterwards; the
        profiler sees each record's original text, in input order.
        """
        free_metadata = mapping.free_text_metadata
        results = self.pool.analyse(
            [record["text"] for record in records],
            [_masked_fields(record, free_metadata) for record in records],
        )
        found: Counter[str] = Counter()
        for record, result in zip(records, results, strict=True):
            guess = result.guess
            record["language"] = guess.language
            record["language_confidence"] = round(guess.confidence, 4)
            profiler.observe_record(record["text"], guess.language)
            _apply(record, result.masked.fields)
            found.update(entity.entity_type for entity in result.masked.entities)
        return found

    def mask(self, records: Sequence[dict[str, Any]], mapping: SourceMapping) -> Counter[str]:
        """Mask the free-text fields of every record in place; returns entity counts."""
        free_metadata = mapping.free_text_metadata
        groups = [_masked_fields(record, free_metadata) for record in records]
        # The detected language picks the pipeline (masking.PiiMasker.language_key): English
        # NER on English only; "und" (short, mixed) gets patterns and the name gazetteer.
        languages = [record.get("language") for record in records]
        found: Counter[str] = Counter()
        for record, masked in zip(records, self.masker.mask_groups(groups, languages), strict=True):
            _apply(record, masked.fields)
            found.update(entity.entity_type for entity in masked.entities)
        return found


def _apply(record: dict[str, Any], fields: dict[str, str | None]) -> None:
    for name, value in fields.items():
        if name.startswith(METADATA_PREFIX):
            record["metadata"][name.removeprefix(METADATA_PREFIX)] = value
        else:
            record[name] = value


def _masked_fields(record: dict[str, Any], free_metadata: Iterable[str]) -> dict[str, str | None]:
    fields: dict[str, str | None] = {"text": record["text"], "title": record["title"]}
    metadata = record["metadata"]
    for key in free_metadata:
        if key in metadata:
            fields[METADATA_PREFIX + key] = metadata[key]
    return fields


__all__ = ["BatchVerdict", "Enrichment"]
