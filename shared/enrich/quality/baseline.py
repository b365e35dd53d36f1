"""A source's rolling baseline: exponentially weighted rates and shares of its passing batches."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.enrich.quality.config import QUALITY_SCHEMA_VERSION, BaselineConfig, VolumeConfig
from shared.enrich.quality.profile import BatchProfile
from shared.models import AwareDatetime

BASELINE_PREFIX = "baselines"


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


def _shares(counts: dict[str, int] | dict[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()} if total else {}
