"""PiiMasker: masks the fields of a group with typed placeholders, numbered per group."""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.enrich.masking.addresses import intersection_start
from shared.enrich.masking.config import PATTERNS_ONLY, PiiConfig, load_pii_config
from shared.enrich.masking.engine import Engine, build_engine, may_match
from shared.enrich.masking.name_shapes import shape_names
from shared.enrich.masking.names import NameFinder, name_finder
from shared.errors import PiiMaskingError

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult
    from presidio_anonymizer import AnonymizerEngine
    from spacy.language import Language
    from spacy.tokens import Doc, Span

# Entities whose value is compared digits-and-letters only: "+1 555 0100" == "1-555-0100".
_COMPACT_TYPES = frozenset(
    {
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
        "ID_NUMBER",
        "ORDER_ID",
        "TICKET_ID",
        "CUSTOMER_ID",
    }
)


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


# ------------------------------------------------------------------ masker


@functools.cache
def _spacy_recognizer() -> type:
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    return SpacyRecognizer


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
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._analysis_lock = threading.Lock()
        self._allow = frozenset(config.allow_list)
        self._not_after = frozenset(word.lower() for word in config.ner.not_after)
        self._org_words = frozenset(word.lower() for word in config.ner.org_words)
        self._strip_leading = frozenset(word.lower() for word in config.ner.strip_leading)
        self._place_before = {
            preposition: frozenset(words)
            for preposition, words in (config.names.place_words_before if config.names else ())
        }
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

    def engine(self) -> Engine:
        """The Presidio engines and spaCy pipelines, built once (thread-safe)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = build_engine(self.config)
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

    def _analyze(self, engine: Engine, key: str, texts: list[str]) -> list[list[_Span]]:
        nlp = engine.pipelines[key]
        out: list[list[_Span]] = []
        try:
            # The memory zone frees the strings spaCy interned from these texts (their PII
            # would otherwise stay in the vocabulary, growing it); spaCy is not thread-safe.
            with self._analysis_lock, nlp.memory_zone():
                candidates = [self._candidates(engine, key, text) for text in texts]
                docs = self._docs(engine, nlp, key, texts, candidates)
                for text, entities, doc in zip(texts, candidates, docs, strict=True):
                    names = self._names_in(key, text)
                    if not entities:
                        out.append(names)
                    elif doc is None:
                        out.append(_merge(names) if names else [])  # no pattern hit, no NER
                    else:
                        out.append(self._analyze_doc(engine, key, doc, entities, names))
        except PiiMaskingError:
            raise
        except Exception as exc:
            # The cause is dropped on purpose: Presidio's messages can quote the text.
            raise PiiMaskingError(
                f"PII analysis failed in the {key!r} pipeline ({type(exc).__name__})"
            ) from None
        return out

    def _docs(
        self,
        engine: Engine,
        nlp: Language,
        key: str,
        texts: list[str],
        candidates: list[list[str]],
    ) -> Iterator[Doc | None]:
        """The texts with their docs, in order; NER runs only on texts where it could find a
        name, and a text it skips gets no doc (no tokenising) unless a pattern matches in it."""
        finder = self._name_finder()
        if key == PATTERNS_ONLY or finder is None or not self.config.names.ner_gate:  # type: ignore[union-attr]
            yield from nlp.pipe(texts, batch_size=self.config.batch_size)
            return
        gated = [finder.may_hold_name(text) for text in texts]
        tagged = iter(nlp.pipe([t for t, g in zip(texts, gated, strict=True) if g],
                               batch_size=self.config.batch_size))  # fmt: skip
        for text, gate, entities in zip(texts, gated, candidates, strict=True):
            if gate:
                yield next(tagged)
            elif entities and self._pattern_hit(engine, key, text, entities):
                yield nlp.make_doc(text)
            else:
                yield None

    @staticmethod
    def _candidates(engine: Engine, key: str, text: str) -> list[str]:
        """The entity types whose recognizers could match ``text`` (cheap necessary tests)."""
        digits = sum(map(str.isdigit, text))
        return [
            e
            for e in engine.entities[key]
            if may_match(e, text, digits, engine.min_digits, engine.street_words)
        ]

    @staticmethod
    def _pattern_hit(engine: Engine, key: str, text: str, entities: list[str]) -> bool:
        """Whether a recognizer other than NER matches: they match without the doc, which
        only weighs context afterwards, so a text with no hit and no NER has nothing."""
        recognizers = engine.analyzer.registry.get_recognizers(language=key, entities=entities)
        return any(
            recognizer.analyze(text, entities, None)
            for recognizer in recognizers
            if not isinstance(recognizer, _spacy_recognizer())
        )

    def _analyze_doc(
        self, engine: Engine, key: str, doc: Doc, entities: list[str], names: list[_Span]
    ) -> list[_Span]:
        from presidio_analyzer.nlp_engine import NlpArtifacts

        text = doc.text
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
        spans = self._resolve(text, results)
        widened = False
        for span in spans:
            if span.entity_type == "STREET_ADDRESS":
                start = intersection_start(text, span.start)
                widened, span.start = widened or start != span.start, start
        return _merge([*spans, *names]) if names or widened else spans

    def _names_in(self, key: str, text: str) -> list[_Span]:
        """Names the gazetteer and its cues find (every language; runs of names off English)."""
        finder = self._name_finder()
        if finder is None:
            return []
        title_runs = key in self.config.names.title_case_runs  # type: ignore[union-attr]
        lone = key in self.config.names.lone_given_names  # type: ignore[union-attr]
        score = self.config.names.score  # type: ignore[union-attr]
        found = finder.find(text, title_runs=title_runs, lone=lone)
        if key in self.config.names.shape_languages:  # type: ignore[union-attr]
            found += shape_names(finder, text)
        return _merge(
            [
                _Span(start, end, "PERSON", score)
                for start, end in found
                if text[start:end] not in self._allow
            ]
        )

    def _name_finder(self) -> NameFinder | None:
        names = self.config.names
        if names is None or "PERSON" not in self.config.entities:
            return None
        return name_finder(names)

    def _ner_spans(self, doc: Doc) -> list[Span]:
        """The model's entities as Presidio types, cleaned of what names and places never are."""
        from spacy.tokens import Span

        ner = self.config.ner
        not_after = self._not_after
        names = self.config.names
        vet = self._name_finder() if names and names.vet_ner else None
        strict = bool(names and doc.lang_ in names.vet_strict)
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
            ent_start, ent_end = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
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
            if (
                label == "PERSON"
                and end - start == 1
                and self._after_place_words(doc, start)
                and not (end < len(doc) and doc[end].lower_ in ("'s", "’s"))
            ):
                continue  # a place things go to: "shipped to Austin" (not "went to Priya's")
            if (
                label == "PERSON"
                and vet
                and not vet.supports(doc.text, ent_start, ent_end, strict=strict)
            ):
                continue  # a capital letter alone is no name: "Still Broken.", "Box Crushed"
            spans.append(Span(doc, start, end, label=label))
        return spans

    def _after_place_words(self, doc: Doc, start: int) -> bool:
        """``<place word> to|of`` just before: "a cab to", "shipped to", "the city of"."""
        if start < 2:
            return False
        words = self._place_before.get(doc[start - 1].lower_)
        return words is not None and doc[start - 2].lower_ in words

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
        engine: Engine | None,
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
