"""The masking configuration, ``prompts/pii.yaml``: pydantic models and their loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.errors import ConfigError

# Language key of the pattern-only pipeline (a blank multi-language tokenizer, no NER).
PATTERNS_ONLY = "xx"
NER_ENTITIES = frozenset({"PERSON", "LOCATION"})


class PatternSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    regex: str
    score: float = Field(ge=0, le=1)


class RecognizerSpec(BaseModel):
    """A pattern recognizer of the config: regexes (case-insensitive) plus context words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    patterns: tuple[PatternSpec, ...] = Field(min_length=1)
    context: tuple[str, ...] = ()
    case_sensitive: bool = False
    # Skip texts with fewer digits: no regex of this recognizer can match them (a speed-up).
    min_digits: int = Field(default=0, ge=0)
    # Only for these language keys (ISO 639-1 codes, "xx" = languages without a model).
    languages: tuple[str, ...] | None = None


class ModelSpec(BaseModel):
    """A spaCy pipeline for one language: an installed package or a model folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str | None = None
    path: Path | None = None
    components: tuple[str, ...] = ("ner",)

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.package is None) == (self.path is None):
            raise ValueError("give exactly one of `package` (installed) or `path` (model folder)")
        return self


class NerEntitySpec(BaseModel):
    """How much a NER hit of one type counts, and which nearby words confirm it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float = Field(default=0.85, ge=0, le=1)
    context: tuple[str, ...] = ()


class NerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_to_presidio_entity_mapping: dict[str, str]
    labels_to_ignore: tuple[str, ...] = ()
    entities: dict[str, NerEntitySpec] = Field(default_factory=dict)
    # Words a name never follows ("the Echo Dot", "my Firestick" are products, not people).
    not_after: tuple[str, ...] = ()
    # The sm model labels many foreign names ORG ("Miklós Hajdu"): take an ORG of two or three
    # capitalised words as a person unless one of `org_words` ("Bank", "Inc") is in it.
    person_shaped_orgs: bool = False
    org_words: tuple[str, ...] = ()
    # Greetings and titles the model includes in a name ("Dear Sophie Lang"): cut off.
    strip_leading: tuple[str, ...] = ()

    def spec(self, entity: str) -> NerEntitySpec:
        return self.entities.get(entity) or NerEntitySpec()


class ContextSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words_before: int = Field(default=5, ge=0, le=20)
    words_after: int = Field(default=0, ge=0, le=20)
    boost: float = Field(default=0.35, ge=0, le=1)
    min_score_with_context: float = Field(default=0.4, ge=0, le=1)
    whole_word: bool = True


class PhoneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    regions: tuple[str, ...] = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")
    leniency: int = Field(default=1, ge=0, le=3)
    context: tuple[str, ...] = ()


