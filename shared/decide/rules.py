"""The rules layer: taxonomy keywords and patterns that settle obvious records.

Deterministic and offline. Each theme's keywords (whole words or phrases, any case) and
regular expressions are compiled into one pattern per theme; a match claims the theme
with the matched span of the (masked) text as its evidence. Urgency patterns work the
same way, highest level first.
"""

from __future__ import annotations

import re
import re._casefix
import re._parser
from dataclasses import dataclass

from shared.decide.taxonomy import URGENCIES, Taxonomy, Urgency

# Compiled alternations of a theme's alternatives present in a text, kept per theme.
SUBSET_CACHE = 4096
# Characters that a case-insensitive regex equates with others beyond lower-casing
# ("ſ" with "s", "ı" with "i", "µ" with "μ"): a text holding one is matched without the
# literal pre-check (see :class:`_Prefiltered`).
_EXTRA_CASES = frozenset(
    chr(c) for key, extra in re._casefix._EXTRA_CASES.items() for c in (key, *extra) if c >= 128
)


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that fired: the theme (or urgency level) and the span that proves it."""

    label: str
    start: int
    end: int
    evidence: str


def _alternatives(keywords: tuple[str, ...], patterns: tuple[str, ...]) -> list[str]:
    # Longest keywords first, so "customer service" wins over "service".
    words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
    parts = [r"\b" + r"\s+".join(map(re.escape, word.split())) + r"\b" for word in words]
    return parts + [f"(?:{pattern})" for pattern in patterns]


def _theme_pattern(keywords: tuple[str, ...], patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = _alternatives(keywords, patterns)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _prefiltered(keywords: tuple[str, ...], patterns: tuple[str, ...]) -> _Prefiltered | None:
    pattern = _theme_pattern(keywords, patterns)
    return _Prefiltered(pattern, _alternatives(keywords, patterns)) if pattern else None


def _literal_runs(items: list) -> list[str]:
    """Runs of consecutive literal characters in a parsed regex sequence."""
    runs, run = [], []
    for op, value in items:
        if op is re._parser.LITERAL:
            run.append(chr(value))
            continue
        if run:
            runs.append("".join(run))
        run = []
    if run:
        runs.append("".join(run))
    return runs


def _needs(items: list) -> frozenset[str] | None:
    """Lower-case strings one of which every match of the parsed sequence contains
    (None: no such set found), longest first choice."""
    choices = [frozenset({run}) for run in _literal_runs(items)]
    for op, value in items:
        if op is re._parser.IN and all(kind is re._parser.LITERAL for kind, _ in value):
            choices.append(frozenset(chr(c) for _, c in value))
        elif op in (re._parser.MAX_REPEAT, re._parser.MIN_REPEAT) and value[0] >= 1:
            inner = _needs(list(value[2]))
            if inner is not None:
                choices.append(inner)
        elif op is re._parser.SUBPATTERN:
            inner = _needs(list(value[3]))
            if inner is not None:
                choices.append(inner)
        elif op is re._parser.BRANCH:
            alternatives = [_needs(list(branch)) for branch in value[1]]
            if all(a is not None for a in alternatives):
                choices.append(frozenset().union(*alternatives))  # type: ignore[arg-type]
    choices = [
        frozenset(s.lower() for s in c)
        for c in choices
        if all(s and len(s.lower()) == len(s) and not (_EXTRA_CASES & set(s.lower())) for s in c)
    ]
    return max(choices, key=lambda c: min(len(s) for s in c), default=None)


def _required_strings(regex: str) -> frozenset[str] | None:
    try:
        return _needs(list(re._parser.parse(regex, re.IGNORECASE)))
    except (re.error, TypeError, ValueError):  # pragma: no cover - compiled elsewhere first
        return None


def _lower_for_literals(text: str) -> str | None:
    """``text.lower()`` when a case-insensitive regex matches it exactly as the lower-case
    text contains the lower-case literal (no character with extra case equivalents)."""
    lowered = text.lower()
    if text.isascii():
        return lowered
    if len(lowered) != len(text) or _EXTRA_CASES.intersection(lowered):
        return None
    return lowered


class _Prefiltered:
    """A theme's regex, run over only the alternatives whose literal text is there.

    Every alternative (keyword or pattern) needs some literal text (``\bprice\b`` needs
    "price"); one whose strings are all absent from the lower-cased text cannot match, and
    dropping it from the alternation changes no match (the others keep their order). A
    case-insensitive alternation scans slowly, so most texts skip most of it.
    """

    def __init__(self, pattern: re.Pattern[str], alternatives: list[str]) -> None:
        self.pattern = pattern
        self.alternatives = alternatives
        self.needs = [_required_strings(alternative) for alternative in alternatives]
        self._subsets: dict[tuple[int, ...], re.Pattern[str]] = {}

    def _subset(self, chosen: tuple[int, ...]) -> re.Pattern[str]:
        found = self._subsets.get(chosen)
        if found is None:
            if len(self._subsets) >= SUBSET_CACHE:
                self._subsets.clear()
            joined = "|".join(self.alternatives[i] for i in chosen)
            found = self._subsets[chosen] = re.compile(joined, re.IGNORECASE)
        return found

    def search(self, text: str, present: frozenset[str] | None) -> re.Match[str] | None:
        """The regex's first match in ``text``; ``present``: which of the required strings
        the lower-cased text holds (None: unknown, the whole regex runs)."""
        if present is None:
            return self.pattern.search(text)
        chosen = tuple(
            i
            for i, needs in enumerate(self.needs)
            if needs is None or not needs.isdisjoint(present)
        )
        if not chosen:
            return None
        if len(chosen) == len(self.alternatives):
            return self.pattern.search(text)
        return self._subset(chosen).search(text)


def _inside(match: RuleMatch, other: RuleMatch) -> bool:
    """``match`` lies within ``other``'s longer span (another theme's)."""
    return (
        other.label != match.label
        and other.start <= match.start
        and match.end <= other.end
        and other.end - other.start > match.end - match.start
    )


class RuleClassifier:
    """Matches a taxonomy's rules against texts; built once per taxonomy."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._themes = [
            (theme.id, pattern)
            for theme in taxonomy.themes
            if (pattern := _prefiltered(theme.keywords, theme.patterns)) is not None
        ]
        # Highest level first: the first level with a match is the urgency.
        self._urgency = [
            (level, pattern)
            for level in reversed(URGENCIES)
            if (pattern := _prefiltered((), taxonomy.urgency[level].patterns)) is not None
        ]
        self._last: tuple[str | None, frozenset[str] | None] = (None, None)
        # Every required string of every rule, looked for once per text.
        self._needs = frozenset(
            need
            for _, pattern in [*self._themes, *self._urgency]
            for needs in pattern.needs
            if needs is not None
            for need in needs
        )

    def _present(self, text: str) -> frozenset[str] | None:
        last_text, last = self._last
        if last_text == text:  # themes() then urgency() on the same text
            return last
        lowered = _lower_for_literals(text)
        found = None if lowered is None else frozenset(n for n in self._needs if n in lowered)
        self._last = (text, found)
        return found

    def themes(self, text: str) -> list[RuleMatch]:
        """The first match of every theme whose rules fire, in text order."""
        found = []
        present = self._present(text)
        for theme_id, pattern in self._themes:
            match = pattern.search(text, present)
            if match is not None and match.end() > match.start():
                found.append(RuleMatch(theme_id, match.start(), match.end(), match.group()))
        # The more specific rule wins: "broken" inside "the sync is still broken" is a bug.
        found = [m for m in found if not any(_inside(m, other) for other in found)]
        return sorted(found, key=lambda m: (m.start, m.label))

    def urgency(self, text: str) -> RuleMatch | None:
        """The highest urgency level whose patterns fire, with the span; None if none."""
        present = self._present(text)
        for level, pattern in self._urgency:
            match = pattern.search(text, present)
            if match is not None:
                return RuleMatch(level, match.start(), match.end(), match.group())
        return None

    def urgency_level(self, text: str, default: Urgency = "low") -> Urgency:
        match = self.urgency(text)
        return match.label if match is not None else default  # type: ignore[return-value]


__all__ = ["RuleClassifier", "RuleMatch"]
