"""A trainable offline text model for the ``local`` classifier (scikit-learn, CPU).

Word (1-2) and character (2-5) n-gram TF-IDF features feed linear SVMs, calibrated to
probabilities by cross-validation (Platt scaling), so confidence can send uncertain
records to review:

* themes: one-vs-rest (multi-label) or one multi-class model when every training record
  has exactly one label (intents);
* the feeling about each theme: one model over (text, theme) pairs, with the theme as a
  feature and VADER's lexicon scores of the text and of its evidence clause;
* overall sentiment, when the training records carry it, with VADER's scores as features.

Evidence for a theme is the clause of the text the theme model scores highest, so every
claim can still be quoted ("no evidence, no claim"). Training takes seconds on 10k
records; nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from shared.decide import vader
from shared.decide.linear_text import LinearLabels, NgramTfidf, SigmoidThemes
from shared.decide.taxonomy import SENTIMENTS

# Where a text splits into clauses that can carry their own theme (and quote).
_SPLIT = re.compile(r"(?<=[.!?;\n])\s+|,\s*(?=(?:but|and|although|though|however)\b)", re.I)
# Below this probability a theme is not claimed, unless it is the best one (every
# record gets at least one theme; "other" is a theme).
THEME_THRESHOLD = 0.5
# A clause claims a second theme only when the model is this sure of it too.
SECOND_IN_CLAUSE = 0.5
CALIBRATION_FOLDS = 3
MIN_EXAMPLES_PER_CLASS = 2


@dataclass(frozen=True, slots=True)
class TrainingExample:
    text: str
    themes: tuple[str, ...]
    sentiment: str | None = None
    theme_sentiment: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ThemeGuess:
    theme: str
    probability: float
    evidence: str
    sentiment: str | None
    span: tuple[int, int] = (0, 0)  # where the evidence clause is in the text


@dataclass(frozen=True, slots=True)
class TextGuess:
    themes: list[ThemeGuess]
    sentiment: str | None
    confidence: float | None  # None: no theme model (the rules decide the themes)
    # Per clause (span) the model's probability of each theme (clauses x themes, columns
    # by ``theme_columns``): what a rule's claim is checked against ("a second theme needs
    # its own evidence").
    clause_spans: list[tuple[int, int]] = field(default_factory=list)
    clause_matrix: np.ndarray | None = None
    theme_columns: dict[str, int] = field(default_factory=dict)

    @property
    def clause_scores(self) -> dict[str, list[float]]:
        """Per theme the probability of each clause (empty without a theme model)."""
        if self.clause_matrix is None:
            return {}
        return {t: self.clause_matrix[:, j].tolist() for t, j in self.theme_columns.items()}

    def clause_probability(self, theme: str, start: int, end: int) -> float | None:
        """The model's probability of ``theme`` in the clause holding ``[start, end)``."""
        column = self.theme_columns.get(theme)
        if column is None or self.clause_matrix is None:
            return None
        for at, (begin, stop) in enumerate(self.clause_spans):
            if begin <= start < stop or (start <= begin and end > begin):
                return float(self.clause_matrix[at, column])
        return None


def clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the text's clauses (sentences, and "..., but ..." halves), trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SPLIT.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for begin, end in spans:
        piece = text[begin:end]
        stripped = piece.strip()
        if stripped:
            offset = begin + piece.index(stripped)
            out.append((offset, offset + len(stripped)))
    return out or [(0, len(text))]


def _features() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )


def _calibrated_svm() -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    return CalibratedClassifierCV(
        LinearSVC(C=0.5, random_state=0), cv=CALIBRATION_FOLDS, method="sigmoid", ensemble=False
    )


class _Lexicon:
    """VADER's scores as a dense feature block (compound, pos, neg, neu)."""

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        rows = [vader.polarity(text) for text in texts]
        return np.asarray(rows, dtype=np.float64).reshape(len(texts), 4)


_LEXICON = _Lexicon()


