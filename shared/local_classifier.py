"""The offline classifier: taxonomy rules plus a lexicon sentiment model, no network.

The default when no model endpoint is configured. Themes come from the taxonomy's rules
(keywords and patterns; the matched span is the evidence); sentiment from VADER, a
lexicon and rule model for short English texts (negation, intensifiers, "but"), shipped
with its lexicon; urgency from the taxonomy's urgency patterns. Its answers go through
the same guardrails as a model's. A text no rule recognises is claimed as ``other``
with low confidence, so it lands in the review queue rather than being guessed.

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

MODEL_NAME = "local-rules-vader"
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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.taxonomy = taxonomy
        self.rules = RuleClassifier(taxonomy)
        self.min_confidence = min_confidence
        self.clock = clock
        self.model = MODEL_NAME
        self._sentiment: Any = None  # built on first use: loading the lexicon takes ~0.2 s

    def classify(self, items: Sequence[MaskedText]) -> ClassifyOutcome:
        outcome = ClassifyOutcome()
        for item in items:
            outcome.classifications.append(self.classify_one(item))
        return outcome

    def classify_one(self, item: MaskedText) -> Classification:
        answer = self.answer(item)
        return apply_guardrails(
            answer,
            record_id=item.record_id,
            masked_text=item.text,
            taxonomy=self.taxonomy,
            method="local",
            min_confidence=self.min_confidence,
            classified_at=self.clock(),
            model=MODEL_NAME,
        )

    def answer(self, item: MaskedText) -> AnsweredRecord:
        """What the rules and the lexicon say, shaped like a model's answer."""
        text = item.text
        matches = self.rules.themes(text)
        themes = [AnsweredTheme(theme=m.label, evidence=m.evidence) for m in matches]
        confidence = RULE_CONFIDENCE
        if not themes:
            sentence = _FIRST_SENTENCE.search(text)
            evidence = sentence.group().strip() if sentence else text.strip()
            themes = [AnsweredTheme(theme=FALLBACK_THEME, evidence=evidence or text)]
            confidence = UNRECOGNISED_CONFIDENCE
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

    def _urgency(self, text: str, themes: list[str], sentiment: Sentiment) -> Urgency:
        flagged = self.rules.urgency(text)
        if flagged is not None:
            return flagged.label  # type: ignore[return-value]
        problem = any(theme not in _NOT_PROBLEMS for theme in themes)
        return "medium" if problem and sentiment in ("negative", "mixed") else "low"


__all__ = ["MODEL_NAME", "LocalClassifier"]
