"""The gate's thresholds (prompts/quality.yaml): defaults, per-source overrides, validation."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.enrich.language import LanguageConfig
from shared.yaml_config import read_yaml_mapping, validated

QUALITY_SCHEMA_VERSION = "1.0"


_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


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
    raw = read_yaml_mapping(path, "quality config", "the quality config is a YAML mapping")
    return validated(QualityConfig, raw, path, "quality config")


@functools.cache
def get_quality_config(config_dir: Path) -> QualityConfig:
    """``<config_dir>/quality.yaml``, read once per process (like the source mappings)."""
    return load_quality_config(Path(config_dir) / "quality.yaml")
