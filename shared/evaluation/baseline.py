"""The floor beside every number: plain TF-IDF + logistic regression (scikit-learn).

Trained on the dataset's train split and scored by the same metrics as any classifier:
word 1-2 gram TF-IDF, one-vs-rest logistic regression for themes (at least one theme per
record), a pair model for the feeling about each theme, and one for overall sentiment.
Deliberately untuned beyond what reproduces the commonly quoted floors (SemEval-2014
categories micro-F1 about 0.84, banking77 accuracy about 0.89).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shared.decide.taxonomy import FALLBACK_THEME, Taxonomy
from shared.evaluation.datasets import EvalRecord
from shared.evaluation.metrics import Prediction

NAME = "tfidf-logreg"


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)


def _logreg() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=10, max_iter=3000)


def _themes(record: EvalRecord) -> tuple[str, ...]:
    return record.labels or (FALLBACK_THEME,)


class TfidfBaseline:
    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.name = NAME

    def fit(self, train: Sequence[EvalRecord]) -> TfidfBaseline:
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.preprocessing import MultiLabelBinarizer

        self.with_themes = any(r.labels for r in train)
        texts = [r.text for r in train]
        self.vectorizer = _vectorizer().fit(texts)
        x = self.vectorizer.transform(texts)
        self.theme_model = self.binarizer = None
        if self.with_themes:
            self.binarizer = MultiLabelBinarizer()
            y = self.binarizer.fit_transform([_themes(r) for r in train])
            self.theme_model = OneVsRestClassifier(_logreg()).fit(x, y)
        pairs = [(r.text, t, p) for r in train for t, p in r.theme_sentiment.items()]
        self.pair_vectorizer = self.polarity_model = None
        if len({p for *_, p in pairs}) > 1:
            self.pair_vectorizer = _vectorizer().fit(
                [self._pair_text(text, theme) for text, theme, _ in pairs]
            )
            self.polarity_model = _logreg().fit(
                self.pair_vectorizer.transform([self._pair_text(t, th) for t, th, _ in pairs]),
                [p for *_, p in pairs],
            )
        with_sentiment = [r for r in train if r.sentiment]
        self.sentiment_model = None
        if len({r.sentiment for r in with_sentiment}) > 1:
            self.sentiment_model = _logreg().fit(
                self.vectorizer.transform([r.text for r in with_sentiment]),
                [r.sentiment for r in with_sentiment],
            )
        return self

    @staticmethod
    def _pair_text(text: str, theme: str) -> str:
        return f"{text} THEME{theme.replace('_', '')}"

    def predict(self, records: Sequence[EvalRecord]) -> list[Prediction]:
        texts = [r.text for r in records]
        x = self.vectorizer.transform(texts)
        themes: list[list[str]] = [[] for _ in records]
        if self.theme_model is not None and self.binarizer is not None:
            probabilities = np.asarray(self.theme_model.predict_proba(x))
            classes = list(self.binarizer.classes_)
            for i, row in enumerate(probabilities):
                picks = [j for j in np.argsort(-row) if row[j] >= 0.5] or [int(row.argmax())]
                themes[i] = [classes[j] for j in picks]
        sentiments: list[str | None] = [None] * len(records)
        if self.sentiment_model is not None:
            sentiments = [str(s) for s in self.sentiment_model.predict(x)]
        polarity: list[dict[str, str]] = [{} for _ in records]
        if self.polarity_model is not None and self.pair_vectorizer is not None:
            flat = [(i, t) for i, found in enumerate(themes) for t in found]
            if flat:
                answers = self.polarity_model.predict(
                    self.pair_vectorizer.transform([self._pair_text(texts[i], t) for i, t in flat])
                )
                for (i, theme), answer in zip(flat, answers, strict=True):
                    polarity[i][theme] = str(answer)
        owners = {theme.id: theme.owner for theme in self.taxonomy.themes}
        return [
            Prediction(
                themes=found,
                sentiment=sentiments[i],
                theme_sentiment=polarity[i],
                owner=owners.get(found[0]) if found else None,
            )
            for i, found in enumerate(themes)
        ]


__all__ = ["NAME", "TfidfBaseline"]
