"""Readable evidence: the offline classifier quotes a clause, not a keyword or a fragment."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.decide.classifier import MaskedText
from shared.decide.evidence import MIN_QUOTE_WORDS, quote, words
from shared.decide.local_classifier import LocalClassifier, shipped_text_model
from shared.decide.rules import RuleClassifier
from shared.decide.taxonomy import get_taxonomy
from shared.settings import PROJECT_ROOT

TAXONOMY = get_taxonomy(PROJECT_ROOT / "prompts")


@pytest.mark.parametrize(
    ("text", "keyword", "expected"),
    [
        # A keyword is quoted by its sentence.
        (
            "I reset it twice. Now my account is locked again. Help!",
            "account",
            "Now my account is locked again.",
        ),
        # A short sentence grows over its neighbour to three words.
        ("Broken. Again, after a week.", "Broken", "Broken. Again, after a week."),
        # A text shorter than three words is quoted whole.
        ("Overpriced!", "Overpriced", "Overpriced!"),
    ],
)
def test_a_quote_is_the_sentence_around_the_keyword(text: str, keyword: str, expected: str) -> None:
    start = text.index(keyword)
    assert quote(text, start, start + len(keyword)) == expected


def test_a_long_sentence_is_quoted_by_its_clause_not_a_fragment() -> None:
    text = (
        "We have been coming to this place for years with the whole family and the food is "
        "still lovely and the staff are as kind as ever, but the prices went up again and a "
        "main course now costs what a whole dinner used to cost."
    )
    start = text.index("prices")
    got = quote(text, start, start + len("prices"))
    assert got in text and "prices went up" in got
    assert words(got) >= MIN_QUOTE_WORDS and len(got) < len(text)


@pytest.mark.parametrize(
    "text",
    [
        "Great food, but not worth the prices.",
        "My account was charged for the old plan again.",
        "Still broken after the update.",
        "Support never replied. The strap broke after a week, and the refund is still pending.",
    ],
)
def test_every_theme_is_quoted_by_at_least_three_words_of_the_text(text: str) -> None:
    local = LocalClassifier(TAXONOMY, text_model=shipped_text_model(PROJECT_ROOT / "prompts"))
    result = local.classify_one(MaskedText("0" * 32, text))
    for theme in result.themes:
        assert text[theme.start : theme.end] == theme.evidence
        assert words(theme.evidence) >= MIN_QUOTE_WORDS, theme


def test_the_more_specific_rule_wins_over_a_keyword_inside_it() -> None:
    rules = RuleClassifier(TAXONOMY)
    assert [m.label for m in rules.themes("The sync is still broken.")] == ["performance_bugs"]
    assert [m.label for m in rules.themes("The strap is broken.")] == ["product_quality"]


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("Last year I paid $40, this year it's $55. Not renewing.", "pricing_billing"),
        ("Can you add a dark theme?", "feature_request"),
        ("The upload is stuck at 42% since noon.", "performance_bugs"),
        ("Die Verpackung war kaputt, aber die Uhr ist hervorragend.", "praise"),
    ],
)
def test_signals_without_the_usual_words(text: str, theme: str) -> None:
    assert theme in {m.label for m in RuleClassifier(TAXONOMY).themes(text)}


def test_theme_thresholds_are_chosen_on_held_out_folds_and_shipped_for_every_theme() -> None:
    from shared.decide.text_model import TrainingExample
    from shared.decide.theme_thresholds import (
        GRID,
        choose_thresholds,
        load_confidence_curve,
        load_thresholds,
    )

    examples = [
        TrainingExample(f"{word} number {i} was {adjective}", (theme,))
        for i in range(20)
        for word, adjective, theme in (
            ("parcel", "late", "shipping"),
            ("invoice", "wrong", "pricing_billing"),
            ("strap", "broken", "product_quality"),
        )
    ]
    chosen = choose_thresholds(examples, folds=2)
    assert set(chosen) == {"shipping", "pricing_billing", "product_quality"}
    assert all(value in GRID for value in chosen.values())
    shipped = load_thresholds(PROJECT_ROOT / "prompts")
    assert load_confidence_curve(PROJECT_ROOT / "prompts") is not None
    assert set(shipped) == set(TAXONOMY.theme_ids)


def test_the_trained_model_is_cached_on_disk_and_loaded_back(tmp_path: Path) -> None:
    from shared.decide.model_cache import cached

    built: list[int] = []

    def build() -> dict[str, int]:
        built.append(1)
        return {"answer": 42}

    assert cached("k1", build, tmp_path) == {"answer": 42}
    assert cached("k1", build, tmp_path) == {"answer": 42}
    assert len(built) == 1 and (tmp_path / "text-model-k1.pkl").is_file()
    (tmp_path / "text-model-k1.pkl").write_bytes(b"not a pickle")
    assert cached("k1", build, tmp_path) == {"answer": 42} and len(built) == 2
    # A new key (new training file or code) replaces the stale file.
    cached("k2", build, tmp_path)
    assert [p.name for p in tmp_path.glob("*.pkl")] == ["text-model-k2.pkl"]