class TextModel:
    """Themes, their feelings and overall sentiment, learned from labelled texts."""

    def __init__(self) -> None:
        # Fitted by scikit-learn, kept as arrays (shared.decide.linear_text): predicting
        # needs neither scikit-learn nor its import time.
        self.vectorizer: NgramTfidf | None = None
        self.theme_model: SigmoidThemes | None = None
        self.theme_classes: list[str] = []
        self.theme_columns: dict[str, int] = {}
        self.single_label = False
        # Per-theme claim thresholds (chosen by cross-validation; THEME_THRESHOLD if absent).
        self.thresholds: dict[str, float] = {}
        # Held-out precision of the best theme by its probability: the record's confidence.
        self.confidence_curve: tuple[list[float], list[float]] | None = None
        self.polarity_model: LinearLabels | None = None
        self.sentiment_model: LinearLabels | None = None

    @property
    def lexicon(self) -> _Lexicon:
        return _LEXICON  # the analyzer loads on first use, in shared.decide.vader

    # ------------------------------------------------------------- training

    def fit(self, examples: Sequence[TrainingExample]) -> TextModel:
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.preprocessing import MultiLabelBinarizer

        if not examples:
            raise ValueError("nothing to train on")
        features = _features().fit([e.text for e in examples])
        self.vectorizer = NgramTfidf.from_union(features)
        usable = [e for e in examples if e.themes]
        x = features.transform([e.text for e in usable]) if usable else None
        counts: dict[str, int] = {}
        for example in usable:
            for theme in example.themes:
                counts[theme] = counts.get(theme, 0) + 1
        # Calibration needs a few examples of a class in every fold.
        learnable = {
            t for t, n in counts.items() if n >= MIN_EXAMPLES_PER_CLASS * CALIBRATION_FOLDS
        }
        self.single_label = all(len(e.themes) == 1 for e in usable)
        if len(learnable) < 2:
            self.theme_model = None
        elif self.single_label:
            keep = [i for i, e in enumerate(usable) if e.themes[0] in learnable]
            labels = [usable[i].themes[0] for i in keep]
            calibrated = _calibrated_svm().fit(x[keep], labels)
            self.theme_model = SigmoidThemes.from_calibrated(calibrated)
            self.theme_classes = [str(c) for c in calibrated.classes_]
        else:
            binarizer = MultiLabelBinarizer(classes=sorted(learnable))
            y = binarizer.fit_transform([[t for t in e.themes if t in learnable] for e in usable])
            self.theme_classes = [str(c) for c in binarizer.classes_]
            ovr = OneVsRestClassifier(_calibrated_svm()).fit(x, y)
            self.theme_model = SigmoidThemes.from_one_vs_rest(ovr)
        self.theme_columns = {theme: j for j, theme in enumerate(self.theme_classes)}
        if x is not None:
            self._fit_polarity(usable, x)
        self._fit_sentiment(examples, features)
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        """The texts' n-gram TF-IDF rows (the model's features)."""
        if self.vectorizer is None:
            raise ValueError("the text model is not fitted")
        return self.vectorizer.transform(texts)

    def _pair_features(self, x_text: Any, themes: Sequence[str], lexicon: np.ndarray) -> Any:
        index = {theme: i for i, theme in enumerate(self.theme_classes)}
        rows = np.arange(len(themes))
        cols = np.asarray([index.get(t, len(index)) for t in themes])
        onehot = sparse.csr_matrix(
            (np.ones(len(themes)), (rows, cols)), shape=(len(themes), len(index) + 1)
        )
        return sparse.hstack([x_text, onehot, sparse.csr_matrix(lexicon)]).tocsr()

    def _fit_polarity(self, usable: Sequence[TrainingExample], x: Any) -> None:
        from sklearn.svm import LinearSVC

        rows, themes, labels = [], [], []
        for i, example in enumerate(usable):
            for theme, polarity in example.theme_sentiment:
                rows.append(i)
                themes.append(theme)
                labels.append(polarity)
        if len(set(labels)) < 2 or self.theme_model is None:
            return
        clause_texts = self.best_clauses([usable[i].text for i in rows], themes)
        lexicon = np.hstack(
            [
                self.lexicon.scores([usable[i].text for i in rows]),
                self.lexicon.scores(clause_texts),
            ]
        )
        pairs = self._pair_features(x[rows], themes, lexicon)
        self.polarity_model = LinearLabels.from_svc(
            LinearSVC(C=0.3, random_state=0).fit(pairs, labels)
        )

    def _fit_sentiment(self, examples: Sequence[TrainingExample], features: Any) -> None:
        from sklearn.svm import LinearSVC

        labelled = [e for e in examples if e.sentiment in SENTIMENTS]
        if len({e.sentiment for e in labelled}) < 2:
            return
        texts = [e.text for e in labelled]
        x = sparse.hstack(
            [features.transform(texts), sparse.csr_matrix(self.lexicon.scores(texts))]
        ).tocsr()
        self.sentiment_model = LinearLabels.from_svc(
            LinearSVC(C=0.3, random_state=0).fit(x, [e.sentiment for e in labelled])
        )

    # ----------------------------------------------------------- prediction

    def _theme_probabilities(self, x: Any) -> np.ndarray:
        assert self.theme_model is not None
        return self.theme_model.probabilities(x)

    def best_clauses(self, texts: Sequence[str], themes: Sequence[str]) -> list[str]:
        """Per (text, theme): the clause that most shows the theme, scored in one batch."""
        spans = [clauses(text) for text in texts]
        pieces = [text[b:e] for text, found in zip(texts, spans, strict=True) for b, e in found]
        known = set(self.theme_classes)
        many = [len(s) > 1 and t in known for s, t in zip(spans, themes, strict=True)]
        scores = None
        if any(many):
            scores = self._theme_probabilities(self.transform(pieces))
        out, at = [], 0
        for text, text_spans, theme, split in zip(texts, spans, themes, many, strict=True):
            if split and scores is not None:
                column = self.theme_classes.index(theme)
                best = int(scores[at : at + len(text_spans), column].argmax())
                out.append(pieces[at + best])
            else:
                out.append(pieces[at] if len(text_spans) == 1 else text)
            at += len(text_spans)
        return out

    def _confidence(self, probability: float) -> float:
        if self.confidence_curve is None:
            return probability
        return float(np.interp(probability, *self.confidence_curve))

    def _threshold(self, column: int) -> float:
        return self.thresholds.get(self.theme_classes[column], THEME_THRESHOLD)

    def _picks(self, row: np.ndarray, by_clause: np.ndarray) -> list[tuple[str, float, int]]:
        """(theme, probability, clause index) claimed, each theme with a clause of its own.

        A theme is claimed when the whole text passes its threshold (the best theme
        always is); a further theme whose best clause is already another theme's evidence
        stays only when that clause or the whole text makes it likely
        (:data:`SECOND_IN_CLAUSE`).
        """
        order = np.argsort(-row)
        if self.single_label:
            picks = [int(order[0])]
        else:
            picks = [int(j) for j in order if row[j] >= self._threshold(int(j))] or [int(order[0])]
        out: list[tuple[str, float, int]] = []
        used: set[int] = set()
        for column in picks:
            at = int(by_clause[:, column].argmax())
            shared_clause = out and at in used
            if shared_clause and max(row[column], by_clause[at, column]) < SECOND_IN_CLAUSE:
                continue
            used.add(at)
            out.append((self.theme_classes[column], float(row[column]), at))
        return out

    def clause_probabilities(
        self, texts: Sequence[str]
    ) -> tuple[Any, np.ndarray, list[list[tuple[int, int]]], list[np.ndarray]]:
        """The texts' features, whole-text probabilities, each text's clause spans and
        their probabilities (texts and clauses in one transform and one product)."""
        spans = [clauses(text) for text in texts]
        pieces = [
            text[b:e]
            for text, found in zip(texts, spans, strict=True)
            if len(found) > 1
            for b, e in found
        ]
        rows = self.transform([*texts, *pieces])
        x = rows[: len(texts)]
        probabilities = self._theme_probabilities(rows)
        whole = probabilities[: len(texts)]
        split = probabilities[len(texts) :] if pieces else None
        per_clause, at = [], 0
        for i, found in enumerate(spans):
            if len(found) > 1 and split is not None:
                per_clause.append(split[at : at + len(found)])
                at += len(found)
            else:
                per_clause.append(whole[i : i + 1])
        return x, whole, spans, per_clause

    def predict(self, texts: Sequence[str]) -> list[TextGuess]:
        if not texts:
            return []
        spans: list[list[tuple[int, int]]] = [[(0, len(t))] for t in texts]
        per_clause: list[np.ndarray] = []
        if self.theme_model is None:
            x = self.transform(texts)
            chosen: list[list[tuple[str, float, int]]] = [[] for _ in texts]
        else:
            x, whole, spans, per_clause = self.clause_probabilities(texts)
            chosen = [
                self._picks(row, clause_rows)
                for row, clause_rows in zip(whole, per_clause, strict=True)
            ]
        evidence = [
            [texts[i][spans[i][at][0] : spans[i][at][1]] for _, _, at in picks]
            for i, picks in enumerate(chosen)
        ]
        pairs = [[(theme, p) for theme, p, _ in picks] for picks in chosen]
        polarity = self._predict_polarity(x, texts, pairs, evidence)
        sentiments = self._predict_sentiment(x, texts)
        out = []
        for i, picks in enumerate(chosen):
            guesses = [
                ThemeGuess(theme, p, evidence[i][k], polarity[i][k], spans[i][at])
                for k, (theme, p, at) in enumerate(picks)
            ]
            confidence = self._confidence(guesses[0].probability) if guesses else None
            matrix = per_clause[i] if per_clause else None
            out.append(
                TextGuess(guesses, sentiments[i], confidence, spans[i], matrix, self.theme_columns)
            )
        return out

    def _predict_polarity(
        self,
        x: Any,
        texts: Sequence[str],
        chosen: list[list[tuple[str, float]]],
        evidence: list[list[str]],
    ) -> list[list[str | None]]:
        if self.polarity_model is None or not any(chosen):
            return [[None] * len(picks) for picks in chosen]
        rows = [i for i, picks in enumerate(chosen) for _ in picks]
        themes = [theme for picks in chosen for theme, _ in picks]
        quotes = [quote for quotes in evidence for quote in quotes]
        lexicon = np.hstack(
            [self.lexicon.scores([texts[i] for i in rows]), self.lexicon.scores(quotes)]
        )
        flat = iter(self.polarity_model.predict(self._pair_features(x[rows], themes, lexicon)))
        return [[str(next(flat)) for _ in picks] for picks in chosen]

    def _predict_sentiment(self, x: Any, texts: Sequence[str]) -> list[str | None]:
        if self.sentiment_model is None:
            return [None] * len(texts)
        features = sparse.hstack([x, sparse.csr_matrix(self.lexicon.scores(texts))]).tocsr()
        return [str(label) for label in self.sentiment_model.predict(features)]


__all__ = ["TextGuess", "TextModel", "ThemeGuess", "TrainingExample", "clauses"]
