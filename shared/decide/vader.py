"""VADER's sentiment scores, the same numbers in less time, memoised per text.

``vaderSentiment`` (3.3.2) lower-cases the whole text again for every sentiment word it
checks for negation and idioms (quadratic in the words), and copies an emoji-free text
character by character. :class:`FastVader` overrides just those steps with ones that
give identical results; the scores of a text are kept (a text is scored for its
sentiment and again beside each of its themes).
"""

from __future__ import annotations

import functools
from typing import Any

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    N_SCALAR,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    SentiText,
    negated,
)

MEMO_SIZE = 8192


class FastVader(SentimentIntensityAnalyzer):
    """``SentimentIntensityAnalyzer`` without its repeated work (same scores)."""

    def __init__(self) -> None:
        super().__init__()
        # The original replaces single characters only: a text without one is unchanged.
        self._emoji_characters = frozenset(e for e in self.emojis if len(e) == 1)

    def polarity_scores(self, text: str) -> dict[str, float]:
        if not self._emoji_characters.isdisjoint(text):
            return super().polarity_scores(text)
        text = text.strip()
        # From here on, vaderSentiment 3.3.2's polarity_scores (MIT licence) as written.
        sentitext = SentiText(text)
        sentiments: list[Any] = []
        words_and_emoticons = sentitext.words_and_emoticons
        for i, item in enumerate(words_and_emoticons):
            valence = 0
            if item.lower() in BOOSTER_DICT:
                sentiments.append(valence)
                continue
            if (
                i < len(words_and_emoticons) - 1
                and item.lower() == "kind"
                and words_and_emoticons[i + 1].lower() == "of"
            ):
                sentiments.append(valence)
                continue
            sentiments = self.sentiment_valence(valence, sentitext, item, i, sentiments)
        sentiments = self._but_check(words_and_emoticons, sentiments)
        return self.score_valence(sentiments, text)

    @staticmethod
    def _negation_check(valence: float, words: list[str], start_i: int, i: int) -> float:
        # The original's checks, lower-casing only the (at most three) words it reads.
        def low(at: int) -> str:
            return str(words[at]).lower()

        if start_i == 0 and negated([low(i - 1)]):
            valence = valence * N_SCALAR
        if start_i == 1:
            if low(i - 2) == "never" and (low(i - 1) == "so" or low(i - 1) == "this"):
                valence = valence * 1.25
            elif low(i - 2) == "without" and low(i - 1) == "doubt":
                pass
            elif negated([low(i - 2)]):
                valence = valence * N_SCALAR
        if start_i == 2:
            if (low(i - 3) == "never" and (low(i - 2) == "so" or low(i - 2) == "this")) or (
                low(i - 1) == "so" or low(i - 1) == "this"
            ):
                valence = valence * 1.25
            elif low(i - 3) == "without" and (low(i - 2) == "doubt" or low(i - 1) == "doubt"):
                pass
            elif negated([low(i - 3)]):
                valence = valence * N_SCALAR
        return valence

    @staticmethod
    def _special_idioms_check(valence: float, words: list[str], i: int) -> float:
        # The original's checks over words i-3 .. i+2 only (it lower-cased every word).
        low = {at: str(words[at]).lower() for at in range(i - 3, min(i + 3, len(words)))}
        onezero = f"{low[i - 1]} {low[i]}"
        twoonezero = f"{low[i - 2]} {low[i - 1]} {low[i]}"
        twoone = f"{low[i - 2]} {low[i - 1]}"
        threetwoone = f"{low[i - 3]} {low[i - 2]} {low[i - 1]}"
        threetwo = f"{low[i - 3]} {low[i - 2]}"
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in SPECIAL_CASES:
                valence = SPECIAL_CASES[seq]
                break
        if len(words) - 1 > i:
            zeroone = f"{low[i]} {low[i + 1]}"
            if zeroone in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroone]
        if len(words) - 1 > i + 1:
            zeroonetwo = f"{low[i]} {low[i + 1]} {low[i + 2]}"
            if zeroonetwo in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroonetwo]
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in BOOSTER_DICT:
                valence = valence + BOOSTER_DICT[n_gram]
        return valence


@functools.cache
def analyzer() -> FastVader:
    """The process's analyzer (loading the lexicon takes ~0.02-0.2 s)."""
    return FastVader()


@functools.lru_cache(maxsize=MEMO_SIZE)
def polarity(text: str) -> tuple[float, float, float, float]:
    """VADER's (compound, pos, neg, neu) for ``text``."""
    scores = analyzer().polarity_scores(text)
    return (scores["compound"], scores["pos"], scores["neg"], scores["neu"])


__all__ = ["FastVader", "analyzer", "polarity"]
