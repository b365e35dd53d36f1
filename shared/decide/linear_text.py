"""The fitted offline text model as arrays: n-gram TF-IDF and linear scores in numpy.

scikit-learn fits the model (:mod:`shared.decide.text_model`); predicting with its objects
costs a second n-gram analysis of every clause, joblib and per-estimator calls, and a
1.7 s import. These classes compute the same numbers from the fitted parameters:

* :class:`NgramTfidf`: the word 1-2 gram and character (``char_wb``) 2-5 gram TF-IDF
  union, with each word's character n-grams looked up once per process (a word's
  character n-grams do not depend on its neighbours), all texts of a batch in one matrix;
* :class:`SigmoidThemes`: every calibrated linear SVM of the theme model in one sparse
  product, then each one's Platt sigmoid (and the multi-class normalisation);
* :class:`LinearLabels`: a linear SVM's ``predict``.

Unpickling them needs numpy and scipy only.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit

# Words whose character n-grams are remembered (a review corpus has a few 10k distinct words).
WORD_CACHE = 200_000
_EMPTY = np.zeros(0, dtype=np.int64)
ROWS_PER_BLOCK = 512


def _row_sums_in_order(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Per CSR row, the sum of its values added left to right (as scikit-learn's Cython
    loop does; numpy's own sums are pairwise and differ in the last bit)."""
    lengths = np.diff(indptr)
    sums = np.zeros(len(lengths))
    for first in range(0, len(lengths), ROWS_PER_BLOCK):
        block = slice(first, first + ROWS_PER_BLOCK)
        widths = lengths[block]
        if not widths.size or not widths.max():
            continue
        start, stop = indptr[first], indptr[min(first + ROWS_PER_BLOCK, len(lengths))]
        padded = np.zeros((len(widths), int(widths.max())))
        padded[np.arange(len(widths)).repeat(widths), _positions(widths)] = data[start:stop]
        sums[block] = np.cumsum(padded, axis=1)[:, -1]
    return sums


def _positions(widths: np.ndarray) -> np.ndarray:
    """0, 1, ..., w-1 for each width, concatenated."""
    ends = np.cumsum(widths)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - widths, widths)


def _l2_normalise(matrix: sparse.csr_matrix) -> None:
    """Each row to unit length, in place (rows of zeros stay zero), as scikit-learn does."""
    if not matrix.nnz:
        return
    norms = np.sqrt(_row_sums_in_order(matrix.data * matrix.data, matrix.indptr))
    norms[norms == 0.0] = 1.0
    matrix.data /= np.repeat(norms, np.diff(matrix.indptr))


