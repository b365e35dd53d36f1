"""The feedback taxonomy: themes, sentiment scale and urgency levels, as versioned data.

``prompts/taxonomy.yaml`` is the one place that says what the classifier may claim. The
rules layer compiles its keywords and patterns, the LLM prompt and the JSON schema take
its theme ids as a closed enum, and the guardrails drop any claim outside it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.yaml_config import read_yaml_mapping, validated

Sentiment = Literal["positive", "negative", "neutral", "mixed"]
Urgency = Literal["low", "medium", "high"]
SENTIMENTS: tuple[str, ...] = Sentiment.__args__  # type: ignore[attr-defined]
URGENCIES: tuple[str, ...] = Urgency.__args__  # type: ignore[attr-defined]
FALLBACK_THEME = "other"
_THEME_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Examples(_Section):
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


def _compiled(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return patterns


class Theme(_Section):
    id: str
    definition: str = Field(min_length=1)
    owner: str = Field(min_length=1, description="team a record goes to for this theme")
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    sentiment: Sentiment | None = Field(
        default=None, description="what the theme implies on its own (praise -> positive)"
    )
    examples: Examples = Field(default_factory=Examples)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _THEME_ID.match(value):
            raise ValueError("theme ids are 2-40 lowercase letters, digits and '_'")
        return value

    @field_validator("patterns")
    @classmethod
    def _valid_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _compiled(value)


class UrgencyLevel(_Section):
    definition: str = Field(min_length=1)
    patterns: tuple[str, ...] = ()

    @field_validator("patterns")
    @classmethod
    def _valid_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _compiled(value)


class Taxonomy(_Section):
    """``prompts/taxonomy.yaml``, validated."""

    version: str = Field(min_length=1)
    sentiments: dict[Sentiment, str]
    urgency: dict[Urgency, UrgencyLevel]
    themes: tuple[Theme, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        ids = [theme.id for theme in self.themes]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"theme ids must be unique; repeated: {repeated}")
        if FALLBACK_THEME not in ids:
            raise ValueError(f"the taxonomy needs the fallback theme {FALLBACK_THEME!r}")
        for name, levels in (("sentiments", SENTIMENTS), ("urgency", URGENCIES)):
            missing = sorted(set(levels) - set(getattr(self, name)))
            if missing:
                raise ValueError(f"{name}: define every level; missing {missing}")
        return self

    @property
    def theme_ids(self) -> tuple[str, ...]:
        return tuple(theme.id for theme in self.themes)

    def theme(self, theme_id: str) -> Theme:
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        raise KeyError(theme_id)


def load_taxonomy(path: Path) -> Taxonomy:
    raw = read_yaml_mapping(path, "taxonomy", "a taxonomy is a YAML mapping")
    return validated(Taxonomy, raw, path, "taxonomy")


@functools.cache
def get_taxonomy(config_dir: Path) -> Taxonomy:
    """``<config_dir>/taxonomy.yaml``, read once per process."""
    return load_taxonomy(Path(config_dir) / "taxonomy.yaml")


__all__ = [
    "FALLBACK_THEME",
    "SENTIMENTS",
    "URGENCIES",
    "Sentiment",
    "Taxonomy",
    "Theme",
    "Urgency",
    "get_taxonomy",
    "load_taxonomy",
]
