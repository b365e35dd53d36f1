"""The pipeline's configuration keys, read once per dataset definition.

Everything a run can tune is a pipeline configuration key (``configuration:`` in the
bundle's pipeline resource, or in the local spec), so Databricks and the local OSS run
execute the same code and differ only in these values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

SourceMode = Literal["autoloader", "files"]

SOURCE = "insightloop.source"
LANDING_PATH = "insightloop.landing_path"
SCHEMA_LOCATION = "insightloop.schema_location"
AS_OF = "insightloop.as_of"
WINDOW_DAYS = "insightloop.window_days"
IMPACT_DAYS = "insightloop.impact_days"
INSIGHT_MIN_VOLUME = "insightloop.insights.min_volume"
ALERT_SENSITIVITY = "insightloop.alerts.sensitivity"
ALERT_MIN_VOLUME = "insightloop.alerts.min_volume"
ALERT_BASELINE_WEEKS = "insightloop.alerts.baseline_weeks"
EMERGING_MAX_CONFIDENCE = "insightloop.emerging.max_confidence"
# A JSON object per column, alias -> canonical value (case-insensitive), e.g.
# insightloop.aliases.customer_segment = {"b2b": "Business", "subscription": "Subscriber"}
ALIASES_PREFIX = "insightloop.aliases."
ALIAS_COLUMNS = ("customer_segment", "region", "product_category")


class _Conf(Protocol):
    def get(self, key: str, default: str | None = None, /) -> str | None: ...


# Tunable field -> (configuration key, type); a key left unset keeps the field's default.
_TUNABLES: dict[str, tuple[str, type[int] | type[float]]] = {
    "window_days": (WINDOW_DAYS, int),
    "impact_days": (IMPACT_DAYS, int),
    "insight_min_volume": (INSIGHT_MIN_VOLUME, int),
    "alert_sensitivity": (ALERT_SENSITIVITY, float),
    "alert_min_volume": (ALERT_MIN_VOLUME, int),
    "alert_baseline_weeks": (ALERT_BASELINE_WEEKS, int),
    "emerging_max_confidence": (EMERGING_MAX_CONFIDENCE, float),
}


@dataclass(frozen=True)
class PipelineSettings:
    """Typed view of the ``insightloop.*`` keys, with the defaults a new workspace gets."""

    source: SourceMode
    landing_path: str
    # Where Auto Loader tracks each stream's schema; unset lets the pipeline manage it.
    schema_location: str | None = None
    # The reporting date; unset means the latest day with feedback (reruns reproduce).
    as_of: date | None = None
    window_days: int = 28
    impact_days: int = 90
    insight_min_volume: int = 3
    alert_sensitivity: float = 3.0
    alert_min_volume: int = 5
    alert_baseline_weeks: int = 8
    emerging_max_confidence: float = 0.6
    # column -> alias (lower case) -> canonical value (insightloop.aliases.<column>)
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_conf(cls, conf: _Conf) -> PipelineSettings:
        """Settings from a Spark runtime conf (``spark.conf``); bad values fail the run."""

        def value(key: str) -> str | None:
            found = conf.get(key, None)
            return found.strip() if found and found.strip() else None

        source = value(SOURCE) or "autoloader"
        if source not in ("autoloader", "files"):
            raise ValueError(f"{SOURCE} must be 'autoloader' or 'files', not {source!r}")
        landing_path = value(LANDING_PATH)
        if landing_path is None:
            raise ValueError(f"set {LANDING_PATH} in the pipeline configuration")
        as_of = value(AS_OF)
        tuned = {
            name: kind(found)
            for name, (key, kind) in _TUNABLES.items()
            if (found := value(key)) is not None
        }
        aliases = {}
        for column in ALIAS_COLUMNS:
            raw = value(ALIASES_PREFIX + column)
            if raw is None:
                continue
            found = json.loads(raw)
            if not isinstance(found, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in found.items()
            ):
                raise ValueError(f"{ALIASES_PREFIX}{column} must be a JSON object of strings")
            aliases[column] = {k.strip().lower(): v for k, v in found.items()}
        return cls(
            aliases=aliases,
            source=source,  # type: ignore[arg-type]
            landing_path=landing_path.rstrip("/"),
            schema_location=value(SCHEMA_LOCATION),
            as_of=date.fromisoformat(as_of) if as_of else None,
            **tuned,
        )