class NgramTfidf:
    """scikit-learn's ``FeatureUnion`` of a word and a ``char_wb`` TfidfVectorizer, in numpy."""

    def __init__(
        self,
        word_vocabulary: dict[str, int],
        word_idf: np.ndarray,
        word_pattern: str,
        char_vocabulary: dict[str, int],
        char_idf: np.ndarray,
        char_range: tuple[int, int],
    ) -> None:
        self.word_vocabulary = word_vocabulary
        self.word_idf = word_idf
        self.word_pattern = word_pattern
        self.char_vocabulary = char_vocabulary
        self.char_idf = char_idf
        self.char_range = char_range
        self._tokens = re.compile(word_pattern)
        self._words: dict[str, np.ndarray] = {}

    @classmethod
    def from_union(cls, union: Any) -> NgramTfidf:
        parts = dict(union.transformer_list)
        words, chars = parts["words"], parts["chars"]
        if (
            words.analyzer != "word"
            or tuple(words.ngram_range) != (1, 2)
            or chars.analyzer != "char_wb"
            or not (words.lowercase and chars.lowercase)
            or not (words.sublinear_tf and chars.sublinear_tf)
            or words.norm != "l2"
            or chars.norm != "l2"
            or words.strip_accents
            or chars.strip_accents
            or words.stop_words
        ):
            raise ValueError("NgramTfidf reproduces only the text model's own feature union")
        return cls(
            {k: int(v) for k, v in words.vocabulary_.items()},
            np.asarray(words.idf_, dtype=np.float64),
            words.token_pattern,
            {k: int(v) for k, v in chars.vocabulary_.items()},
            np.asarray(chars.idf_, dtype=np.float64),
            tuple(chars.ngram_range),
        )

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokens": None, "_words": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tokens = re.compile(self.word_pattern)

    def clear_cache(self) -> None:
        self._words.clear()

    @property
    def width(self) -> int:
        return len(self.word_idf) + len(self.char_idf)

    def _char_columns(self, word: str) -> np.ndarray:
        """Vocabulary columns of the character n-grams of one (lower-case) word, repeated
        as often as they occur (scikit-learn's ``_char_wb_ngrams``)."""
        found = self._words.get(word)
        if found is not None:
            return found
        padded = f" {word} "
        low, high = self.char_range
        vocabulary = self.char_vocabulary
        columns = []
        for n in range(low, high + 1):
            if len(padded) <= n:
                # scikit-learn counts a word no longer than n once, as itself
                if (column := vocabulary.get(padded)) is not None:
                    columns.append(column)
                break
            for start in range(len(padded) - n + 1):
                if (column := vocabulary.get(padded[start : start + n])) is not None:
                    columns.append(column)
        found = np.asarray(columns, dtype=np.int64) if columns else _EMPTY
        if len(self._words) >= WORD_CACHE:
            self._words.clear()
        self._words[word] = found
        return found

    def _word_columns(self, text: str) -> list[int]:
        tokens = self._tokens.findall(text)
        vocabulary = self.word_vocabulary
        columns = [c for t in tokens if (c := vocabulary.get(t)) is not None]
        columns += [
            c
            for a, b in itertools.pairwise(tokens)
            if (c := vocabulary.get(f"{a} {b}")) is not None
        ]
        return columns

    @staticmethod
    def _tfidf(
        rows: list[np.ndarray], n_rows: int, width: int, idf: np.ndarray
    ) -> sparse.csr_matrix:
        lengths = [len(r) for r in rows]
        columns = np.concatenate(rows) if rows else _EMPTY
        row_ids = np.repeat(np.arange(n_rows), lengths)
        counts = sparse.csr_matrix(
            (np.ones(len(columns)), (row_ids, columns)), shape=(n_rows, width)
        )
        counts.sum_duplicates()
        np.log(counts.data, counts.data)
        counts.data += 1.0
        counts.data *= idf[counts.indices]
        _l2_normalise(counts)
        return counts

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The TF-IDF rows of ``texts`` (words, then characters), as the union gives."""
        lowered = [text.lower() for text in texts]
        word_rows = [np.asarray(self._word_columns(t), dtype=np.int64) for t in lowered]
        char_rows = []
        for text in lowered:
            per_word = [self._char_columns(word) for word in text.split()]
            char_rows.append(np.concatenate(per_word) if per_word else _EMPTY)
        words = self._tfidf(word_rows, len(texts), len(self.word_idf), self.word_idf)
        chars = self._tfidf(char_rows, len(texts), len(self.char_idf), self.char_idf)
        return sparse.hstack([words, chars], format="csr")


class SigmoidThemes:
    """Probabilities of a (one-vs-rest of) ``CalibratedClassifierCV(LinearSVC, sigmoid,
    ensemble=False)``: one product for every class, then each class's sigmoid."""

    def __init__(
        self, weights: np.ndarray, intercepts: np.ndarray, a: np.ndarray, b: np.ndarray, mode: str
    ) -> None:
        self.weights = weights  # features x columns of decision values
        self.intercepts = intercepts
        self.a, self.b = a, b
        self.mode = mode  # "one_vs_rest", "binary" or "multiclass"

    @staticmethod
    def _parts(calibrated: Any) -> tuple[Any, list[Any]]:
        if (
            calibrated.method != "sigmoid"
            or len(calibrated.calibrated_classifiers_) != 1
            or type(calibrated.estimator).__name__ != "LinearSVC"
        ):
            raise ValueError("SigmoidThemes reproduces only one sigmoid-calibrated LinearSVC")
        inner = calibrated.calibrated_classifiers_[0]
        return inner.estimator, list(inner.calibrators)

    @classmethod
    def from_one_vs_rest(cls, model: Any) -> SigmoidThemes:
        weights, intercepts, a, b = [], [], [], []
        for estimator in model.estimators_:
            if type(estimator).__name__ != "CalibratedClassifierCV":
                raise ValueError(f"not a calibrated SVM: {type(estimator).__name__}")
            svm, (calibrator,) = cls._parts(estimator)
            if list(estimator.classes_) != [0, 1]:
                raise ValueError("a one-vs-rest column is not binary")
            weights.append(svm.coef_[0])
            intercepts.append(svm.intercept_[0])
            a.append(calibrator.a_)
            b.append(calibrator.b_)
        stacked = np.asarray(weights).T.copy()
        return cls(stacked, np.asarray(intercepts), np.asarray(a), np.asarray(b), "one_vs_rest")

    @classmethod
    def from_calibrated(cls, model: Any) -> SigmoidThemes:
        svm, calibrators = cls._parts(model)
        if list(svm.classes_) != list(model.classes_):
            raise ValueError("class order of the SVM and the calibration differ")
        a = np.asarray([c.a_ for c in calibrators])
        b = np.asarray([c.b_ for c in calibrators])
        mode = "binary" if len(model.classes_) == 2 else "multiclass"
        return cls(svm.coef_.T.copy(), np.asarray(svm.intercept_), a, b, mode)

    def probabilities(self, x: sparse.csr_matrix) -> np.ndarray:
        decision = np.asarray(x @ self.weights) + self.intercepts
        calibrated = expit(-(self.a * decision + self.b))
        if self.mode == "one_vs_rest":
            proba = calibrated
        elif self.mode == "binary":
            proba = np.empty((x.shape[0], 2))
            proba[:, 1] = calibrated[:, 0]
            proba[:, 0] = 1.0 - proba[:, 1]
        else:
            denominator = np.sum(calibrated, axis=1)[:, np.newaxis]
            uniform = np.full_like(calibrated, 1 / calibrated.shape[1])
            proba = np.divide(calibrated, denominator, out=uniform, where=denominator != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


class LinearLabels:
    """A fitted ``LinearSVC``'s ``predict``: the best class by decision value."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray) -> None:
        self.coef_t = coef.T.copy()
        self.intercept = intercept
        self.classes = classes

    @classmethod
    def from_svc(cls, svm: Any) -> LinearLabels:
        return cls(np.asarray(svm.coef_), np.asarray(svm.intercept_), np.asarray(svm.classes_))

    def predict(self, x: sparse.csr_matrix) -> np.ndarray:
        scores = np.asarray(x @ self.coef_t) + self.intercept
        if scores.shape[1] == 1:
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[scores.argmax(axis=1)]


__all__ = ["LinearLabels", "NgramTfidf", "SigmoidThemes"]
