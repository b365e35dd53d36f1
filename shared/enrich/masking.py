"""PII masking with Presidio: typed placeholders, numbered consistently within a record.

``Maria called from 0176 1234567, then Maria wrote to maria@x.de`` becomes
``<PERSON_1> called from <PHONE_NUMBER_1>, then <PERSON_1> wrote to <EMAIL_ADDRESS_1>``.
Numbering is per group (the fields of one record: text, title, free-text metadata), so the
same value gets the same placeholder in every field of that record and nowhere else. The
value -> placeholder map lives only while a group is masked; nothing reversible is kept.

What is found, and how (the configuration is ``prompts/pii.yaml``, see docs/pii.md):

* Pattern recognizers run on every language: Presidio's email (domain checked against the
  bundled public-suffix snapshot, never downloaded), URL, phone (python-phonenumbers over
  the configured regions), credit card (Luhn), IBAN (checksum), IP, US SSN; a street
  address recognizer written here (Presidio has none) whose patterns are assembled from the
  word lists in the config; and the config's own recognizers (order, ticket, customer ids,
  postal codes, loose phone formats, name cues).
* NER (PERSON, LOCATION) runs only on languages with a configured spaCy model, loaded from
  its folder on disk: for a ``package`` the versioned model folder (with ``config.cfg``)
  inside the installed package. Only the components NER needs run.
* Context words: a recognizer's weak matches (score below ``score_threshold``) count only
  when one of its context words is among the words just before the match. Lemmas are the
  lower-cased tokens (the lemmatizer is not run), and Presidio matches context words as
  substrings, so ``call`` also covers ``called`` and ``calling``.

Batching: :meth:`PiiMasker.mask_groups` runs ``nlp.pipe`` over all texts of a language at
once and feeds each ``Doc`` to ``AnalyzerEngine.analyze(..., nlp_artifacts=...)``.
Overlapping results are merged (the wider span names the type) before placeholders are
assigned, so the reported entities are exactly what was replaced.

Nothing happens at import time: Presidio and spaCy are imported, and the models loaded,
on the first call (a few seconds), once per masker; :func:`get_masker` caches the masker
per config file. Text is never logged, and Presidio's own log records (which quote text,
e.g. an IBAN that failed validation) lose their arguments before they reach a handler.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.errors import ConfigError, PermanentInputError, PiiMaskingError
from shared.jsonl import json_objects

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpEngine
    from presidio_anonymizer import AnonymizerEngine
    from spacy.language import Language
    from spacy.tokens import Doc, Span

logger = logging.getLogger(__name__)

# Language key of the pattern-only pipeline (a blank multi-language tokenizer, no NER).
PATTERNS_ONLY = "xx"
NER_ENTITIES = frozenset({"PERSON", "LOCATION"})
# Entities whose value is compared digits-and-letters only: "+1 555 0100" == "1-555-0100".
_COMPACT_TYPES = frozenset(
    {"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "ORDER_ID", "TICKET_ID", "CUSTOMER_ID"}
)
_PRESIDIO_LOGGERS = ("presidio-analyzer", "presidio-anonymizer")


@dataclass(frozen=True, slots=True)
class FoundEntity:
    """One masked span; offsets refer to the ORIGINAL text of ``field``."""

    field: str
    entity_type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class MaskedGroup:
    """The masked fields of one record (None/empty fields pass through) and what was masked."""

    fields: dict[str, str | None]
    entities: list[FoundEntity]


# ------------------------------------------------------------------ config


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
    """Word lists the street-address patterns are assembled from (see _street_patterns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float = Field(default=0.6, ge=0, le=1)
    weak_score: float = Field(default=0.3, ge=0, le=1)
    street_types: tuple[str, ...] = Field(min_length=1)
    prefix_types: tuple[str, ...] = ()
    street_suffixes: tuple[str, ...] = ()
    unit_words: tuple[str, ...] = ()
    name_particles: tuple[str, ...] = ()
    stop_words: tuple[str, ...] = ()
    context: tuple[str, ...] = ()


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
        known = set(_BUILTIN_ENTITIES) | {spec.entity for spec in self.recognizers}
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
        return PiiConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid PII config:\n{exc}") from exc


# ------------------------------------------------------------------ models


def model_dir(package: str) -> Path:
    """The folder of the spaCy model inside an installed package (the one with config.cfg)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"spaCy model package {package!r} is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    if (root / "config.cfg").is_file():
        return root
    found = sorted(path.parent for path in root.glob("*/config.cfg"))
    if not found:
        raise ConfigError(f"package {package!r} holds no spaCy model folder (no */config.cfg)")
    return found[-1]  # a package ships one versioned folder; the newest wins if several


def _load_pipeline(spec: ModelSpec) -> Language:
    """Load a model from disk and keep only the components NER needs (and what they listen to)."""
    import spacy

    path = spec.path if spec.path is not None else model_dir(spec.package or "")
    try:
        nlp = spacy.load(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load spaCy model from {path}: {exc}") from exc
    missing = sorted(set(spec.components) - set(nlp.pipe_names))
    if missing:
        raise ConfigError(f"spaCy model {path} has no component(s) {missing}")
    keep = set(spec.components)
    for name, component in nlp.pipeline:
        # A shared tok2vec/transformer must run when a kept component listens to it.
        if keep & set(getattr(component, "listening_components", ())):
            keep.add(name)
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in keep])
    return nlp


# ------------------------------------------------------------------ recognizers

_BUILTIN_ENTITIES = (
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

# Fewest digits a text needs for a built-in recognizer to match at all (skips it otherwise).
_MIN_DIGITS = {
    "PHONE_NUMBER": 7,
    "CREDIT_CARD": 12,
    "IBAN_CODE": 2,
    "US_SSN": 9,
    "STREET_ADDRESS": 1,
}


# 12-19 digits that start like a card (issuer ranges 2-6, JCB 1800); Luhn decides.
_CARD_DIGITS = r"(?<![\d-])(?:[2-6]|1800)(?:[ -]?\d){11,18}(?![\d-])"


def _alternation(words: Iterable[str]) -> str:
    import regex

    ordered = sorted({word for word in words if word}, key=len, reverse=True)
    return "|".join(regex.escape(word) for word in ordered)


def _street_patterns(spec: StreetAddressSpec) -> list[tuple[str, str, float]]:
    """(name, regex, score) for street addresses; case-sensitive except inside ``(?i:)``."""
    word = r"[^\W\d_][\w'’\-]*\.?"  # any script; may end in an abbreviation dot
    cap = r"\p{Lu}[\w'’\-]*\.?"
    stop = _alternation(spec.stop_words)
    free = rf"(?!(?i:{stop})(?!\w)){word}" if stop else word
    particles = _alternation(spec.name_particles)
    name = rf"(?:{cap}|(?:{particles})(?!\w))" if particles else cap
    num = r"\d{1,6}[A-Za-z]?(?:[/-]\d{1,4}[A-Za-z]?)?"
    nums = rf"{num}(?:[ \t]+{num})?"  # "1987 74 Diakou Street": a building number first
    gap = r"[ \t]+"
    end = r"(?!\w)\.?"
    types = _alternation(spec.street_types)
    cap_types = _alternation(
        [
            *spec.street_types,
            *(w.upper() for w in spec.street_types),
            *(w.title() for w in spec.street_types),
        ]
    )
    house = rf"(?:,?{gap}{num}{end})?"  # "Passauer Strasse 33" after the type too
    prefixes = _alternation(spec.prefix_types)
    suffixes = _alternation(spec.street_suffixes)
    units = _alternation(spec.unit_words)
    unit = rf"(?:(?i:{units})\.?[ \t]*#?[ \t]*\d{{1,5}}[A-Za-z]?)" if units else r"(?!)"
    zip_code = r"\d{3,6}(?:-\d{3,4})?"
    locality = (
        rf"(?:{cap}(?:[ \t]+{name}){{0,3}}(?:[ \t]*,?[ \t]*{zip_code})?"
        rf"|{zip_code}(?:[ \t]+{cap}(?:[ \t]+{cap}){{0,2}})?|\p{{Lu}}{{2}}[ \t]+{zip_code})"
    )
    part = r"[ \t]*(?:,|\n)[\s,>]*"  # the next part of a postal block: comma or (quoted) line
    # Apartments, the town after them, then up to four ", City" / "STATE 12345" parts.
    tail = (
        rf"(?:(?:{part}|{gap}){unit}){{0,2}}(?:(?<={unit}){gap}{cap}(?:{gap}{cap}){{0,2}})?"
        rf"(?:{part}{locality}){{0,4}}"
    )
    lead = rf"(?:{unit}[ \t,]+)?"
    corner_street = rf"(?:{free}|{num})(?:{gap}(?:{free}|{num})){{0,5}}"
    patterns: list[tuple[str, str, float]] = [
        (
            "number, street, type",
            rf"\b{lead}{nums},?{gap}(?:{name}{gap}){{1,4}}(?:{cap_types}){end}{house}{tail}",
            spec.score,
        ),
        (
            "street, type, number",
            rf"\b{lead}(?:{name}{gap}){{1,4}}(?:{cap_types}){end},?{gap}{num}{end}{tail}",
            spec.score,
        ),
        (
            "number, street, type (any case)",
            rf"\b{lead}{nums},?{gap}(?:{free}{gap}){{1,4}}(?i:{types}){end}{tail}",
            spec.weak_score,
        ),
        (
            "PO box, military and ship addresses",
            rf"\b{lead}(?:{nums}{gap})?(?:(?i:p\.?[ \t]?o\.?[ \t]?box)[ \t]*\d{{1,6}}"
            r"|(?:PSC|CMR|Unit)[ \t]+\d{1,5},?[ \t]+Box[ \t]+\d{1,5}"
            r"|(?i:USNS|USNV|USS|USCGC)[ \t]+[^\W\d_]+)"
            r"(?:\s*(?i:APO|FPO|DPO)[ \t]+(?i:AA|AE|AP)[ \t]+\d{5})?" + tail,
            spec.score,
        ),
        (
            "corner of two streets",
            rf"(?i:\bthe[ \t]+)?(?i:corner[ \t]+of)[ \t]+{corner_street}[ \t]+(?i:and|&)[ \t]+"
            + corner_street,
            spec.score,
        ),
        (
            "number, words, number line",
            rf"(?m)^[ \t>]*\K{lead}{num}{gap}(?:{name}{gap}){{1,3}}{num}{end}{tail}",
            spec.score,
        ),
        (
            "number, words, number",
            rf"\b{lead}{num}{gap}(?:{free}{gap}){{1,3}}{num}{end}{tail}",
            spec.weak_score,
        ),
        ("words, number", rf"\b(?:{name}{gap}){{1,3}}{num}{end}{tail}", spec.weak_score),
        ("unit", rf"\b{unit}(?!\w)", spec.weak_score),
    ]
    if prefixes:
        prefix = rf"(?:{prefixes}){end}(?:{gap}{name}){{1,5}}"
        house_after = rf"{gap}{num}{end}"  # "Via Roma 10"; ", 75002" is a postal code
        patterns.append(
            (
                "type, street and a number before or after",
                rf"\b{lead}(?:{nums},?{gap}{prefix}(?:{house_after})?|{prefix}{house_after}){tail}",
                spec.score,
            )
        )
    if suffixes:
        glued = rf"[^\W\d_][\w'’\-]*(?<=(?i:{suffixes}))(?!\w)"  # a word ending in a suffix
        patterns.append(
            (
                "street-suffix, number",
                rf"\b{lead}(?:{nums}{gap})?(?:{name}{gap}){{0,2}}{glued},?{gap}{num}{end}{tail}",
                spec.score,
            )
        )
    return patterns


def _recognizers(config: PiiConfig, language: str, has_ner: bool) -> list[EntityRecognizer]:
    """The recognizers for one language key (all patterns; NER only if the language has it)."""
    import regex
    import tldextract
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsSsnRecognizer,
    )

    # The bundled public-suffix snapshot: no cache dir, no URL, so no download ever.
    offline_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's email recognizer, with its domain check made offline."""

        def validate_result(self, pattern_text: str) -> bool:
            return offline_extract(pattern_text).fqdn != ""

    wanted = set(config.entities)
    found: list[EntityRecognizer] = []
    for entity in sorted(wanted & NER_ENTITIES) if has_ner else ():
        # One recognizer per NER type, so each has its own context words.
        found.append(
            SpacyRecognizer(
                supported_language=language,
                supported_entities=[entity],
                ner_strength=config.ner.spec(entity).score,
                context=list(config.ner.spec(entity).context) or None,
                name=f"SpacyRecognizer_{entity}",
            )
        )
    builtins: dict[str, Any] = {
        "EMAIL_ADDRESS": lambda: OfflineEmailRecognizer(supported_language=language),
        "PHONE_NUMBER": lambda: PhoneRecognizer(
            supported_language=language,
            supported_regions=config.phone.regions,
            leniency=config.phone.leniency,
            context=list(config.phone.context) or None,
        ),
        "CREDIT_CARD": lambda: CreditCardRecognizer(
            supported_language=language,
            # Presidio's pattern misses 12- and 19-digit cards and the 2-series; Luhn still decides.
            patterns=[*CreditCardRecognizer.PATTERNS, Pattern("12-19 digits", _CARD_DIGITS, 0.3)],
        ),
        "IBAN_CODE": lambda: IbanRecognizer(
            supported_language=language,
            regex_flags=regex.DOTALL | regex.MULTILINE | regex.IGNORECASE,  # "my iban is gb42..."
        ),
        "IP_ADDRESS": lambda: IpRecognizer(supported_language=language),
        "US_SSN": lambda: UsSsnRecognizer(supported_language=language),
    }
    for entity, build in builtins.items():
        if entity in wanted:
            found.append(build())
    street = config.street_address
    if street is not None and "STREET_ADDRESS" in wanted:
        found.append(
            PatternRecognizer(
                supported_entity="STREET_ADDRESS",
                name="StreetAddressRecognizer",
                supported_language=language,
                patterns=[Pattern(n, rx, s) for n, rx, s in _street_patterns(street)],
                context=list(street.context),
                global_regex_flags=regex.MULTILINE,  # capitals matter here
            )
        )
    for spec in config.recognizers:
        if spec.entity not in wanted or (spec.languages and language not in spec.languages):
            continue
        flags = regex.DOTALL | regex.MULTILINE
        found.append(
            PatternRecognizer(
                supported_entity=spec.entity,
                name=spec.name,
                supported_language=language,
                patterns=[Pattern(p.name, p.regex, p.score) for p in spec.patterns],
                context=list(spec.context),
                global_regex_flags=flags if spec.case_sensitive else flags | regex.IGNORECASE,
            )
        )
    return found


# ------------------------------------------------------------------ engine


class _WithholdArguments(logging.Filter):
    """Presidio quotes text in some records (IBAN validation errors, context words)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg, record.args = f"{record.msg} (arguments withheld)", ()
        return record.levelno >= logging.WARNING


def _silence_presidio_text() -> None:
    for name in _PRESIDIO_LOGGERS:
        presidio_logger = logging.getLogger(name)
        if not any(isinstance(f, _WithholdArguments) for f in presidio_logger.filters):
            presidio_logger.addFilter(_WithholdArguments())


@dataclass(slots=True)
class _Engine:
    analyzer: AnalyzerEngine
    anonymizer: AnonymizerEngine
    nlp_engine: NlpEngine
    pipelines: dict[str, Language]
    entities: dict[str, tuple[str, ...]]  # language key -> entities with a recognizer there
    min_digits: dict[str, int]  # entity -> digits a text needs before its recognizers run


def _build_engine(config: PiiConfig) -> _Engine:
    import spacy
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_anonymizer import AnonymizerEngine

    class BisectContextEnhancer(LemmaContextAwareEnhancer):
        """Presidio's context enhancer; finds a match's token by bisection, not a scan.

        Presidio scans every token for every match: quadratic on a 20,000-character ticket.
        """

        @staticmethod
        def _find_index_of_match_token(
            word: str, start: int, tokens: Doc, tokens_indices: list[int]
        ) -> int:
            index = max(bisect.bisect_right(tokens_indices, start) - 1, 0)
            if tokens_indices[index] + len(tokens[index]) <= start < tokens_indices[-1]:
                index += 1  # the match starts in the whitespace after this token
            return index

    _silence_presidio_text()
    started = time.perf_counter()
    pipelines: dict[str, Language] = {
        code: _load_pipeline(spec) for code, spec in config.models.items()
    }
    pipelines[PATTERNS_ONLY] = spacy.blank(PATTERNS_ONLY)
    ner_config = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(config.ner.model_to_presidio_entity_mapping),
        labels_to_ignore=list(config.ner.labels_to_ignore),
    )
    nlp_engine = SpacyNlpEngine(
        models=[{"lang_code": code, "model_name": code} for code in pipelines],
        ner_model_configuration=ner_config,
    )
    nlp_engine.nlp = pipelines  # loaded above from disk; SpacyNlpEngine.load would download
    registry = RecognizerRegistry(supported_languages=list(pipelines))
    entities: dict[str, tuple[str, ...]] = {}
    for code in pipelines:
        recognizers = _recognizers(config, code, has_ner=code != PATTERNS_ONLY)
        for recognizer in recognizers:
            registry.add_recognizer(recognizer)
        supported = {e for r in recognizers for e in r.supported_entities}
        entities[code] = tuple(e for e in config.entities if e in supported)
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=list(pipelines),
        default_score_threshold=config.score_threshold,
        context_aware_enhancer=BisectContextEnhancer(
            context_similarity_factor=config.context.boost,
            min_score_with_context_similarity=config.context.min_score_with_context,
            context_prefix_count=config.context.words_before,
            context_suffix_count=config.context.words_after,
            context_matching_mode="whole_word" if config.context.whole_word else "substring",
        ),
    )
    for recognizer in registry.recognizers:
        if isinstance(recognizer, PatternRecognizer):
            # Presidio compiles a pattern on first use: pay that here, not in the first batch.
            recognizer.analyze("warm up 12345", recognizer.supported_entities)
    min_digits = dict(_MIN_DIGITS)
    for spec in config.recognizers:
        # An entity is skipped only when every recognizer of it needs more digits.
        min_digits[spec.entity] = min(min_digits.get(spec.entity, spec.min_digits), spec.min_digits)
    logger.info(
        "PII engine ready in %.1f s: NER languages %s, %d entities",
        time.perf_counter() - started,
        ",".join(config.models) or "none",
        len(config.entities),
    )
    return _Engine(analyzer, AnonymizerEngine(), nlp_engine, pipelines, entities, min_digits)


def _may_match(entity: str, text: str, digits: int, min_digits: Mapping[str, int]) -> bool:
    """Cheap necessary conditions: when False, no recognizer of ``entity`` can match ``text``."""
    if entity == "EMAIL_ADDRESS":
        return "@" in text
    if entity == "IP_ADDRESS":
        return digits >= 4 or ":" in text  # IPv4 has four digits, IPv6 a colon
    if entity == "STREET_ADDRESS" and not digits:
        return "corner" in text.lower()  # "the corner of Oak Street and Main Street"
    if entity == "PHONE_NUMBER" and digits >= 7:
        # phonenumbers costs ~1 ms per region on a text with digits: only where 7 digits
        # stand close together, as in every phone number (dates and prices pass too).
        return _phone_candidate().search(text) is not None
    return digits >= min_digits.get(entity, 0)


@functools.cache
def _phone_candidate() -> Any:
    import regex

    return regex.compile(r"\d(?:\W{0,3}\d){6}")


# ------------------------------------------------------------------ masker


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    entity_type: str
    score: float
    confirmed: bool = False  # a context word supported it (wins ties of equal width)


class PiiMasker:
    """Masks PII in groups of fields; engines are built on first use and then reused."""

    def __init__(self, config: PiiConfig) -> None:
        self.config = config
        self._engine: _Engine | None = None
        self._lock = threading.Lock()
        self._analysis_lock = threading.Lock()
        self._allow = frozenset(config.allow_list)
        self._not_after = frozenset(word.lower() for word in config.ner.not_after)
        self._org_words = frozenset(word.lower() for word in config.ner.org_words)
        self._strip_leading = frozenset(word.lower() for word in config.ner.strip_leading)
        self._context_words = frozenset(
            word.lower()
            for words in (
                *(spec.context for spec in config.recognizers),
                *(spec.context for spec in config.ner.entities.values()),
                config.phone.context,
                config.street_address.context if config.street_address else (),
            )
            for word in words
        )

    def engine(self) -> _Engine:
        """The Presidio engines and spaCy pipelines, built once (thread-safe)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = _build_engine(self.config)
        return self._engine

    def language_key(self, language: str | None) -> str:
        """The pipeline a text runs through: its model's language, else patterns only."""
        if language is None:
            language = self.config.default_language
        if not language:
            return PATTERNS_ONLY
        code = language.strip().lower().replace("_", "-").split("-")[0]
        return code if code in self.config.models else PATTERNS_ONLY

    def mask_text(self, text: str, language: str | None = None) -> MaskedGroup:
        """Mask one text (field name ``text``)."""
        return self.mask_groups([{"text": text}], [language])[0]

    def mask_groups(
        self,
        groups: Sequence[Mapping[str, str | None]],
        languages: Sequence[str | None] | None = None,
    ) -> list[MaskedGroup]:
        """Mask each group's fields; placeholders are numbered per group across its fields."""
        if languages is not None and len(languages) != len(groups):
            raise ValueError(f"{len(languages)} languages for {len(groups)} groups")
        by_language: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for index, group in enumerate(groups):
            key = self.language_key(languages[index] if languages is not None else None)
            for name, value in group.items():
                if value is not None and not isinstance(value, str):
                    raise TypeError(f"field {name!r} is {type(value).__name__}, not str")
                if value and not value.isspace():
                    by_language[key].append((index, name, value))
        found: dict[tuple[int, str], list[_Span]] = {}
        if by_language:
            engine = self.engine()
            for key, items in by_language.items():
                spans = self._analyze(engine, key, [text for _, _, text in items])
                for (index, name, _), field_spans in zip(items, spans, strict=True):
                    found[(index, name)] = field_spans
        return [
            self._mask_group(group, index, found, self._engine)
            for index, group in enumerate(groups)
        ]

    # -------------------------------------------------------------- analysis

    def _analyze(self, engine: _Engine, key: str, texts: list[str]) -> list[list[_Span]]:
        nlp = engine.pipelines[key]
        out: list[list[_Span]] = []
        try:
            # The memory zone frees the strings spaCy interned from these texts (their PII
            # would otherwise stay in the vocabulary, growing it); spaCy is not thread-safe.
            with self._analysis_lock, nlp.memory_zone():
                for doc in nlp.pipe(texts, batch_size=self.config.batch_size):
                    out.append(self._analyze_doc(engine, key, doc))
        except PiiMaskingError:
            raise
        except Exception as exc:
            # The cause is dropped on purpose: Presidio's messages can quote the text.
            raise PiiMaskingError(
                f"PII analysis failed in the {key!r} pipeline ({type(exc).__name__})"
            ) from None
        return out

    def _analyze_doc(self, engine: _Engine, key: str, doc: Doc) -> list[_Span]:
        from presidio_analyzer.nlp_engine import NlpArtifacts

        text = doc.text
        digits = sum(char.isdigit() for char in text)
        entities = [
            e for e in engine.entities[key] if _may_match(e, text, digits, engine.min_digits)
        ]
        if not entities:
            return []
        ents = self._ner_spans(doc) if key != PATTERNS_ONLY else []
        scores = [self.config.ner.spec(ent.label_).score for ent in ents]
        artifacts = NlpArtifacts(
            entities=ents,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc],  # the lemmatizer does not run
            nlp_engine=engine.nlp_engine,
            language=key,
            scores=scores,
        )
        # Only tested for membership; spaCy counts "call" and "move" as stop words, which would
        # keep them out of the context window even where the config names them.
        artifacts.keywords = frozenset(artifacts.keywords).union(
            self._context_words.intersection(artifacts.lemmas)
        )
        results = engine.analyzer.analyze(
            text,
            language=key,
            entities=entities,
            nlp_artifacts=artifacts,
            return_decision_process=True,  # keeps the context word that confirmed a match
        )
        return self._resolve(text, results)

    def _ner_spans(self, doc: Doc) -> list[Span]:
        """The model's entities as Presidio types, cleaned of what names and places never are."""
        from spacy.tokens import Span

        ner = self.config.ner
        not_after = self._not_after
        spans: list[Span] = []
        for ent in doc.ents:
            start, end = ent.start, ent.end
            while start < end and doc[start].lower_.rstrip(".") in self._strip_leading:
                start += 1  # "Dear Sophie Lang", "Mr. Smith": the greeting is not the name
            after_determiner = start < end and doc[start].lower_ in not_after
            while start < end and doc[start].lower_ in not_after:
                start += 1  # "the Echo Plus": the determiner is not part of a name
            while end > start and (doc[end - 1].is_punct or doc[end - 1].lower_ in ("'s", "’s")):
                end -= 1
            if start == end:
                continue
            text = doc[start:end].text
            label = ner.model_to_presidio_entity_mapping.get(ent.label_, ent.label_)
            if label == "ORGANIZATION" and self._is_person_shaped(text):
                label = "PERSON"
            elif ent.label_ in ner.labels_to_ignore or label in ner.labels_to_ignore:
                continue
            if any(char.isdigit() or char in "@/\\" for char in text):
                continue  # names and places carry no digits, @ or slashes
            if text.islower() and (end - start < 2 or any(t.is_stop for t in doc[start:end])):
                continue  # one lower-case word ("gras") or a phrase ("food items not") is noise
            if label == "PERSON" and (
                after_determiner or (start > 0 and doc[start - 1].lower_ in not_after)
            ):
                continue  # names take no determiner: "my Echo Dot", "the Firestick"
            spans.append(Span(doc, start, end, label=label))
        return spans

    def _is_person_shaped(self, text: str) -> bool:
        if not self.config.ner.person_shaped_orgs or not _person_shape().fullmatch(text):
            return False
        return not any(word.strip(".,").lower() in self._org_words for word in text.split())

    def _resolve(self, text: str, results: Iterable[RecognizerResult]) -> list[_Span]:
        """Trim whitespace, drop allowed values, merge overlaps."""
        spans: list[_Span] = []
        for result in results:
            start, end = result.start, result.end
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start and text[start:end] not in self._allow:
                explanation = result.analysis_explanation
                confirmed = bool(explanation and explanation.supportive_context_word)
                spans.append(_Span(start, end, result.entity_type, float(result.score), confirmed))
        return _merge(spans)

    def _repeat_within_group(self, texts: Mapping[str, str], spans: dict[str, list[_Span]]) -> None:
        """Mask every other mention of a found name in the group's fields (NER misses repeats)."""
        repeat = set(self.config.repeat_within_record)
        values: dict[str, tuple[str, float]] = {}
        for name, field_spans in spans.items():
            for span in field_spans:
                if span.entity_type not in repeat:
                    continue
                value = texts[name][span.start : span.end]
                values.setdefault(value, (span.entity_type, span.score))
                for part in value.split():
                    # "Maciej Borkowski" ... "starring Borkowski"; initials and particles not.
                    if (
                        len(part) >= 3
                        and part[0].isupper()
                        and part.isalpha()
                        and (part not in self._allow)
                    ):
                        values.setdefault(part, (span.entity_type, span.score))
        if not values:
            return
        import regex

        alternatives = "|".join(regex.escape(v) for v in sorted(values, key=len, reverse=True))
        pattern = regex.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        for name, text in texts.items():
            extra = [
                _Span(match.start(), match.end(), *values[match.group()])
                for match in pattern.finditer(text)
            ]
            if extra:
                spans[name] = _merge([*spans.get(name, []), *extra])

    # -------------------------------------------------------------- masking

    def _mask_group(
        self,
        group: Mapping[str, str | None],
        index: int,
        found: dict[tuple[int, str], list[_Span]],
        engine: _Engine | None,
    ) -> MaskedGroup:
        numbers: dict[tuple[str, str], str] = {}
        counters: dict[str, int] = defaultdict(int)
        fields: dict[str, str | None] = {}
        entities: list[FoundEntity] = []
        texts = {name: value for name, value in group.items() if value and not value.isspace()}
        by_field = {name: found[(index, name)] for name in texts if found.get((index, name))}
        if self.config.extend_name_lists:
            for name, field_spans in by_field.items():
                by_field[name] = _extend_name_lists(texts[name], field_spans)
        if by_field and self.config.repeat_within_record:
            self._repeat_within_group(texts, by_field)
        for name, value in group.items():
            spans = by_field.get(name)
            if not spans or value is None or engine is None:
                fields[name] = value
                continue
            placeholders: list[str] = []
            for span in spans:
                identity = (
                    span.entity_type,
                    _identity(span.entity_type, value[span.start : span.end]),
                )
                if identity not in numbers:
                    counters[span.entity_type] += 1
                    numbers[identity] = f"<{span.entity_type}_{counters[span.entity_type]}>"
                placeholders.append(numbers[identity])
                entities.append(
                    FoundEntity(name, span.entity_type, span.start, span.end, round(span.score, 4))
                )
            fields[name] = _replace(engine.anonymizer, value, spans, placeholders)
        return MaskedGroup(fields, entities)


