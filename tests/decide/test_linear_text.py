"""The fitted text model as arrays (shared/decide/linear_text.py) gives scikit-learn's
numbers bit for bit: features, calibrated theme probabilities, SVM labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC

from shared.decide.linear_text import LinearLabels, NgramTfidf, SigmoidThemes
from shared.decide.local_classifier import TRAINING_FILE, load_training_examples
from shared.decide.taxonomy import get_taxonomy
from shared.decide.text_model import _features, clauses
from shared.settings import PROJECT_ROOT

PROMPTS = PROJECT_ROOT / "prompts"
ODD_TEXTS = [
    "",
    "a",
    "ok!!",
    "x\ty  z\n\nw",
    "ΑΣ Σ test",  # final sigma: lower-cased by context
    "café crème brûlée, TRÈS bon",
    "The strap broke after a week, but the seller refunded me at once.",
    "I I I I I I I I",
    "zzzzqqqq-unknown-token",
]


@pytest.fixture(scope="module")
def fitted() -> tuple[list[str], list[tuple[str, ...]], object]:
    examples = load_training_examples(PROMPTS / TRAINING_FILE, get_taxonomy(PROMPTS))
    texts = [e.text for e in examples]
    union = _features().fit(texts)
    return texts, [e.themes for e in examples], union


def _pieces(texts: list[str]) -> list[str]:
    return [*texts, *(t[b:e] for t in texts for b, e in clauses(t))]


def test_ngram_tfidf_is_the_feature_union_bit_for_bit(fitted) -> None:
    texts, _, union = fitted
    ours = NgramTfidf.from_union(union)
    docs = _pieces(texts[:200] + ODD_TEXTS)
    expected, got = union.transform(docs).tocsr(), ours.transform(docs)
    assert got.shape == expected.shape
    assert (got != expected).nnz == 0
    # The per-word cache is warm now: the same numbers again.
    assert (ours.transform(docs) != expected).nnz == 0


def test_sigmoid_themes_are_the_calibrated_probabilities_bit_for_bit(fitted) -> None:
    texts, themes, union = fitted
    x = union.transform(texts)
    binarizer = MultiLabelBinarizer()
    y = binarizer.fit_transform(themes)

    def svm() -> CalibratedClassifierCV:
        return CalibratedClassifierCV(
            LinearSVC(C=0.5, random_state=0), cv=3, method="sigmoid", ensemble=False
        )

    probe = union.transform(_pieces(texts[:100] + ODD_TEXTS))
    one_vs_rest = OneVsRestClassifier(svm()).fit(x, y)
    assert np.array_equal(
        SigmoidThemes.from_one_vs_rest(one_vs_rest).probabilities(probe),
        one_vs_rest.predict_proba(probe),
    )
    main_theme = [t[0] for t in themes]
    multiclass = svm().fit(x, main_theme)
    assert np.array_equal(
        SigmoidThemes.from_calibrated(multiclass).probabilities(probe),
        multiclass.predict_proba(probe),
    )
    binary = svm().fit(x, [t == "praise" for t in main_theme])
    assert np.array_equal(
        SigmoidThemes.from_calibrated(binary).probabilities(probe), binary.predict_proba(probe)
    )
    labels = LinearSVC(C=0.3, random_state=0).fit(x, main_theme)
    assert list(LinearLabels.from_svc(labels).predict(probe)) == list(labels.predict(probe))


def test_only_the_text_model_s_own_features_are_reproduced(fitted) -> None:
    _, _, union = fitted
    union.transformer_list[1][1].set_params(analyzer="char")
    try:
        with pytest.raises(ValueError, match="feature union"):
            NgramTfidf.from_union(union)
    finally:
        union.transformer_list[1][1].set_params(analyzer="char_wb")