class StreetAddressSpec(BaseModel):
    """Word lists the street-address patterns are assembled from (see addresses.street_patterns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float = Field(default=0.6, ge=0, le=1)
    weak_score: float = Field(default=0.3, ge=0, le=1)
    street_types: tuple[str, ...] = Field(min_length=1)
    # Types that are also ordinary words ("Lights", "Station"): an address only with a unit,
    # a postal block or a line end after them, or an address word near.
    loose_street_types: tuple[str, ...] = ()
    # Types that make a street name without a house number after "on"/"at" ("on Elm Street").
    named_street_types: tuple[str, ...] = ()
    prefix_types: tuple[str, ...] = ()
    street_suffixes: tuple[str, ...] = ()
    unit_words: tuple[str, ...] = ()
    units_before_street: tuple[str, ...] = ()  # "Suite 541 6343 Skogstien 106"
    name_particles: tuple[str, ...] = ()
    stop_words: tuple[str, ...] = ()
    context: tuple[str, ...] = ()


class NamesSpec(BaseModel):
    """Names found by gazetteer and context (shared/enrich/masking/names.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Folder with given_names.txt, surnames.txt, not_names.txt; relative to the config file.
    gazetteer: Path
    score: float = Field(default=0.7, ge=0, le=1)
    # Language keys where a run of known names needs no cue ("Maria Silva"); elsewhere NER.
    title_case_runs: tuple[str, ...] = ("xx",)
    # Language keys where a lone title-case given name that is no common English word is a
    # name ("Tomomi is from", "Enrico shouted"), unless one of `not_before_lone_names` precedes.
    lone_given_names: tuple[str, ...] = ()
    not_before_lone_names: tuple[str, ...] = ()
    # preposition -> words before it that make it lead to a place ("a cab to Chelsea");
    # kept as pairs so the spec stays hashable (one name finder per spec).
    place_words_before: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @field_validator("place_words_before", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        return tuple(value.items()) if isinstance(value, dict) else value

    # NER persons must hold a known name or follow a cue ("Still Broken." is not a person).
    vet_ner: bool = True
    # Run NER only on texts with a capitalised word mid-sentence or a known name anywhere:
    # a text of lower-case words and sentence-initial ordinary words has no name NER finds.
    ner_gate: bool = True
    # Language keys whose NER persons need a known name or a cue (no common-word list there).
    vet_strict: tuple[str, ...] = ()
    # Cues before a name, compared word by word, lower-cased.
    introductions: tuple[str, ...] = ()  # any word after them is a name, even lower-case
    weak_introductions: tuple[str, ...] = ()  # only a known name after them ("ich bin Jana")
    greetings: tuple[str, ...] = ()
    asks: tuple[str, ...] = ()
    sign_offs: tuple[str, ...] = ()
    particles: tuple[str, ...] = ()
    not_names: tuple[str, ...] = ()
    # Names by the shape of the text (name_shapes.py), in these language keys only (the
    # common-word list that tells "Monjeau" from "Still" is English).
    shape_languages: tuple[str, ...] = ()
    # In a text without capitals (English), names of this best rank or better count as
    # capitalised ("eva kleist lives at ...", "leave me nina").
    lower_case_text_rank: int = Field(default=500, ge=0)
    title_introductions: tuple[str, ...] = ()  # a name-like run after them ("was called X")
    work_nouns: tuple[str, ...] = ()  # "the Jensen novel": its maker
    person_verbs: tuple[str, ...] = ()  # "Scott had given ...", "eva kleist lives at"


class PiiConfig(BaseModel):
    """``prompts/pii.yaml``: what to mask and with which models and recognizers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal["1"] = "1"
    entities: tuple[str, ...] = Field(min_length=1)
    default_language: str | None = "en"
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    score_threshold: float = Field(default=0.4, ge=0, le=1)
    batch_size: int = Field(default=512, ge=1, le=10_000)
    ner: NerSpec
    context: ContextSpec = ContextSpec()
    phone: PhoneSpec = PhoneSpec()
    street_address: StreetAddressSpec | None = None
    names: NamesSpec | None = None
    allow_list: tuple[str, ...] = ()
    # Types whose found values are masked wherever else they occur in the same record.
    repeat_within_record: tuple[str, ...] = ("PERSON",)
    # "Kónya, Becker and Vasquez": one member found as a person makes the others persons too.
    extend_name_lists: bool = True
    recognizers: tuple[RecognizerSpec, ...] = ()

    @field_validator("models")
    @classmethod
    def _iso_codes(cls, value: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        bad = [code for code in value if len(code) != 2 or not code.isalpha() or code == "xx"]
        if bad:
            raise ValueError(f"model languages are ISO 639-1 codes; got {bad}")
        return {code.lower(): spec for code, spec in value.items()}

    @model_validator(mode="after")
    def _entities_have_recognizers(self) -> PiiConfig:
        known = set(BUILTIN_ENTITIES) | {spec.entity for spec in self.recognizers}
        unknown = sorted(set(self.entities) - known)
        if unknown:
            raise ValueError(f"no recognizer for entities {unknown}; known: {sorted(known)}")
        if "STREET_ADDRESS" in self.entities and self.street_address is None:
            raise ValueError("STREET_ADDRESS needs the `street_address` section")
        return self


def load_pii_config(path: Path) -> PiiConfig:
    """Read and validate ``pii.yaml``; any problem is a ConfigError naming the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read PII config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the PII config is a YAML mapping")
    try:
        config = PiiConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid PII config:\n{exc}") from exc
    if config.names is not None and not config.names.gazetteer.is_absolute():
        names = config.names.model_copy(
            update={"gazetteer": Path(path).parent / config.names.gazetteer}
        )
        config = config.model_copy(update={"names": names})
    return config


BUILTIN_ENTITIES = (
    "PERSON",
    "LOCATION",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "STREET_ADDRESS",
)
