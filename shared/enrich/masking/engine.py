"""The Presidio engine: spaCy pipelines loaded from disk, recognizers per language key."""

from __future__ import annotations

import bisect
import functools
import importlib.util
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.enrich.masking.addresses import street_patterns
from shared.enrich.masking.config import (
    NER_ENTITIES,
    PATTERNS_ONLY,
    ModelSpec,
    PiiConfig,
)
from shared.errors import ConfigError

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer
    from presidio_analyzer.nlp_engine import NlpEngine
    from presidio_anonymizer import AnonymizerEngine
    from spacy.language import Language
    from spacy.tokens import Doc

logger = logging.getLogger(__name__)

_PRESIDIO_LOGGERS = ("presidio-analyzer", "presidio-anonymizer")

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
                patterns=[Pattern(n, rx, s) for n, rx, s in street_patterns(street)],
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
class Engine:
    analyzer: AnalyzerEngine
    anonymizer: AnonymizerEngine
    nlp_engine: NlpEngine
    pipelines: dict[str, Language]
    entities: dict[str, tuple[str, ...]]  # language key -> entities with a recognizer there
    min_digits: dict[str, int]  # entity -> digits a text needs before its recognizers run
    # Words that let the street patterns run on a text without digits ("on Elm Street").
    street_words: tuple[str, ...] = ()


def build_engine(config: PiiConfig) -> Engine:
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
    street = config.street_address
    street_words = street.named_street_types if street else ()
    return Engine(
        analyzer, AnonymizerEngine(), nlp_engine, pipelines, entities, min_digits, street_words
    )


def may_match(
    entity: str,
    text: str,
    digits: int,
    min_digits: Mapping[str, int],
    street_words: Sequence[str] = (),
) -> bool:
    """Cheap necessary conditions: when False, no recognizer of ``entity`` can match ``text``."""
    if entity == "EMAIL_ADDRESS":
        return "@" in text
    if entity == "IP_ADDRESS":
        return digits >= 4 or ":" in text  # IPv4 has four digits, IPv6 a colon
    if entity == "STREET_ADDRESS" and not digits:
        # "the corner of Oak Street and Main Street", "shows on Marina Fort Street"
        return any(word in text for word in street_words) or "corner" in text.lower()
    if entity == "PHONE_NUMBER" and digits >= 7:
        # phonenumbers costs ~1 ms per region on a text with digits: only where 7 digits
        # stand close together, as in every phone number (dates and prices pass too).
        return _phone_candidate().search(text) is not None
    return digits >= min_digits.get(entity, 0)


@functools.cache
def _phone_candidate() -> Any:
    import regex

    return regex.compile(r"\d(?:\W{0,3}\d){6}")