_NAME_WORD = r"\p{Lu}[\p{Ll}'’\-]+"
_NAME = rf"{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,2}}"


@functools.cache
def _person_shape() -> Any:
    """Two or three capitalised words, maybe a middle initial ("Maja S Hermansen")."""
    import regex

    return regex.compile(rf"{_NAME_WORD}(?:[ ]\p{{Lu}}\.?)?(?:[ ]{_NAME_WORD}){{1,2}}")


@functools.cache
def _name_list_pattern() -> Any:
    import regex

    return regex.compile(rf"{_NAME}(?:,[ ]{_NAME})*,?[ ](?:and|&|or)[ ]{_NAME}")


def _extend_name_lists(text: str, spans: list[_Span]) -> list[_Span]:
    """In "Kónya, Becker and Vasquez", one member found as a person makes all of them persons."""
    people = [s for s in spans if s.entity_type == "PERSON"]
    if not people:
        return spans
    import regex

    extra: list[_Span] = []
    for match in _name_list_pattern().finditer(text):
        if not any(p.start < match.end() and p.end > match.start() for p in people):
            continue
        score = max(p.score for p in people if p.start < match.end() and p.end > match.start())
        for member in regex.finditer(_NAME, match.group()):
            extra.append(
                _Span(match.start() + member.start(), match.start() + member.end(), "PERSON", score)
            )
    return _merge([*spans, *extra]) if extra else spans


