"""The routing rules (prompts/routing.yaml): which team and destinations an insight goes to."""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.act.sinks import (
    DESTINATION_ORDER,
    DestinationKind,
    FactsSnapshot,
    JiraTarget,
    ServiceNowTarget,
    SlackTarget,
    TeamsTarget,
)
from shared.decide.taxonomy import get_taxonomy
from shared.errors import (
    ConfigError,
)
from shared.insights import Insight, Severity
from shared.yaml_config import read_yaml_mapping

ROUTING_CONFIG = "routing.yaml"


SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


TARGET_MODELS: dict[str, type[BaseModel]] = {
    "jira": JiraTarget,
    "servicenow": ServiceNowTarget,
    "slack": SlackTarget,
    "teams": TeamsTarget,
}


_TEAM_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewThresholds(_Section):
    """Below these an insight that has no ticket yet goes to human review."""

    min_confidence: float | None = Field(default=None, ge=0, le=1)
    min_volume: int | None = Field(default=None, ge=0)


class Match(_Section):
    """All given conditions must hold; an empty match fits every insight."""

    themes: tuple[str, ...] = ()
    products: tuple[str, ...] = Field(default=(), description="globs on the product/category")
    segments: tuple[str, ...] = Field(default=(), description="globs on the segment")
    min_urgency_high: int | None = Field(default=None, ge=0)
    min_volume: int | None = Field(default=None, ge=0)
    min_velocity: float | None = None
    min_severity: Severity | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)

    def matches(self, insight: Insight) -> bool:
        if self.themes and insight.theme not in self.themes:
            return False
        if self.products and not any(
            fnmatch.fnmatchcase(insight.product, p) for p in self.products
        ):
            return False
        if self.segments and not any(
            fnmatch.fnmatchcase(insight.segment, p) for p in self.segments
        ):
            return False
        if self.min_urgency_high is not None and insight.urgency_high < self.min_urgency_high:
            return False
        if self.min_volume is not None and insight.volume < self.min_volume:
            return False
        if self.min_velocity is not None and velocity_of(insight) < self.min_velocity:
            return False
        if self.min_severity is not None and (
            SEVERITY_ORDER[insight.severity] < SEVERITY_ORDER[self.min_severity]
        ):
            return False
        return self.min_confidence is None or insight.confidence >= self.min_confidence


def velocity_of(insight: Insight) -> float:
    """The velocity rules compare against: a theme new this window counts as a spike."""
    if insight.previous_volume == 0 and insight.volume > 0:
        return float("inf")
    return insight.finite_velocity


class Destinations(_Section):
    jira: JiraTarget | None = None
    servicenow: ServiceNowTarget | None = None
    slack: SlackTarget | None = None
    teams: TeamsTarget | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Destinations:
        if not self.items():
            raise ValueError("name at least one destination (jira, servicenow, slack, teams)")
        return self

    def items(self) -> list[tuple[DestinationKind, BaseModel]]:
        return [(kind, getattr(self, kind)) for kind in DESTINATION_ORDER if getattr(self, kind)]


class Rule(_Section):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    description: str | None = None
    match: Match = Field(default_factory=Match)
    owner: str = Field(pattern=_TEAM_PATTERN)
    review: ReviewThresholds | None = None
    destinations: Destinations


class DefaultRoute(_Section):
    owner: str = Field(pattern=_TEAM_PATTERN, description="when the insight suggests none")
    destinations: Destinations


class UpdatePolicy(_Section):
    """When a later export is worth a comment on an existing ticket."""

    min_volume_change: float = Field(
        default=0.25, ge=0, description="relative to what the destination saw last; 0: any"
    )

    def worth_it(self, seen: FactsSnapshot | None, insight: Insight) -> bool:
        """A severity change always is; else the volume must have moved enough."""
        if seen is None or seen.severity != insight.severity:
            return True
        return abs(insight.volume - seen.volume) >= self.min_volume_change * max(seen.volume, 1)


class SynthesisConfig(_Section):
    prompt_version: str = Field(min_length=1)
    instructions: str = Field(min_length=1)


class RoutingConfig(_Section):
    """``prompts/routing.yaml``, validated."""

    version: str = Field(min_length=1)
    review: ReviewThresholds
    default: DefaultRoute
    rules: tuple[Rule, ...] = ()
    updates: UpdatePolicy = Field(default_factory=UpdatePolicy)
    synthesis: SynthesisConfig

    @model_validator(mode="after")
    def _consistent(self) -> RoutingConfig:
        names = [rule.name for rule in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {repeated}")
        if self.review.min_confidence is None or self.review.min_volume is None:
            raise ValueError("review: set both min_confidence and min_volume")
        return self

    @property
    def teams(self) -> tuple[str, ...]:
        """Every owner team the file names (what Reassign offers)."""
        return tuple(sorted({rule.owner for rule in self.rules} | {self.default.owner}))

    def decide(self, insight: Insight) -> RouteDecision:
        """First matching rule wins; no match is the default route (lower priority)."""
        rule = next((r for r in self.rules if r.match.matches(insight)), None)
        if rule is None:
            owner = insight.suggested_owner or self.default.owner
            return RouteDecision(
                None, owner, self.default.destinations, self._review(insight, None)
            )
        return RouteDecision(rule.name, rule.owner, rule.destinations, self._review(insight, rule))

    def _review(self, insight: Insight, rule: Rule | None) -> str | None:
        override = rule.review if rule and rule.review else ReviewThresholds()
        min_confidence = _first(override.min_confidence, self.review.min_confidence)
        min_volume = _first(override.min_volume, self.review.min_volume)
        if not insight.evidence:
            return "no_evidence: an insight without evidence quotes makes no claim"
        if insight.confidence < min_confidence:
            return f"low_confidence: {insight.confidence:.2f} < {min_confidence:.2f}"
        if insight.volume < min_volume:
            return f"low_volume: {insight.volume} < {min_volume}"
        return None


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    rule: str | None  # None: no rule matched, the default route
    owner: str
    destinations: Destinations
    review_reason: str | None


def load_routing_config(path: Path, theme_ids: tuple[str, ...] | None = None) -> RoutingConfig:
    """Read and validate a routing file; rule themes must exist when ``theme_ids`` is given."""
    raw = read_yaml_mapping(path, "routing rules", "routing rules are a YAML mapping")
    try:
        config = RoutingConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ConfigError(f"{path}: {problems}") from None
    if theme_ids is not None:
        unknown = sorted({t for rule in config.rules for t in rule.match.themes} - set(theme_ids))
        if unknown:
            raise ConfigError(f"{path}: rules name themes the taxonomy lacks: {unknown}")
    return config


@functools.cache
def get_routing_config(config_dir: Path) -> RoutingConfig:
    """``<config_dir>/routing.yaml``, checked against the taxonomy, read once per process."""
    return load_routing_config(
        Path(config_dir) / ROUTING_CONFIG, get_taxonomy(Path(config_dir)).theme_ids
    )
