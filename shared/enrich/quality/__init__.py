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

from shared.enrich.quality.baseline import BASELINE_PREFIX, SourceBaseline, fold_batch, fold_input
from shared.enrich.quality.checks import (
    CheckResult,
    GateResult,
    check_columns,
    check_language_mix,
    check_rate,
    check_text_length,
    check_volume_against,
    chi_square_sf,
    goodness_of_fit,
    poisson_lower_tail,
    poisson_upper_tail,
    total_variation,
)
from shared.enrich.quality.config import (
    QUALITY_SCHEMA_VERSION,
    BaselineConfig,
    ColumnsConfig,
    DuplicatesConfig,
    EmptyTextConfig,
    GateThresholds,
    LanguageMixConfig,
    LengthConfig,
    QualityConfig,
    RateConfig,
    VolumeConfig,
    get_quality_config,
    load_quality_config,
)
from shared.enrich.quality.events import QUALITY_EVENTS_DATASET, QualityEvent, QualityLog
from shared.enrich.quality.gate import QualityGate, utc_now
from shared.enrich.quality.profile import (
    LENGTH_BINS,
    LENGTH_EDGES,
    BatchProfile,
    BatchProfiler,
    length_bin,
)

__all__ = [
    "BASELINE_PREFIX",
    "LENGTH_BINS",
    "LENGTH_EDGES",
    "QUALITY_EVENTS_DATASET",
    "QUALITY_SCHEMA_VERSION",
    "BaselineConfig",
    "BatchProfile",
    "BatchProfiler",
    "CheckResult",
    "ColumnsConfig",
    "DuplicatesConfig",
    "EmptyTextConfig",
    "GateResult",
    "GateThresholds",
    "LanguageMixConfig",
    "LengthConfig",
    "QualityConfig",
    "QualityEvent",
    "QualityGate",
    "QualityLog",
    "RateConfig",
    "SourceBaseline",
    "VolumeConfig",
    "check_columns",
    "check_language_mix",
    "check_rate",
    "check_text_length",
    "check_volume_against",
    "chi_square_sf",
    "fold_batch",
    "fold_input",
    "get_quality_config",
    "goodness_of_fit",
    "length_bin",
    "load_quality_config",
    "poisson_lower_tail",
    "poisson_upper_tail",
    "total_variation",
    "utc_now",
]
