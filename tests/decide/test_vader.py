"""shared/decide/vader.py: the faster VADER gives vaderSentiment's scores exactly."""

from __future__ import annotations

import orjson
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from shared.decide.local_classifier import TRAINING_FILE
from shared.decide.text_model import clauses
from shared.decide.vader import FastVader, polarity
from shared.settings import PROJECT_ROOT

TRICKY = [
    "",
    "   ",
    "😀",
    "I love it 😀 but hate 😡 this",
    "never so good",
    "It was never this bad, without doubt the worst",
    "not bad at all!!",
    "kind of great",
    "sort of ok but kind of bad",
    "the least good thing, at least it works",
    "NEVER this BAD and NOT GOOD",
    "no problem at all, no",
    "The food was GREAT but the service was SLOW!!!???",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with (PROJECT_ROOT / "prompts" / TRAINING_FILE).open("rb") as handle:
        found = [orjson.loads(line)["text"] for line in handle if line.strip()]
    return [*TRICKY, *found, *(t[b:e] for t in found for b, e in clauses(t))]


def test_fast_vader_scores_every_text_as_vader_does(texts: list[str]) -> None:
    original, fast = SentimentIntensityAnalyzer(), FastVader()
    assert [fast.polarity_scores(t) for t in texts] == [original.polarity_scores(t) for t in texts]


def test_polarity_is_memoised_and_ordered_compound_pos_neg_neu() -> None:
    scores = SentimentIntensityAnalyzer().polarity_scores("Great value, terrible box.")
    assert polarity("Great value, terrible box.") == (
        scores["compound"],
        scores["pos"],
        scores["neg"],
        scores["neu"],
    )
    hits = polarity.cache_info().hits
    polarity("Great value, terrible box.")
    assert polarity.cache_info().hits == hits + 1
