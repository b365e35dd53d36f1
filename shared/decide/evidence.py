"""Quotes a reader can use: the sentence or clause of a text around a span.

A theme's evidence is a verbatim span of the masked text (the guardrails check that):
never a lone keyword ("account") or a fragment ("but not worth the prices."). The quote
is the sentence holding the span; a long sentence is cut to the clause holding it, and a
quote under :data:`MIN_QUOTE_WORDS` words grows over its neighbours until it has them or
is the whole text.
"""

from __future__ import annotations

import re

MIN_QUOTE_WORDS = 3
# Past this many words a sentence is quoted by its clause rather than whole.
MAX_SENTENCE_WORDS = 30
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
# Clause breaks inside a long sentence: ; : and a comma or dash before a new clause.
_CLAUSE_BREAK = re.compile(
    r"\s*[;:]\s+|\s+[-–—]\s+|,\s*(?=(?:but|and|although|though|however|while|so|because|"
    r"pero|aber|mais|ma|maar|mas|y|und|et|e|en)\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def _spans(text: str, start: int, end: int, breaks: re.Pattern[str]) -> list[tuple[int, int]]:
    """``text[start:end]`` split at ``breaks``, each piece trimmed, empty pieces dropped."""
    out, at = [], start
    for match in breaks.finditer(text, start, end):
        out.append((at, match.start()))
        at = match.end()
    out.append((at, end))
    trimmed = []
    for begin, stop in out:
        piece = text[begin:stop]
        stripped = piece.strip()
        if stripped:
            offset = begin + piece.index(stripped)
            trimmed.append((offset, offset + len(stripped)))
    return trimmed


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the text's sentences (and lines), trimmed; the whole text if none."""
    return _spans(text, 0, len(text), _SENTENCE_END) or [(0, len(text))]


def words(text: str) -> int:
    return len(_WORD.findall(text))


def _grow(text: str, pieces: list[tuple[int, int]], index: int) -> tuple[int, int]:
    """``pieces[index]`` joined with its neighbours (right first) until it has enough words."""
    low = high = index
    while words(text[pieces[low][0] : pieces[high][1]]) < MIN_QUOTE_WORDS:
        if high + 1 < len(pieces):
            high += 1
        elif low > 0:
            low -= 1
        else:
            break
    return pieces[low][0], pieces[high][1]


def _holding(pieces: list[tuple[int, int]], start: int, end: int) -> int:
    """Index of the piece that holds most of ``[start, end)`` (the nearest one if none)."""
    best, best_overlap = 0, -1
    for i, (begin, stop) in enumerate(pieces):
        overlap = min(stop, end) - max(begin, start)
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    return best


def quote_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the readable quote around ``text[start:end]`` (see the module doc)."""
    sentences = sentence_spans(text)
    at = _holding(sentences, start, end)
    begin, stop = _grow(text, sentences, at)
    if words(text[begin:stop]) > MAX_SENTENCE_WORDS:
        clauses = _spans(text, begin, stop, _CLAUSE_BREAK)
        if len(clauses) > 1:
            begin, stop = _grow(text, clauses, _holding(clauses, start, end))
    return begin, stop


def quote(text: str, start: int, end: int) -> str:
    """The readable quote around ``text[start:end]``: a verbatim substring of ``text``."""
    begin, stop = quote_span(text, start, end)
    return text[begin:stop]


__all__ = ["MIN_QUOTE_WORDS", "quote", "quote_span", "sentence_spans", "words"]
