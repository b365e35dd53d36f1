"""Classification prompts as versioned data: loading, canary choice, message building.

``prompts/classify/<version>/`` holds ``system.md`` (instructions) and ``examples.yaml``
(few-shot answers); ``prompts/classify/manifest.yaml`` names the active version and an
optional candidate with a canary share.

Messages are built for provider-side prompt caching: the system message (instructions,
taxonomy, scales, examples) is byte-identical for every batch of a version, and only the
final user message (the batch of records) changes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.decide.classification import AnsweredRecord
from shared.decide.taxonomy import Taxonomy, get_taxonomy
from shared.errors import ConfigError

PROMPT_NAME = "classify"


class PromptManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    active: str = Field(min_length=1)
    candidate: str | None = None
    canary_percent: int = Field(default=0, ge=0, le=100)
    # The active version also answers the canary slice, so gold_drift can measure how
    # often the two agree (costs that slice's tokens twice; the candidate's answer wins).
    shadow_canary: bool = False
    # Offline (INSIGHTLOOP_LLM_PROVIDER=local) a version is played by a stand-in: the
    # trained text model beside the rules (`trained`) or rules + lexicon only (`rules`).
    offline_stand_ins: dict[str, Literal["trained", "rules"]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _candidate_needs_a_share(self) -> PromptManifest:
        if self.canary_percent and not self.candidate:
            raise ValueError("canary_percent needs a candidate version")
        return self

    def version_for(self, record_id: str) -> str:
        """Active or candidate for this record; deterministic, so replays agree."""
        if not self.candidate or not self.canary_percent:
            return self.active
        bucket = int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) % 100
        return self.candidate if bucket < self.canary_percent else self.active


class FewShotExample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str = Field(min_length=1)
    answer: dict[str, Any]


class PromptVersion(BaseModel):
    """One prompt version, loaded and checked against the taxonomy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    system: str
    examples: tuple[FewShotExample, ...]

    @property
    def label(self) -> str:
        return f"{self.name}/{self.version}"


def load_manifest(folder: Path) -> PromptManifest:
    path = Path(folder) / "manifest.yaml"
    try:
        return PromptManifest.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid prompt manifest: {exc}") from exc


def load_prompt_version(folder: Path, version: str, taxonomy: Taxonomy) -> PromptVersion:
    """Read ``<folder>/<version>/``; every example must be a valid, quotable answer."""
    root = Path(folder) / version
    try:
        system = (root / "system.md").read_text(encoding="utf-8").strip()
        raw = yaml.safe_load((root / "examples.yaml").read_text(encoding="utf-8")) or []
        examples = tuple(FewShotExample.model_validate(item) for item in raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{root}: invalid prompt version: {exc}") from exc
    for example in examples:
        _check_example(example, taxonomy, root)
    return PromptVersion(name=Path(folder).name, version=version, system=system, examples=examples)


def _check_example(example: FewShotExample, taxonomy: Taxonomy, root: Path) -> None:
    """An example that breaks our own guardrails would teach the model to break them."""
    try:
        answer = AnsweredRecord.model_validate({"id": example.id, **example.answer})
    except ValidationError as exc:
        raise ConfigError(f"{root}: example {example.id}: invalid answer: {exc}") from exc
    for theme in answer.themes:
        if theme.theme not in taxonomy.theme_ids:
            raise ConfigError(f"{root}: example {example.id}: unknown theme {theme.theme!r}")
        if theme.evidence not in example.text:
            raise ConfigError(
                f"{root}: example {example.id}: evidence {theme.evidence!r} is not in its text"
            )


@functools.cache
def get_prompt_version(config_dir: Path, version: str) -> PromptVersion:
    """A version of ``<config_dir>/classify``, checked against that folder's taxonomy."""
    return load_prompt_version(Path(config_dir) / PROMPT_NAME, version, get_taxonomy(config_dir))


# ------------------------------------------------------------------ messages


def render_system(prompt: PromptVersion, taxonomy: Taxonomy) -> str:
    """The static part of every request of this version: instructions, taxonomy, examples."""
    lines = [prompt.system, "", f"## Taxonomy (version {taxonomy.version})", ""]
    for theme in taxonomy.themes:
        lines.append(f"- `{theme.id}`: {theme.definition}")
        if theme.examples.positive:
            lines.append(f"  is: {' | '.join(theme.examples.positive)}")
        if theme.examples.negative:
            lines.append(f"  is not: {' | '.join(theme.examples.negative)}")
    lines += ["", "## Sentiment", ""]
    lines += [f"- `{level}`: {text}" for level, text in taxonomy.sentiments.items()]
    lines += ["", "## Urgency", ""]
    lines += [f"- `{level}`: {spec.definition}" for level, spec in taxonomy.urgency.items()]
    lines += ["", "## Examples", ""]
    for example in prompt.examples:
        record = orjson.dumps({"id": example.id, "text": example.text}).decode()
        answer = orjson.dumps({"id": example.id, **example.answer}).decode()
        lines += [f"Record: {record}", f"Answer: {answer}", ""]
    return "\n".join(lines).strip() + "\n"


def render_batch(records: Sequence[tuple[str, str]]) -> str:
    """The per-request part: the records to classify, as JSON Lines of id and text."""
    body = "\n".join(orjson.dumps({"id": rid, "text": text}).decode() for rid, text in records)
    return f"Classify these {len(records)} record(s):\n{body}\n"


def build_messages(
    prompt: PromptVersion, taxonomy: Taxonomy, records: Sequence[tuple[str, str]]
) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": render_system(prompt, taxonomy)},
        {"role": "user", "content": render_batch(records)},
    ]


__all__ = [
    "FewShotExample",
    "PromptManifest",
    "PromptVersion",
    "build_messages",
    "get_prompt_version",
    "load_manifest",
    "load_prompt_version",
    "render_batch",
    "render_system",
]
