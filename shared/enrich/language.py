"""Language detection for feedback text, with honest confidence instead of guesses.

Wraps ``lingua-language-detector`` restricted to the configured language set. The set
and thresholds are data: the ``language:`` section of ``prompts/quality.yaml``
(:class:`LanguageConfig`, default en, es, fr, de, pt, it, nl). Every text gets a
:class:`LanguageGuess`:

* ``language`` is an ISO 639-1 code, or ``"und"`` (undetermined) when the text has fewer
  than ``min_chars`` letters (digits, emoji and punctuation do not count) or when the
  confidence is below ``min_confidence``. Short texts are where lingua guesses
  ("refund pls" -> German, "ok" -> Dutch), so they come out ``"und"`` rather than as a
  fact. ``"und"`` always carries confidence 0.0: it asserts nothing.
* ``confidence`` is lingua's probability for that language among the configured set,
  lowered for mixed-language text: texts with two or more sentences of at least
  ``mixed_min_words`` words are also scored sentence by sentence, and the confidence is
  capped at the share of words in sentences agreeing with the reported language (a
  sentence counts against it only when it is confidently in another language: lingua
  errs on single sentences). Half English, half Spanish therefore comes out ``"und"``;
  mostly English with one Spanish sentence comes out English at about its word share.

Only the first ``max_chars`` characters are scored: confidence saturates long before
that, and it bounds the cost of a 20,000-character ticket.

Accuracy mode: high accuracy is the default. On 10,000 real English feedback texts
(``bench/language_bench.py``, 2 cores) it asserted a wrong language for 2 texts and
ran ~2,900 docs/s with ~205 MiB of models; low-accuracy mode needs ~16 MiB and runs
~6,000 docs/s, equally good on 20+ words, but with the same thresholds it asserted a
wrong language for ~160 texts under 20 words (its confidences are overconfident on
short text). Set ``low_accuracy_mode: true`` only on memory-starved hosts.

The lingua detector is built once per process, lazily, on the first call (models are
preloaded then: 1.5-3 s); nothing happens at import time and ``lingua`` itself is
imported on first use.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import ConfigError

if TYPE_CHECKING:
    import lingua

logger = logging.getLogger(__name__)

UNDETERMINED = "und"
DEFAULT_LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl")
# Sentence boundaries for the mixed-language check (end punctuation or line breaks).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;\u3002\uff01\uff1f])\s+|\s*\n\s*")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """A detected language and how sure we are; ``"und"`` (0.0) when we cannot tell."""

    language: str  # ISO 639-1 or "und"
    confidence: float  # 0..1

    @property
    def determined(self) -> bool:
        return self.language != UNDETERMINED


UNKNOWN = LanguageGuess(UNDETERMINED, 0.0)


class LanguageConfig(BaseModel):
    """The ``language:`` section of ``prompts/quality.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    min_confidence: float = Field(default=0.7, gt=0, le=1)
    min_chars: int = Field(default=10, ge=1, description="letters needed to try at all")
    max_chars: int = Field(default=1_000, ge=50, description="characters scored per text")
    mixed_min_words: int = Field(default=4, ge=2, description="words for a sentence to vote")
    low_accuracy_mode: bool = False

    @field_validator("languages")
    @classmethod
    def _iso_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(dict.fromkeys(code.strip().lower() for code in value))
        bad = [code for code in codes if not re.fullmatch(r"[a-z]{2}", code)]
        if bad:
            raise ValueError(f"languages are ISO 639-1 codes (two letters); got {bad}")
        if len(codes) < 2:
            raise ValueError("configure at least two languages (lingua needs a choice)")
        return codes


