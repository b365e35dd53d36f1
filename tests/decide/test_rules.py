"""The rules layer: a theme's alternation runs only over the alternatives whose literal
text is in the text, with the same matches as the whole alternation."""

from __future__ import annotations

import re

import orjson
import pytest

from shared.decide.local_classifier import TRAINING_FILE
from shared.decide.rules import RuleClassifier, _required_strings, _theme_pattern
from shared.decide.taxonomy import get_taxonomy
from shared.settings import PROJECT_ROOT

PROMPTS = PROJECT_ROOT / "prompts"
RULES = RuleClassifier(get_taxonomy(PROMPTS))
# Characters a case-insensitive regex equates beyond lower-casing, and İ (lower-cases to
# two characters): the pre-check must step aside for them.
ODD = [
    "PRİCE is high",
    "ſhipping was late",
    "the prıce doubled",
    "REFUND NOW",
    "ΜΟΝΕΥ back Σ",
    "$5 then $9.99",
    "it costs twice what it did",
    "Kelvin \u212a refund",
    "ﬅ and ﬆ",
    "I was charged twice at checkout!",
    "my account was locked, lawyer next",
    "",
]


def _plain(text: str) -> tuple[list[tuple[str, int, int]], tuple[str, int, int] | None]:
    """What the rules would say with every theme's whole regex, no pre-check."""
    found = []
    for theme in RULES.taxonomy.themes:
        pattern = _theme_pattern(theme.keywords, theme.patterns)
        match = pattern.search(text) if pattern else None
        if match is not None and match.end() > match.start():
            found.append((theme.id, match.start(), match.end()))
    inside = [
        m
        for m in found
        if any(
            o[0] != m[0] and o[1] <= m[1] and m[2] <= o[2] and o[2] - o[1] > m[2] - m[1]
            for o in found
        )
    ]
    themes = sorted((m for m in found if m not in inside), key=lambda m: (m[1], m[0]))
    urgency = None
    for level in ("high", "medium", "low"):
        pattern = _theme_pattern((), RULES.taxonomy.urgency[level].patterns)
        match = pattern.search(text) if pattern else None
        if match is not None:
            urgency = (level, match.start(), match.end())
            break
    return themes, urgency


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with (PROMPTS / TRAINING_FILE).open("rb") as handle:
        found = [orjson.loads(line)["text"] for line in handle if line.strip()]
    return [*ODD, *found, *(t.upper() for t in found)]


def test_the_pre_check_changes_no_match(texts: list[str]) -> None:
    for text in texts:
        urgency = RULES.urgency(text)
        got = (
            [(m.label, m.start, m.end) for m in RULES.themes(text)],
            urgency and (urgency.label, urgency.start, urgency.end),
        )
        assert got == _plain(text), text


@pytest.mark.parametrize(
    ("regex", "needs"),
    [
        (r"\bvalue for money\b", {"value for money"}),
        (r"\bpromo\s+code\b", {"promo"}),
        (r"\b(?:stuck|frozen) (?:at|on) \d+", {"stuck", "frozen"}),
        (r"(?:[$€£]\s?\d|\b\d+\s?(?:€|dollars?))", {"$", "€", "£", "dollar"}),
        (r"\bcancel(?:l?ing)? my (?:subscription|membership)\b", {"subscription", "membership"}),
        (r"\d+%", {"%"}),
        (r"\d+\s*\w*", None),
        (r"\bPRICE\b", {"price"}),
    ],
)
def test_required_strings_of_a_pattern(regex: str, needs: set[str] | None) -> None:
    re.compile(regex)
    found = _required_strings(regex)
    assert (set(found) if found is not None else None) == needs
