"""The offline classifier: taxonomy rules, a lexicon sentiment model, and optionally a
trained text model; no network.

The default when no model endpoint is configured. Themes come from the taxonomy's rules
(keywords and patterns; the matched span is the evidence) and, when one is given, from a
:class:`~shared.decide.text_model.TextModel` trained on labelled records (its evidence is the
clause it scores highest); sentiment from the trained model or VADER, a lexicon and rule
model for short English texts (negation, intensifiers, "but"), shipped with its lexicon;
urgency from the taxonomy's urgency patterns. Its answers go through the same guardrails
as a model's. A text nothing recognises is claimed as ``other`` with low confidence, so
it lands in the review queue rather than being guessed.

How good it is, per theme, is measured by the evaluation issue; it is a floor to compare
the LLM with, and what runs on a laptop with nothing configured.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.decide import vader
from shared.decide.classification import AnsweredRecord, AnsweredTheme, Classification
from shared.decide.contracts import ClassifyOutcome, MaskedText
from shared.decide.evidence import quote_span
from shared.decide.guardrails import apply_guardrails
from shared.decide.rules import RuleClassifier, RuleMatch
from shared.decide.taxonomy import FALLBACK_THEME, Sentiment, Taxonomy, Urgency, get_taxonomy
from shared.decide.text_model import TextGuess, TextModel, ThemeGuess, TrainingExample
from shared.errors import ConfigError

MODEL_NAME = "local-rules-vader"
TRAINED_MODEL_NAME = "local-rules-svm"
# Labelled examples the offline model learns the taxonomy from, beside the taxonomy.
TRAINING_FILE = Path("training") / "feedback.jsonl"
# Confidence of a rule-backed answer, and of a text no rule recognised (under the
# default review threshold of 0.6 on purpose).
RULE_CONFIDENCE = 0.75
UNRECOGNISED_CONFIDENCE = 0.3
# Beside a rule's claim the model adds a theme only when it is this sure (a second opinion).
MODEL_BESIDE_RULES = 0.65
# A rule's theme is vetoed when the model gives it under RULE_VETO_BELOW in the keyword's
# clause while another theme there reaches RULE_VETO_RIVAL.
RULE_VETO_BELOW, RULE_VETO_RIVAL = 0.1, 0.5
# VADER's own thresholds for its compound score; "mixed" needs both sides clearly present.
POSITIVE_AT, NEGATIVE_AT, MIXED_SIDE_AT = 0.05, -0.05, 0.2
# Themes that are not problems: no urgency follows from them alone.
_NOT_PROBLEMS = frozenset({"praise", "feature_request", FALLBACK_THEME})


class LocalClassifier:
    """Rules + VADER; same interface as :class:`~shared.decide.classifier.LlmClassifier`."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        *,
        min_confidence: float = 0.6,
        text_model: TextModel | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prompt_version: str | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.rules = RuleClassifier(taxonomy)
        self.min_confidence = min_confidence
        self.text_model = text_model
        self.clock = clock
        self.prompt_version = prompt_version  # the prompt version this stand-in plays
        self.model = TRAINED_MODEL_NAME if text_model is not None else MODEL_NAME

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
            prompt_version=self.prompt_version,
        )

    def answer(self, item: MaskedText, guess: TextGuess | None = None) -> AnsweredRecord:
        """What the model, the rules and the lexicon say, shaped like a model's answer."""
        text = item.text
        # Rules first: a matched keyword is the plainest evidence, so it leads (and routes);
        # the quote is the sentence or clause around it, never the lone keyword.
        themes: list[AnsweredTheme] = []
        guessed = {g.theme: g for g in guess.themes} if guess is not None else {}
        for match in self.rules.themes(text):
            if guess is not None and not self._rule_holds(match.label, match, guess):
                continue
            begin, stop = quote_span(text, match.start, match.end)
            if match.label in guessed:
                # The model's feeling for a ruled theme reads the clause, not a keyword.
                sentiment = self._guess_sentiment(guessed[match.label])
            else:
                clause = _sentence_around(text, match.start, match.end)
                sentiment = self._theme_sentiment(match.label, clause)
            themes.append(
                AnsweredTheme(theme=match.label, evidence=text[begin:stop], sentiment=sentiment)
            )
        confidence = RULE_CONFIDENCE
        if guess is not None:
            ruled = {t.theme for t in themes}
            for g in guess.themes:
                if g.theme in ruled or (g.theme == FALLBACK_THEME and ruled):
                    continue
                if not ruled or g.probability >= MODEL_BESIDE_RULES:
                    begin, stop = quote_span(text, *g.span) if g.span[1] else (0, len(text))
                    themes.append(
                        AnsweredTheme(
                            theme=g.theme,
                            evidence=text[begin:stop],
                            sentiment=self._guess_sentiment(g),
                        )
                    )
            if guess.confidence is not None and not ruled:
                confidence = guess.confidence
        if not themes:
            begin, stop = quote_span(text, 0, 0)
            themes = [
                AnsweredTheme(
                    theme=FALLBACK_THEME,
                    evidence=text[begin:stop].strip() or text,
                    sentiment=self.sentiment(text),
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

    @staticmethod
    def _rule_holds(theme: str, match: RuleMatch, guess: TextGuess) -> bool:
        """A keyword claims its theme unless the model reads its clause as another theme.

        ("Oh fantastic, the jacket soaked through" is not praise; "error" in a failed
        login is not a bug report.) Without a model opinion on the theme, the rule holds.
        """
        p = guess.clause_probability(theme, match.start, match.end)
        if p is None or p >= RULE_VETO_BELOW:
            return True
        rivals = (
            guess.clause_probability(other, match.start, match.end) or 0.0
            for other in guess.clause_scores
            if other not in (theme, FALLBACK_THEME)
        )
        return max(rivals, default=0.0) < RULE_VETO_RIVAL

    def sentiment(self, text: str) -> Sentiment:
        compound, positive, negative, _ = vader.polarity(text)  # the lexicon loads on first use
        if positive >= MIXED_SIDE_AT and negative >= MIXED_SIDE_AT:
            return "mixed"
        if compound >= POSITIVE_AT:
            return "positive"
        if compound <= NEGATIVE_AT:
            return "negative"
        return "neutral"

    def _guess_sentiment(self, guess: ThemeGuess) -> Sentiment:
        return guess.sentiment or self._theme_sentiment(guess.theme, guess.evidence)  # type: ignore[return-value]

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


class LabelledText(BaseModel):
    """One line of ``prompts/training/feedback.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str = Field(min_length=1)
    labels: tuple[str, ...] = Field(min_length=1)
    sentiment: Sentiment
    theme_sentiment: dict[str, Sentiment] = Field(default_factory=dict)
    urgency: Urgency | None = None


def load_training_examples(path: Path, taxonomy: Taxonomy) -> list[TrainingExample]:
    """The labelled examples of ``path``, every label checked against the taxonomy."""
    known = set(taxonomy.theme_ids)
    examples = []
    with Path(path).open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = LabelledText.model_validate(orjson.loads(line))
            except (orjson.JSONDecodeError, ValidationError) as exc:
                raise ConfigError(f"{path}:{number}: not a labelled example: {exc}") from exc
            unknown = sorted(set(row.labels) - known)
            if unknown:
                raise ConfigError(f"{path}:{number}: themes not in the taxonomy: {unknown}")
            examples.append(
                TrainingExample(
                    row.text, row.labels, row.sentiment, tuple(row.theme_sentiment.items())
                )
            )
    return examples


@functools.cache
def shipped_text_model(config_dir: Path) -> TextModel | None:
    """The model trained on ``<config_dir>/training/feedback.jsonl``, once per process.

    Training takes a few seconds on the shipped examples, so the fitted model is kept in
    a local disk cache (:mod:`shared.decide.model_cache`) and loaded from there next time; None
    when there is no training file (the classifier is then rules + VADER).
    """
    path = Path(config_dir) / TRAINING_FILE
    if not path.is_file():
        return None
    from shared.decide import linear_text, model_cache, text_model, theme_thresholds

    def train() -> TextModel:
        model = TextModel().fit(load_training_examples(path, get_taxonomy(Path(config_dir))))
        model.thresholds = theme_thresholds.load_thresholds(Path(config_dir))
        model.confidence_curve = theme_thresholds.load_confidence_curve(Path(config_dir))
        return model

    inputs = [path, Path(config_dir) / theme_thresholds.THRESHOLDS_FILE]
    code = [Path(m.__file__) for m in (text_model, linear_text, theme_thresholds)]  # type: ignore[arg-type]
    return model_cache.cached(model_cache.cache_key(inputs, code), train)


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence holding ``text[start:end]``: what a theme's feeling is read from."""
    left = max(text.rfind(mark, 0, start) for mark in ".!?\n")
    right = min(
        (i for i in (text.find(mark, end) for mark in ".!?\n") if i >= 0), default=len(text)
    )
    return text[left + 1 : right + 1].strip() or text


__all__ = [
    "MODEL_NAME",
    "TRAINED_MODEL_NAME",
    "LocalClassifier",
    "load_training_examples",
    "shipped_text_model",
]