class LanguageDetector:
    """Detects the language of many texts at once; safe to share between threads."""

    def __init__(
        self,
        languages: Sequence[str],
        *,
        min_confidence: float,
        min_chars: int,
        max_chars: int = 1_000,
        mixed_min_words: int = 4,
        low_accuracy_mode: bool = False,
        in_parallel: bool = True,
    ) -> None:
        self.languages = LanguageConfig(languages=tuple(languages)).languages
        # Off in forked enrichment workers: lingua's thread pool does not survive a fork.
        self.in_parallel = in_parallel
        self.min_confidence = min_confidence
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.mixed_min_words = mixed_min_words
        self.low_accuracy_mode = low_accuracy_mode

    @classmethod
    def from_config(cls, config: LanguageConfig) -> LanguageDetector:
        return cls(
            config.languages,
            min_confidence=config.min_confidence,
            min_chars=config.min_chars,
            max_chars=config.max_chars,
            mixed_min_words=config.mixed_min_words,
            low_accuracy_mode=config.low_accuracy_mode,
        )

    def sequential(self) -> LanguageDetector:
        """The same detector scoring on the calling thread only (one core per process)."""
        return LanguageDetector(
            self.languages,
            min_confidence=self.min_confidence,
            min_chars=self.min_chars,
            max_chars=self.max_chars,
            mixed_min_words=self.mixed_min_words,
            low_accuracy_mode=self.low_accuracy_mode,
            in_parallel=False,
        )

    def detect(self, text: str) -> LanguageGuess:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[LanguageGuess]:
        """One guess per text, in order; lingua scores the batch on all cores."""
        guesses: list[LanguageGuess] = [UNKNOWN] * len(texts)
        positions: list[int] = []
        samples: list[str] = []
        for position, text in enumerate(texts):
            sample = text[: self.max_chars] if text else ""
            if _letters(sample, self.min_chars) >= self.min_chars:
                positions.append(position)
                samples.append(sample)
        if not samples:
            return guesses
        detector = _lingua_detector(self.languages, self.low_accuracy_mode)
        scored = _confidences(detector, samples, self.in_parallel)

        # Mixed-language check: confident multi-sentence texts are scored per sentence too.
        candidates: dict[int, tuple[str, float]] = {}
        chunk_owner: list[int] = []
        chunks: list[str] = []
        chunk_words: list[int] = []
        for position, sample, values in zip(positions, samples, scored, strict=True):
            top = values[0]
            if top.value < self.min_confidence:
                continue
            candidates[position] = (top.language.iso_code_639_1.name.lower(), top.value)
            sentences = self._sentences(sample)
            if len(sentences) >= 2:
                for sentence, words in sentences:
                    chunk_owner.append(position)
                    chunks.append(sentence)
                    chunk_words.append(words)
        shares = self._dominant_shares(detector, candidates, chunk_owner, chunks, chunk_words)

        for position, (code, confidence) in candidates.items():
            confidence = min(confidence, shares.get(position, 1.0))
            if confidence >= self.min_confidence:
                guesses[position] = LanguageGuess(code, round(confidence, 4))
        return guesses

    def _sentences(self, sample: str) -> list[tuple[str, int]]:
        """Sentences long enough to carry a language of their own, with word counts."""
        found = []
        for sentence in _SENTENCE_BREAK.split(sample):
            words = len(sentence.split())
            if words >= self.mixed_min_words:
                found.append((sentence, words))
        return found

    def _dominant_shares(
        self,
        detector: lingua.LanguageDetector,
        candidates: dict[int, tuple[str, float]],
        owners: list[int],
        chunks: list[str],
        words: list[int],
    ) -> dict[int, float]:
        """Per text: the share of words in sentences agreeing with the whole-text language,
        out of those plus the words of sentences confidently in another language."""
        if not chunks:
            return {}
        agree: dict[int, int] = {}
        total: dict[int, int] = {}
        scored = _confidences(detector, chunks, self.in_parallel)
        for owner, values, count in zip(owners, scored, words, strict=True):
            top = values[0]
            if top.language.iso_code_639_1.name.lower() == candidates[owner][0]:
                agree[owner] = agree.get(owner, 0) + count
            elif top.value < self.min_confidence:
                continue  # lingua errs on single sentences: only a confident one dissents
            total[owner] = total.get(owner, 0) + count
        return {owner: agree.get(owner, 0) / count for owner, count in total.items()}


def _letters(text: str, enough: int) -> int:
    """Letters in ``text``, counting no further than ``enough``."""
    count = 0
    for char in text:
        if char.isalpha():
            count += 1
            if count >= enough:
                break
    return count


def _confidences(
    detector: lingua.LanguageDetector, texts: list[str], in_parallel: bool = True
) -> list[list[lingua.ConfidenceValue]]:
    # The parallel call has thread fan-out overhead that a single text does not repay.
    if len(texts) == 1 or not in_parallel:
        return [detector.compute_language_confidence_values(text) for text in texts]
    return detector.compute_language_confidence_values_in_parallel(texts)


@functools.cache
def _lingua_detector(
    languages: tuple[str, ...], low_accuracy_mode: bool
) -> lingua.LanguageDetector:
    """The process-wide lingua detector for a language set, models preloaded."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    try:
        codes = [IsoCode639_1.from_str(code) for code in languages]
    except ValueError as exc:
        raise ConfigError(f"lingua does not support a configured language: {exc}") from exc
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
    if low_accuracy_mode:
        builder = builder.with_low_accuracy_mode()
    logger.info(
        "building language detector for %s (low_accuracy_mode=%s)",
        ",".join(languages),
        low_accuracy_mode,
    )
    return builder.with_preloaded_language_models().build()


@functools.cache
def get_language_detector(config: LanguageConfig) -> LanguageDetector:
    """The process-wide detector for a config (the lingua models load on first detect)."""
    return LanguageDetector.from_config(config)


__all__ = [
    "DEFAULT_LANGUAGES",
    "UNDETERMINED",
    "UNKNOWN",
    "LanguageConfig",
    "LanguageDetector",
    "LanguageGuess",
    "get_language_detector",
]