def _merge(spans: list[_Span]) -> list[_Span]:
    """Merge overlapping spans; the widest member names the merged span's type.

    Between equally wide members, one confirmed by a context word wins ("order 1135...",
    a 15-digit number that also passes the card checksum, is an order id), then the score.
    """
    spans = sorted(spans, key=lambda s: (s.start, -s.end, -s.confirmed, -s.score))
    merged: list[_Span] = []
    widest: list[_Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            last.end = max(last.end, span.end)
            last.score = max(last.score, span.score)
            if (span.end - span.start) > (widest[-1].end - widest[-1].start):
                widest[-1] = span
            last.entity_type = widest[-1].entity_type
        else:
            merged.append(_Span(span.start, span.end, span.entity_type, span.score))
            widest.append(span)
    return merged


def _identity(entity_type: str, value: str) -> str:
    """What makes two mentions the same value (case, spacing and punctuation aside)."""
    if entity_type in _COMPACT_TYPES:
        return "".join(char for char in value.casefold() if char.isalnum())
    return " ".join(value.casefold().split())


def _replace(
    anonymizer: AnonymizerEngine, text: str, spans: list[_Span], placeholders: list[str]
) -> str:
    """Replace non-overlapping spans with their placeholders via Presidio's anonymizer."""
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    by_position = {(s.start, s.end): p for s, p in zip(spans, placeholders, strict=True)}
    results, operators = [], {}
    for i, span in enumerate(spans):
        # One operator per span (a unique entity name), so each gets its own placeholder.
        slot = f"S{i}"
        results.append(RecognizerResult(slot, span.start, span.end, span.score))
        operators[slot] = OperatorConfig(
            "replace", {"new_value": by_position[(span.start, span.end)]}
        )
    return anonymizer.anonymize(
        text, results, operators=operators, merge_entities_with_spaces=False
    ).text


# ------------------------------------------------------------------ entry points


@functools.cache
def get_masker(config_path: Path) -> PiiMasker:
    """The process-wide masker for a config file (engines are built on its first use)."""
    return PiiMasker(load_pii_config(config_path))


def mask_jsonl(
    in_stream: IO[bytes] | IO[str] | Iterable[bytes | str],
    out_stream: IO[bytes],
    masker: PiiMasker,
    *,
    batch_size: int = 256,
) -> int:
    """Mask the ``text`` of each JSON line; write the line back with ``entities`` added.

    Every other field is kept as is; a ``language`` field (ISO 639-1) picks the pipeline,
    else the config's default language. Blank lines are skipped. Returns lines written.
    """
    written = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        groups = [{"text": row.get("text")} for row in batch]
        languages = [_language_of(row) for row in batch]
        for row, masked in zip(batch, masker.mask_groups(groups, languages), strict=True):
            row["text"] = masked.fields["text"]
            row["entities"] = [
                {"type": e.entity_type, "start": e.start, "end": e.end, "score": e.score}
                for e in masked.entities
            ]
            out_stream.write(orjson.dumps(row) + b"\n")
        written += len(batch)
        batch.clear()

    for number, row in json_objects(in_stream):
        if row.get("text") is not None and not isinstance(row["text"], str):
            raise PermanentInputError(f"line {number}: `text` is not a string")
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return written


def _language_of(row: Mapping[str, Any]) -> str | None:
    language = row.get("language")
    return language if isinstance(language, str) and language else None


__all__ = [
    "FoundEntity",
    "MaskedGroup",
    "PiiConfig",
    "PiiMasker",
    "PiiMaskingError",
    "get_masker",
    "load_pii_config",
    "mask_jsonl",
    "model_dir",
]
