"""The offline classifier: taxonomy rules, a lexicon sentiment model, and optionally a
trained text model; no network.

The default when no model endpoint is configured. Themes come from the taxonomy's rules
(keywords and patterns; the matched span is the evidence) and, when one is given, from a
:class:`~shared.text_model.TextModel` trained on labelled records (its evidence is the
clause it scores highest); sentiment from the trained model or VADER, a lexicon and rule
model for short English texts (negation, intensifiers, "but"), shipped with its lexicon;
urgency from the taxonomy's urgency patterns. Its answers go through the same guardrails
as a model's. A text nothing recognises is claimed as ``other`` with low confidence, so
it lands in the review queue rather than being guessed.

How good it is, per theme, is measured by the evaluation issue; it is a floor to compare
the LLM with, and what runs on a laptop with nothing configured.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.classification import AnsweredRecord, AnsweredTheme, Classification
from shared.classifier import ClassifyOutcome, MaskedText
from shared.guardrails import apply_guardrails
from shared.rules import RuleClassifier
from shared.taxonomy import FALLBACK_THEME, Sentiment, Taxonomy, Urgency
from shared.text_model import TextGuess, TextModel

MODEL_NAME = "local-rules-vader"
TRAINED_MODEL_NAME = "local-rules-svm"
# Confidence of a rule-backed answer, and of a text no rule recognised (under the
# default review threshold of 0.6 on purpose).
RULE_CONFIDENCE = 0.75
UNRECOGNISED_CONFIDENCE = 0.3
# VADER's own thresholds for its compound score; "mixed" needs both sides clearly present.
POSITIVE_AT, NEGATIVE_AT, MIXED_SIDE_AT = 0.05, -0.05, 0.2
# Themes that are not problems: no urgency follows from them alone.
_NOT_PROBLEMS = frozenset({"praise", "feature_request", FALLBACK_THEME})
_FIRST_SENTENCE = re.compile(r"\S[^.!?\n]*[.!?]?")


def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class LocalClassifier:
    """Rules + VADER; same interface as :class:`~shared.classifier.LlmClassifier`."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        *,
        min_confidence: float = 0.6,
        text_model: TextModel | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.taxonomy = taxonomy
        self.rules = RuleClassifier(taxonomy)
        self.min_confidence = min_confidence
        self.text_model = text_model
        self.clock = clock
        self.model = TRAINED_MODEL_NAME if text_model is not None else MODEL_NAME
        self._sentiment: Any = None  # built on first use: loading the lexicon takes ~0.2 s

    def classify(self, items: Sequence[MaskedText]) -> ClassifyOutcome:
        outcome = ClassifyOutcome()
        guesses: Sequence[TextGuess | None] = [None] * len(items)
        if self.text_model is not None and items:
            guesses = self.text_model.predict([item.text for item in items])
        for item, guess in zip(items, guesses, strict=True):
            outcome.classifications.append(self.classify_one(item, guess))
        return outcome

    def classify_one(self, item: MaskedText, guess: TextGuess | None = None) -> Classification:
        answer = self.answer(item, guess)
        return apply_guardrails(
            answer,
            record_id=item.record_id,
            masked_text=item.text,
            taxonomy=self.taxonomy,
            method="local",
            min_confidence=self.min_confidence,
            classified_at=self.clock(),
            model=self.model,
        )

    def answer(self, item: MaskedText, guess: TextGuess | None = None) -> AnsweredRecord:
        """What the model, the rules and the lexicon say, shaped like a model's answer."""
        text = item.text
        themes: list[AnsweredTheme] = []
        confidence = RULE_CONFIDENCE
        if guess is not None:
            themes = [
                AnsweredTheme(
                    theme=g.theme,
                    evidence=g.evidence,
                    sentiment=g.sentiment or self._theme_sentiment(g.theme, g.evidence),
                )
                for g in guess.themes
            ]
            confidence = guess.confidence if guess.confidence is not None else RULE_CONFIDENCE
        for match in self.rules.themes(text):
            if all(t.theme != match.label for t in themes):
                clause = _sentence_around(text, match.start, match.end)
                sentiment = self._theme_sentiment(match.label, clause)
                themes.append(
                    AnsweredTheme(theme=match.label, evidence=match.evidence, sentiment=sentiment)
                )
        if not themes:
            sentence = _FIRST_SENTENCE.search(text)
            evidence = sentence.group().strip() if sentence else text.strip()
            themes = [
                AnsweredTheme(
                    theme=FALLBACK_THEME, evidence=evidence or text, sentiment=self.sentiment(text)
                )
            ]
            confidence = UNRECOGNISED_CONFIDENCE
        if guess is not None and guess.sentiment is not None:
            sentiment = guess.sentiment
        else:
            sentiment = self.sentiment(text)
            if sentiment == "neutral" and any(t.theme not in _NOT_PROBLEMS for t in themes):
                # A raised problem ("the strap broke") is not neutral, even in flat words.
                sentiment = "negative"
        return AnsweredRecord(
            id=item.record_id,
            themes=themes,
            sentiment=sentiment,
            urgency=self._urgency(text, [t.theme for t in themes], sentiment),
            confidence=confidence,
        )

    def sentiment(self, text: str) -> Sentiment:
        if self._sentiment is None:
            self._sentiment = _vader()
        scores = self._sentiment.polarity_scores(text)
        if scores["pos"] >= MIXED_SIDE_AT and scores["neg"] >= MIXED_SIDE_AT:
            return "mixed"
        if scores["compound"] >= POSITIVE_AT:
            return "positive"
        if scores["compound"] <= NEGATIVE_AT:
            return "negative"
        return "neutral"

    def _theme_sentiment(self, theme_id: str, clause: str) -> Sentiment:
        implied = (
            self.taxonomy.theme(theme_id).sentiment if theme_id in self.taxonomy.theme_ids else None
        )
        if implied is not None:
            return implied
        sentiment = self.sentiment(clause)
        if sentiment == "neutral" and theme_id not in _NOT_PROBLEMS:
            return "negative"
        return sentiment

    def _urgency(self, text: str, themes: list[str], sentiment: Sentiment) -> Urgency:
        flagged = self.rules.urgency(text)
        if flagged is not None:
            return flagged.label  # type: ignore[return-value]
        problem = any(theme not in _NOT_PROBLEMS for theme in themes)
        return "medium" if problem and sentiment in ("negative", "mixed") else "low"


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence holding ``text[start:end]``: what a theme's feeling is read from."""
    left = max(text.rfind(mark, 0, start) for mark in ".!?\n")
    right = min(
        (i for i in (text.find(mark, end) for mark in ".!?\n") if i >= 0), default=len(text)
    )
    return text[left + 1 : right + 1].strip() or text


__all__ = ["MODEL_NAME", "TRAINED_MODEL_NAME", "LocalClassifier"]
