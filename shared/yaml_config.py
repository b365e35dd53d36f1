"""The YAML files under prompts/ (sources, quality, taxonomy, routing): read, then validated.

Every stage reads one; any problem is a ConfigError naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shared.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def read_yaml_mapping(path: Path, what: str, shape: str) -> dict[str, Any]:
    """The file's top-level mapping (empty file: {}); ``what`` names it, ``shape`` says the rule."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {shape}")
    return raw


def validated(model: type[Model], raw: dict[str, Any], path: Path, what: str) -> Model:
    """``raw`` as ``model``; a ValidationError becomes a ConfigError naming the file."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid {what}:\n{exc}") from exc
