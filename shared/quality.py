"""The data-quality gate: decide per landing batch whether it may land, before any model.

Why: a malformed export (80% empty tickets) or a broken feed (Spanish reviews suddenly
near zero) must be stopped and explained, not classified and reported as a trend.

How it runs. Files can be 1 GB, so the pipeline sees records in landing batches (up to
20,000 records / 8 MiB) and never a whole file. A :class:`BatchProfiler` counts one
batch (empty texts, duplicates, languages, a text-length histogram, the columns seen);
:meth:`QualityGate.check_batch` judges the :class:`BatchProfile`:

============== ==================================================================
check          fails when
============== ==================================================================
empty_text     empty-text rate > ``max_rate``, or > baseline + ``max_increase``
duplicates     duplicate rate (same record id, or the same text of >= ``min_chars``
               characters, twice in the batch) > ``max_rate`` or > baseline + increase
language_mix   total variation distance (TVD) of the shares of determined languages
               (``und`` follows text length) > ``max_distance``, or a language with
               >= ``min_share`` of the baseline drops by more than ``max_share_drop``
               (e.g. es 30% -> 0.2%)
text_length    TVD of the length histogram (fixed log2 bins) from the baseline
               > ``max_distance``
columns        a required column is missing; a mapped column is missing
               (``missing_optional: fail``); columns the mapping does not know
               (``unexpected: fail``, default ``warn``)
============== ==================================================================

A failing batch is quarantined whole (:meth:`QualityLog.quarantine_batch`) with a JSON
report, and a :class:`QualityEvent` lands at ``landing/quality_events/``; passing batches
land their event (the gate metrics) too, and are folded into the baseline.

Volume is different: "this daily export is 90% smaller than usual" is a property of the
whole input, known only at the end, after its batches have landed. So
:meth:`QualityGate.check_volume` is **alert-only**: it produces an event, never a
quarantine.

Baselines are rolling per source, exponentially weighted (``alpha`` per batch; a plain
mean over the first ``1/alpha`` batches), stored as JSON in the ledger container at
``baselines/<source>.json`` and updated with an ETag-conditional write, re-read and
retried on conflict. Only passing batches are folded, so a broken feed never becomes
the new normal; a real, lasting change (a new market) keeps failing until an operator
accepts it (raise the source's threshold, or :meth:`QualityGate.reset_baseline`).

Noise. Rate checks need ``min_rows`` rows (default 20); distribution checks need
``min_records`` records with text (default 50) and a baseline of ``baseline.min_batches``
batches and ``baseline.min_rows`` rows; without one a shift check passes, marked
skipped with "no baseline". A shift fails only when it is both large and real:

* large: the total variation distance (TVD: half the L1 distance between the share
  vectors, 0..1, "the fraction of records that would have to move") exceeds
  ``max_distance``. TVD is bounded and reads directly, unlike PSI, which is unbounded
  and undefined for empty bins;
* real: a chi-square goodness-of-fit test of the batch's counts against the baseline
  shares (bins expected to hold fewer than 5 records pooled) gives p < ``significance``
  (0.001). At 50 texts over en 70% / es 30%, noise alone exceeds TVD 0.15 about 2% of
  the time; the test needs ~0.21 there, while at 1,000 texts ``max_distance`` rules.

A language collapse must likewise be unlikely by chance (Poisson tail <
``significance``). Only batches of at least ``min_records`` rows are folded into the
baseline.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import ConcurrencyConflictError, ConfigError, TransientError
from shared.language import UNDETERMINED, LanguageConfig
from shared.models import AwareDatetime, normalize_for_identity
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)

QUALITY_SCHEMA_VERSION = "1.0"
QUALITY_EVENTS_DATASET = "quality_events"
BASELINE_PREFIX = "baselines"
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# Text length in characters, log2 bins: fixed so that histograms of any batch compare.
LENGTH_EDGES = (1, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
LENGTH_BINS = tuple(
    [f"{low}-{high - 1}" for low, high in itertools.pairwise(LENGTH_EDGES)]
    + [f"{LENGTH_EDGES[-1]}+"]
)


def length_bin(length: int) -> str:
    """The histogram bin of a (non-empty) text length."""
    return LENGTH_BINS[max(bisect.bisect_right(LENGTH_EDGES, length) - 1, 0)]


def utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ config


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaselineConfig(_Section):
    alpha: float = Field(default=0.1, gt=0, le=1, description="weight of the newest batch")
    min_batches: int = Field(default=3, ge=1, description="folded batches before shift checks")
    min_rows: int = Field(default=500, ge=1, description="folded rows before shift checks")


class RateConfig(_Section):
    max_rate: float = Field(ge=0, le=1)
    max_increase: float | None = Field(
        default=None, ge=0, le=1, description="allowed rise over the baseline rate"
    )


class EmptyTextConfig(RateConfig):
    max_rate: float = Field(default=0.2, ge=0, le=1)
    max_increase: float | None = Field(default=0.15, ge=0, le=1)


class DuplicatesConfig(RateConfig):
    max_rate: float = Field(default=0.1, ge=0, le=1)
    max_increase: float | None = Field(default=0.1, ge=0, le=1)
    min_chars: int = Field(
        default=40, ge=1, description="texts this long count as duplicates when repeated"
    )


class LanguageMixConfig(_Section):
    max_distance: float = Field(default=0.15, gt=0, le=1)
    min_share: float = Field(default=0.05, gt=0, le=1, description="languages watched for drops")
    max_share_drop: float = Field(default=0.8, gt=0, lt=1)


class LengthConfig(_Section):
    max_distance: float = Field(default=0.3, gt=0, le=1)


class ColumnsConfig(_Section):
    missing_optional: Literal["fail", "warn"] = "fail"
    unexpected: Literal["fail", "warn"] = "warn"
    extra_columns: list[str] = Field(
        default_factory=list, description="unmapped columns the export is known to carry"
    )


class VolumeConfig(_Section):
    enabled: bool = True
    alpha: float = Field(default=0.2, gt=0, le=1)
    min_inputs: int = Field(default=3, ge=1)
    min_ratio: float = Field(default=0.25, ge=0, le=1)
    max_ratio: float = Field(default=5.0, ge=1)


class GateThresholds(_Section):
    """Thresholds for one source (the defaults merged with the source's overrides)."""

    min_rows: int = Field(default=20, ge=1, description="rows before rate checks judge")
    min_records: int = Field(default=50, ge=1, description="texts before shift checks judge")
    significance: float = Field(default=0.001, gt=0, lt=1)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    empty_text: EmptyTextConfig = Field(default_factory=EmptyTextConfig)
    duplicates: DuplicatesConfig = Field(default_factory=DuplicatesConfig)
    language_mix: LanguageMixConfig = Field(default_factory=LanguageMixConfig)
    text_length: LengthConfig = Field(default_factory=LengthConfig)
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    volume: VolumeConfig = Field(default_factory=VolumeConfig)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class QualityConfig(_Section):
    """``prompts/quality.yaml``: language detection plus gate thresholds per source.

    ``sources.<name>`` holds only what differs from ``defaults``; it is merged over the
    defaults before validation, so every entry is a complete :class:`GateThresholds`.
    """

    version: str = "1"
    language: LanguageConfig = Field(default_factory=LanguageConfig)
    defaults: GateThresholds = Field(default_factory=GateThresholds)
    sources: dict[str, GateThresholds] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _merge_overrides(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        if isinstance(defaults, GateThresholds):
            defaults = defaults.model_dump()
        sources = data.get("sources") or {}
        if not isinstance(defaults, dict) or not isinstance(sources, dict):
            return data  # let field validation report the wrong type
        bad = [name for name in sources if not _SOURCE_NAME.match(str(name))]
        if bad:
            raise ValueError(f"sources: invalid source names {bad}")
        merged = {
            name: _deep_merge(defaults, override) if isinstance(override, dict) else override
            for name, override in sources.items()
        }
        return {**data, "sources": merged}

    def for_source(self, source: str) -> GateThresholds:
        return self.sources.get(source, self.defaults)


def load_quality_config(path: Path) -> QualityConfig:
    """Read and validate ``quality.yaml``; any problem is a ConfigError naming the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read quality config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the quality config is a YAML mapping")
    try:
        return QualityConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid quality config:\n{exc}") from exc


@functools.cache
def get_quality_config(config_dir: Path) -> QualityConfig:
    """``<config_dir>/quality.yaml``, read once per process (like the source mappings)."""
    return load_quality_config(Path(config_dir) / "quality.yaml")


# ----------------------------------------------------------------- profile


class BatchProfile(BaseModel):
    """What the gate knows about one batch: counts only, never text."""

    model_config = ConfigDict(extra="forbid")

    source: str
    rows_in: int = Field(ge=0, description="rows seen: texts + empty + duplicates + already landed")
    empty_text: int = Field(default=0, ge=0)
    duplicates: int = Field(default=0, ge=0)
    already_landed: int = Field(
        default=0, ge=0, description="records an earlier input landed (overlapping exports)"
    )
    languages: dict[str, int] = Field(default_factory=dict, description="ISO 639-1 or und")
    length_histogram: dict[str, int] = Field(default_factory=dict)
    columns: list[str] | None = Field(
        default=None, description="columns (CSV header, JSON keys) seen; None = unknown"
    )

    @property
    def with_text(self) -> int:
        """Distinct non-empty texts: what language and length shares are computed over."""
        return sum(self.languages.values())


class BatchProfiler:
    """Accumulates a :class:`BatchProfile` record by record, in bounded memory.

    ``observe_record`` also spots repeated texts of at least ``duplicate_min_chars``
    characters (an export that repeats rows under new ids); a repeat counts as a
    duplicate and is left out of the language and length shares.
    """

    def __init__(self, source: str, *, duplicate_min_chars: int = 40) -> None:
        self.source = source
        self.duplicate_min_chars = duplicate_min_chars
        self.rows_in = 0
        self.empty_text = 0
        self.duplicates = 0
        self.already_landed = 0
        self.languages: dict[str, int] = {}
        self.length_histogram: dict[str, int] = {}
        self._columns: dict[str, None] | None = None
        self._seen_texts: set[int] = set()

    def observe_record(self, text: str, language: str) -> None:
        """A record with its detected language (``und`` when undetermined)."""
        stripped = text.strip()
        if not stripped:
            self.observe_empty()
            return
        if len(stripped) >= self.duplicate_min_chars:
            # An in-process hash of the normalized text: the batch never keeps texts.
            digest = hash(normalize_for_identity(stripped))
            if digest in self._seen_texts:
                self.observe_duplicate()
                return
            self._seen_texts.add(digest)
        self.rows_in += 1
        self.languages[language] = self.languages.get(language, 0) + 1
        label = length_bin(len(stripped))
        self.length_histogram[label] = self.length_histogram.get(label, 0) + 1

    def observe_already_landed(self, count: int) -> None:
        """Records of the batch that earlier inputs landed: rows for the rates, nothing else.

        An export that repeats last week's rows is normal; without them in the
        denominator, its few empty rows would look like an empty export.
        """
        self.rows_in += count
        self.already_landed += count

    def observe_empty(self) -> None:
        """A row without text (quarantined as missing_text, or landed where allowed)."""
        self.rows_in += 1
        self.empty_text += 1

    def observe_duplicate(self) -> None:
        """A row whose record id was already in this batch."""
        self.rows_in += 1
        self.duplicates += 1

    def set_columns(self, columns: Iterable[str]) -> None:
        """The input's columns as a whole (a CSV header)."""
        self._columns = dict.fromkeys(columns)

    def observe_columns(self, columns: Iterable[str]) -> None:
        """Keys of one JSON row; the batch's columns are the union over its rows."""
        if self._columns is None:
            self._columns = {}
        for column in columns:
            if column not in self._columns:
                self._columns[column] = None

    def profile(self) -> BatchProfile:
        return BatchProfile(
            source=self.source,
            rows_in=self.rows_in,
            empty_text=self.empty_text,
            duplicates=self.duplicates,
            already_landed=self.already_landed,
            languages=dict(self.languages),
            length_histogram=dict(self.length_histogram),
            columns=list(self._columns) if self._columns is not None else None,
        )


# ----------------------------------------------------------------- results


def _show(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


class CheckResult(BaseModel):
    """One check on one batch (or input): passed or not, observed vs expected."""

    model_config = ConfigDict(extra="forbid")

    name: str
    passed: bool
    observed: float | str
    expected: str
    message: str
    skipped: bool = Field(default=False, description="passed without judging (no baseline...)")
    warning: bool = Field(default=False, description="passed, but worth a look")


class GateResult(BaseModel):
    """The verdict on one batch: it passes only if every check passes."""

    model_config = ConfigDict(extra="forbid")

    source: str
    passed: bool
    rows_in: int = 0
    checks: list[CheckResult]

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def summary(self) -> str:
        """One line: the failing checks with observed vs expected, or what passed."""
        size = f"{self.rows_in:,} row{'s' if self.rows_in != 1 else ''}"
        if not self.passed:
            parts = "; ".join(
                f"{check.name} observed {_show(check.observed)}, expected {check.expected}: "
                f"{check.message}"
                for check in self.failures
            )
            return f"{self.source}: quality gate FAILED ({size}): {parts}"
        judged = sum(1 for check in self.checks if not check.skipped)
        line = f"{self.source}: quality gate passed ({size}; {judged}/{len(self.checks)} judged)"
        notes = [
            f"{check.name}: {check.message}"
            for check in self.checks
            if check.warning or check.skipped
        ]
        return f"{line}; {'; '.join(notes)}" if notes else line


# ---------------------------------------------------------------- baseline


class SourceBaseline(BaseModel):
    """Rolling (exponentially weighted) statistics of a source's passing batches."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.0"] = QUALITY_SCHEMA_VERSION
    source: str
    batches: int = 0
    rows: int = 0
    empty_rate: float | None = None
    duplicate_rate: float | None = None
    languages: dict[str, float] = Field(default_factory=dict)
    length_histogram: dict[str, float] = Field(default_factory=dict)
    inputs: int = 0
    records_per_input: float | None = None
    updated_at: AwareDatetime | None = None

    def ready(self, config: BaselineConfig) -> bool:
        return self.batches >= config.min_batches and self.rows >= config.min_rows

    def describe(self, config: BaselineConfig) -> str:
        return (
            f"no baseline yet ({self.batches}/{config.min_batches} batches, "
            f"{self.rows:,}/{config.min_rows:,} rows)"
        )


def _ew(old: float | None, new: float, weight: float) -> float:
    return new if old is None else (1 - weight) * old + weight * new


def _ew_shares(old: dict[str, float], counts: dict[str, int], weight: float) -> dict[str, float]:
    new = _shares(counts)
    if not old:
        return new
    merged = {
        key: (1 - weight) * old.get(key, 0.0) + weight * new.get(key, 0.0)
        for key in old.keys() | new.keys()
    }
    # Keys that faded out are dropped to keep the document small.
    return {key: round(value, 6) for key, value in sorted(merged.items()) if value >= 1e-6}


def fold_batch(
    baseline: SourceBaseline, profile: BatchProfile, config: BaselineConfig, now: datetime
) -> SourceBaseline:
    """The baseline after one more passing batch (pure)."""
    batches = baseline.batches + 1
    # A plain mean until 1/alpha batches are in, then exponential forgetting.
    weight = max(config.alpha, 1 / batches)
    rows = max(profile.rows_in, 1)
    return baseline.model_copy(
        update={
            "batches": batches,
            "rows": baseline.rows + profile.rows_in,
            "empty_rate": round(_ew(baseline.empty_rate, profile.empty_text / rows, weight), 6),
            "duplicate_rate": round(
                _ew(baseline.duplicate_rate, profile.duplicates / rows, weight), 6
            ),
            "languages": _ew_shares(baseline.languages, profile.languages, weight)
            if profile.with_text
            else baseline.languages,
            "length_histogram": _ew_shares(
                baseline.length_histogram, profile.length_histogram, weight
            )
            if profile.with_text
            else baseline.length_histogram,
            "updated_at": now,
        }
    )


def fold_input(
    baseline: SourceBaseline, records_in: int, config: VolumeConfig, now: datetime
) -> SourceBaseline:
    """The baseline after one more input's volume (pure)."""
    inputs = baseline.inputs + 1
    weight = max(config.alpha, 1 / inputs)
    return baseline.model_copy(
        update={
            "inputs": inputs,
            "records_per_input": round(_ew(baseline.records_per_input, records_in, weight), 3),
            "updated_at": now,
        }
    )


# ------------------------------------------------------------------ checks


def _shares(counts: dict[str, int] | dict[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()} if total else {}


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """Half the L1 distance between two share vectors: 0 identical, 1 disjoint."""
    return 0.5 * sum(abs(p.get(key, 0.0) - q.get(key, 0.0)) for key in p.keys() | q.keys())


def _upper_gamma_regularized(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): series below a + 1, continued fraction above."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    result = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return min(1.0, result * math.exp(log_front))


def chi_square_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for a chi-square distribution with ``df`` degrees of freedom."""
    return _upper_gamma_regularized(df / 2, statistic / 2)


def goodness_of_fit(counts: dict[str, int], shares: dict[str, float]) -> float:
    """p-value of "these counts were drawn from ``shares``" (Pearson chi-square).

    Bins expected to hold fewer than 5 records are pooled, as the test requires; a pooled
    bin the baseline never saw gets an expected count of 0.5 rather than zero.
    """
    n = sum(counts.values())
    if n == 0:
        return 1.0
    cells: list[tuple[float, int]] = []
    pooled_expected, pooled_observed = 0.0, 0
    for key in shares.keys() | counts.keys():
        expected, observed = n * shares.get(key, 0.0), counts.get(key, 0)
        if expected < 5:
            pooled_expected += expected
            pooled_observed += observed
        else:
            cells.append((expected, observed))
    if pooled_observed or pooled_expected:
        cells.append((max(pooled_expected, 0.5), pooled_observed))
    if len(cells) < 2:
        return 1.0
    statistic = sum((observed - expected) ** 2 / expected for expected, observed in cells)
    return chi_square_sf(statistic, len(cells) - 1)


def _log_poisson(k: int, lam: float) -> float:
    return -lam + k * math.log(lam) - math.lgamma(k + 1)


def poisson_lower_tail(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam), summed from k downwards until negligible."""
    if lam <= 0 or k >= lam:
        return 1.0
    total = 0.0
    for i in range(k, -1, -1):
        term = math.exp(_log_poisson(i, lam))
        total += term
        if term < total * 1e-12:
            break
    return min(total, 1.0)


def poisson_upper_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam), summed from k upwards until negligible."""
    if k <= lam:
        return 1.0
    if lam <= 0:
        return 0.0
    total, i = 0.0, k
    while True:
        term = math.exp(_log_poisson(i, lam))
        total += term
        if term < total * 1e-12 or term == 0.0:
            return min(total, 1.0)
        i += 1


def _pct(value: float) -> str:
    return f"{value:.1%}"


def check_rate(
    name: str,
    count: int,
    rows: int,
    config: RateConfig,
    baseline_rate: float | None,
    thresholds: GateThresholds,
) -> CheckResult:
    """A rate (empty, duplicate) against its absolute and baseline-relative limits."""
    expected = f"<= {config.max_rate:.2f}"
    if rows < thresholds.min_rows:
        return CheckResult(
            name=name,
            passed=True,
            skipped=True,
            observed=round(count / rows, 4) if rows else 0.0,
            expected=expected,
            message=f"too few rows to judge ({rows} < {thresholds.min_rows})",
        )
    rate = count / rows
    limit = config.max_rate
    if baseline_rate is not None and config.max_increase is not None:
        relative = baseline_rate + config.max_increase
        if relative < limit:
            limit = relative
            expected = f"<= {limit:.2f} (baseline {baseline_rate:.2f} + {config.max_increase:.2f})"
    passed = rate <= limit
    return CheckResult(
        name=name,
        passed=passed,
        observed=round(rate, 4),
        expected=expected,
        message=f"{count:,} of {rows:,} rows",
    )


def _top(shares: dict[str, float], k: int = 4) -> str:
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{key} {_pct(value)}" for key, value in ranked) or "none"


def check_language_mix(
    profile: BatchProfile, baseline: SourceBaseline, thresholds: GateThresholds
) -> CheckResult:
    """Shares of determined languages vs the baseline: overall distance and collapses.

    ``und`` is left out: its share follows text length (short texts are undetermined),
    which the text_length check watches.
    """
    config = thresholds.language_mix
    counts = {k: v for k, v in profile.languages.items() if k != UNDETERMINED and v}
    n = sum(counts.values())
    expected = f"TVD <= {config.max_distance:.2f}"
    if n < thresholds.min_records:
        return _skipped(
            "language_mix",
            expected,
            f"too few texts with a language to judge ({n} < {thresholds.min_records})",
        )
    base = _shares({k: v for k, v in baseline.languages.items() if k != UNDETERMINED})
    if not baseline.ready(thresholds.baseline) or not base:
        return _skipped("language_mix", expected, baseline.describe(thresholds.baseline))
    observed = _shares(counts)
    distance = total_variation(observed, base)
    collapsed = []
    for language, base_share in sorted(base.items(), key=lambda kv: -kv[1]):
        if base_share < config.min_share:
            continue
        count = counts.get(language, 0)
        floor = base_share * (1 - config.max_share_drop)
        unlikely = poisson_lower_tail(count, n * base_share) < thresholds.significance
        if count / n < floor and unlikely:
            collapsed.append((language, count / n, base_share, floor))
    if collapsed:
        language, share, base_share, floor = collapsed[0]
        others = f" (and {', '.join(c[0] for c in collapsed[1:])})" if len(collapsed) > 1 else ""
        return CheckResult(
            name="language_mix",
            passed=False,
            observed=f"{language} {_pct(share)}",
            expected=f"{language} >= {_pct(floor)} (baseline {_pct(base_share)})",
            message=f"share fell by {1 - share / base_share:.0%}{others}, TVD {distance:.2f} "
            f"from baseline {_top(base)}",
        )
    return _shift_result(
        "language_mix",
        distance,
        goodness_of_fit(counts, base),
        config.max_distance,
        thresholds.significance,
        n,
        f"{_top(observed)} vs baseline {_top(base)}",
    )


def _shift_result(
    name: str,
    distance: float,
    p_value: float,
    max_distance: float,
    significance: float,
    n: int,
    detail: str,
) -> CheckResult:
    """Fails a distribution shift only when it is large (TVD) and real (p-value)."""
    large, real = distance > max_distance, p_value < significance
    if large and not real:
        detail += f", within sampling noise for {n:,} texts (p={p_value:.2g})"
    elif large:
        detail += f", p={p_value:.2g} over {n:,} texts"
    return CheckResult(
        name=name,
        passed=not (large and real),
        observed=round(distance, 4),
        expected=f"TVD <= {max_distance:.2f}",
        message=detail,
    )


def _median_bin(histogram: dict[str, float] | dict[str, int]) -> str:
    total = sum(histogram.values())
    running = 0.0
    for label in LENGTH_BINS:
        running += histogram.get(label, 0)
        if running >= total / 2:
            return label
    return "-"


def check_text_length(
    profile: BatchProfile, baseline: SourceBaseline, thresholds: GateThresholds
) -> CheckResult:
    """The text-length histogram against the baseline's (TVD over fixed log2 bins)."""
    config = thresholds.text_length
    n = profile.with_text
    expected = f"TVD <= {config.max_distance:.2f}"
    if n < thresholds.min_records:
        return _skipped(
            "text_length", expected, f"too few texts to judge ({n} < {thresholds.min_records})"
        )
    if not baseline.ready(thresholds.baseline) or not baseline.length_histogram:
        return _skipped("text_length", expected, baseline.describe(thresholds.baseline))
    distance = total_variation(_shares(profile.length_histogram), baseline.length_histogram)
    return _shift_result(
        "text_length",
        distance,
        goodness_of_fit(profile.length_histogram, baseline.length_histogram),
        config.max_distance,
        thresholds.significance,
        n,
        f"median length {_median_bin(profile.length_histogram)} chars vs baseline "
        f"{_median_bin(baseline.length_histogram)}",
    )


def _present(column: str, columns: set[str]) -> bool:
    # A dotted path into nested JSON is there when its top-level key is.
    return column in columns or column.split(".", 1)[0] in columns


def check_columns(
    profile: BatchProfile,
    expected_columns: Sequence[str],
    required_columns: Sequence[str],
    thresholds: GateThresholds,
) -> CheckResult:
    """Columns seen vs the source mapping: required/mapped missing, unknown extra ones."""
    config = thresholds.columns
    expected = f"required {list(required_columns)} present"
    if profile.columns is None:
        return _skipped("columns", expected, "columns not known for this batch")
    seen = set(profile.columns)
    missing_required = [c for c in required_columns if not _present(c, seen)]
    optional = [c for c in expected_columns if c not in required_columns]
    # A few JSON rows may all omit an optional key; judge that only on enough rows.
    judge_optional = profile.rows_in >= thresholds.min_rows
    missing_optional = [c for c in optional if not _present(c, seen)] if judge_optional else []
    known = {*expected_columns, *config.extra_columns}
    known_roots = {c.split(".", 1)[0] for c in known}
    unexpected = [c[:64] for c in profile.columns if c not in known and c not in known_roots]

    problems, warnings = [], []
    if missing_required:
        problems.append(f"missing required {missing_required}")
    for found, label, policy in (
        (missing_optional, "missing mapped", config.missing_optional),
        (unexpected, "unexpected", config.unexpected),
    ):
        if found:
            shown = found[:10] + (["..."] if len(found) > 10 else [])
            (problems if policy == "fail" else warnings).append(f"{label} {shown}")
    if problems:
        return CheckResult(
            name="columns",
            passed=False,
            observed=" & ".join(problems),
            expected=expected
            + (", mapped columns present" if config.missing_optional == "fail" else "")
            + (", no unmapped columns" if config.unexpected == "fail" else ""),
            message=f"the input's {len(seen)} columns do not match the source mapping"
            + (f" (also {' & '.join(warnings)})" if warnings else ""),
        )
    return CheckResult(
        name="columns",
        passed=True,
        warning=bool(warnings),
        observed=f"{len(profile.columns)} columns",
        expected=expected,
        message=" & ".join(warnings) if warnings else "all mapped columns present",
    )


def check_volume_against(
    records_in: int, baseline: SourceBaseline, config: VolumeConfig, significance: float
) -> CheckResult:
    """An input's record count against the rolling records-per-input (alert only)."""
    mean = baseline.records_per_input
    expected = f"{config.min_ratio:g}x-{config.max_ratio:g}x of the rolling mean"
    if not config.enabled:
        return _skipped("volume", expected, "volume check disabled for this source", records_in)
    if mean is None or baseline.inputs < config.min_inputs:
        return _skipped(
            "volume",
            expected,
            f"no baseline yet ({baseline.inputs}/{config.min_inputs} inputs)",
            records_in,
        )
    ratio = records_in / mean if mean else math.inf
    low, high = config.min_ratio * mean, config.max_ratio * mean
    expected = f"{low:,.0f}-{high:,.0f} records ({expected} {mean:,.0f})"
    drop = ratio < config.min_ratio and poisson_lower_tail(records_in, mean) < significance
    spike = ratio > config.max_ratio and poisson_upper_tail(records_in, mean) < significance
    if drop or spike:
        change = f"{1 - ratio:.0%} fewer" if drop else f"{ratio:.1f}x as many"
        message = f"{records_in:,} records: {change} than the rolling mean {mean:,.0f}"
    else:
        message = f"{records_in:,} records, {ratio:.2f}x the rolling mean {mean:,.0f}"
    return CheckResult(
        name="volume",
        passed=not (drop or spike),
        observed=float(records_in),
        expected=expected,
        message=message,
    )


def _skipped(name: str, expected: str, message: str, observed: float | str = "-") -> CheckResult:
    return CheckResult(
        name=name, passed=True, skipped=True, observed=observed, expected=expected, message=message
    )


# -------------------------------------------------------------------- gate


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
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter only
                continue
            return
        raise TransientError(
            f"quality baseline {path} kept changing under {self.max_attempts} attempts"
        )


# ------------------------------------------------------------------ events


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


__all__ = [
    "LENGTH_BINS",
    "BatchProfile",
    "BatchProfiler",
    "CheckResult",
    "GateResult",
    "GateThresholds",
    "QualityConfig",
    "QualityEvent",
    "QualityGate",
    "QualityLog",
    "SourceBaseline",
    "get_quality_config",
    "load_quality_config",
]
