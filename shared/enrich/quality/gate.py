"""The gate: judges each batch against its source's baseline, then folds a passing one in."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from shared.enrich.quality.baseline import BASELINE_PREFIX, SourceBaseline, fold_batch, fold_input
from shared.enrich.quality.checks import (
    CheckResult,
    GateResult,
    check_columns,
    check_language_mix,
    check_rate,
    check_text_length,
    check_volume_against,
)
from shared.enrich.quality.config import QualityConfig
from shared.enrich.quality.profile import BatchProfile, BatchProfiler
from shared.errors import ConcurrencyConflictError, TransientError
from shared.retry import wait_after_conflict
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class QualityGate:
    """Judges batches against per-source baselines kept in ``<container>/baselines/``."""

    def __init__(
        self,
        config: QualityConfig,
        storage: ObjectStorage,
        container: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = 10,
    ) -> None:
        self.config = config
        self.storage = storage
        self.container = container
        self.clock = clock
        self.max_attempts = max_attempts

    def profiler(self, source: str) -> BatchProfiler:
        """A profiler set up with the source's thresholds."""
        return BatchProfiler(
            source, duplicate_min_chars=self.config.for_source(source).duplicates.min_chars
        )

    def check_batch(
        self,
        profile: BatchProfile,
        expected_columns: Sequence[str],
        required_columns: Sequence[str],
    ) -> GateResult:
        """Every per-batch check; the batch passes only if all of them pass."""
        thresholds = self.config.for_source(profile.source)
        baseline, _ = self.load_baseline(profile.source)
        ready = baseline.ready(thresholds.baseline)
        rows = profile.rows_in
        checks = [
            check_rate(
                "empty_text",
                profile.empty_text,
                rows,
                thresholds.empty_text,
                baseline.empty_rate if ready else None,
                thresholds,
            ),
            check_rate(
                "duplicates",
                profile.duplicates,
                rows,
                thresholds.duplicates,
                baseline.duplicate_rate if ready else None,
                thresholds,
            ),
            check_language_mix(profile, baseline, thresholds),
            check_text_length(profile, baseline, thresholds),
            check_columns(profile, expected_columns, required_columns, thresholds),
        ]
        result = GateResult(
            source=profile.source,
            passed=all(check.passed for check in checks),
            rows_in=rows,
            checks=checks,
        )
        if not result.passed:
            # Names only: column names of a headerless export would be customer text.
            logger.warning(
                "%s: quality gate failed a batch of %d rows: %s",
                profile.source,
                rows,
                ", ".join(check.name for check in result.failures),
            )
        return result

    def check_volume(self, source: str, records_in: int) -> CheckResult:
        """Alert-only: the whole input's record count against the source's usual volume."""
        thresholds = self.config.for_source(source)
        baseline, _ = self.load_baseline(source)
        result = check_volume_against(
            records_in, baseline, thresholds.volume, thresholds.significance
        )
        if not result.passed:
            logger.warning("%s: volume alert: %s", source, result.message)
        return result

    def record_pass(self, profile: BatchProfile) -> None:
        """Fold a passing batch into the baseline; batches under ``min_records`` rows are noise."""
        thresholds = self.config.for_source(profile.source)
        if profile.rows_in < thresholds.min_records:
            return
        self._update(
            profile.source,
            lambda baseline: fold_batch(baseline, profile, thresholds.baseline, self.clock()),
        )

    def record_input(self, source: str, records_in: int) -> None:
        """Fold an input's volume into the baseline (call it only when the volume passed)."""
        volume = self.config.for_source(source).volume
        self._update(
            source, lambda baseline: fold_input(baseline, records_in, volume, self.clock())
        )

    def reset_baseline(self, source: str) -> None:
        """Forget a source's baseline: an operator accepting a lasting change."""
        self.storage.delete(self.container, self._path(source))

    # ------------------------------------------------------------- storage

    @staticmethod
    def _path(source: str) -> str:
        return f"{BASELINE_PREFIX}/{source}.json"

    def load_baseline(self, source: str) -> tuple[SourceBaseline, str | None]:
        """The stored baseline and its ETag; an empty one (ETag None) when absent."""
        found = self.storage.read(self.container, self._path(source))
        if found is None:
            return SourceBaseline(source=source), None
        data, etag = found
        try:
            return SourceBaseline.model_validate_json(data), etag
        except ValidationError as exc:
            # Replaced by the next conditional write; until then the gate has no baseline.
            logger.warning("baseline %s is unreadable and is ignored: %s", source, exc.errors()[:1])
            return SourceBaseline(source=source), etag

    def _update(self, source: str, change: Callable[[SourceBaseline], SourceBaseline]) -> None:
        path = self._path(source)
        for attempt in range(self.max_attempts):
            baseline, etag = self.load_baseline(source)
            data = change(baseline).model_dump_json().encode()
            try:
                self.storage.write(
                    self.container, path, data, if_match=etag, if_none_match=etag is None
                )
            except ConcurrencyConflictError:
                wait_after_conflict(attempt)
                continue
            return
        raise TransientError(
            f"quality baseline {path} kept changing under {self.max_attempts} attempts"
        )
