"""One function per check, each a :class:`CheckResult`; the statistics come from scipy.stats."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from shared.enrich.language import UNDETERMINED
from shared.enrich.quality.baseline import SourceBaseline, _shares
from shared.enrich.quality.config import GateThresholds, RateConfig, VolumeConfig
from shared.enrich.quality.profile import LENGTH_BINS, BatchProfile


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


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """Half the L1 distance between two share vectors: 0 identical, 1 disjoint."""
    return 0.5 * sum(abs(p.get(key, 0.0) - q.get(key, 0.0)) for key in p.keys() | q.keys())


def chi_square_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for a chi-square distribution with ``df`` degrees of freedom."""
    from scipy import stats  # loads only when a shift is tested, not at import time

    return float(stats.chi2.sf(statistic, df))


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


def poisson_lower_tail(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam); 1 when k is not below the mean (no collapse)."""
    if lam <= 0 or k >= lam:
        return 1.0
    from scipy import stats

    return float(stats.poisson.cdf(k, lam))


def poisson_upper_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam); 1 when k is not above the mean."""
    if k <= lam:
        return 1.0
    if lam <= 0:
        return 0.0
    from scipy import stats

    return float(stats.poisson.sf(k - 1, lam))


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
