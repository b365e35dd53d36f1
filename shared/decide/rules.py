"""The rules layer: taxonomy keywords and patterns that settle obvious records.

Deterministic and offline. Each theme's keywords (whole words or phrases, any case) and
regular expressions are compiled into one pattern per theme; a match claims the theme
with the matched span of the (masked) text as its evidence. Urgency patterns work the
same way, highest level first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.decide.taxonomy import URGENCIES, Taxonomy, Urgency


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that fired: the theme (or urgency level) and the span that proves it."""

    label: str
    start: int
    end: int
    evidence: str


def _theme_pattern(keywords: tuple[str, ...], patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    # Longest keywords first, so "customer service" wins over "service".
    words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
    parts = [r"\b" + r"\s+".join(map(re.escape, word.split())) + r"\b" for word in words]
    parts += [f"(?:{pattern})" for pattern in patterns]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


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
            if (pattern := _theme_pattern(theme.keywords, theme.patterns)) is not None
        ]
        # Highest level first: the first level with a match is the urgency.
        self._urgency = [
            (level, pattern)
            for level in reversed(URGENCIES)
            if (pattern := _theme_pattern((), taxonomy.urgency[level].patterns)) is not None
        ]

    def themes(self, text: str) -> list[RuleMatch]:
        """The first match of every theme whose rules fire, in text order."""
        found = []
        for theme_id, pattern in self._themes:
            match = pattern.search(text)
            if match is not None and match.end() > match.start():
                found.append(RuleMatch(theme_id, match.start(), match.end(), match.group()))
        # The more specific rule wins: "broken" inside "the sync is still broken" is a bug.
        found = [m for m in found if not any(_inside(m, other) for other in found)]
        return sorted(found, key=lambda m: (m.start, m.label))

    def urgency(self, text: str) -> RuleMatch | None:
        """The highest urgency level whose patterns fire, with the span; None if none."""
        for level, pattern in self._urgency:
            match = pattern.search(text)
            if match is not None:
                return RuleMatch(level, match.start(), match.end(), match.group())
        return None

    def urgency_level(self, text: str, default: Urgency = "low") -> Urgency:
        match = self.urgency(text)
        return match.label if match is not None else default  # type: ignore[return-value]


__all__ = ["RuleClassifier", "RuleMatch"]
