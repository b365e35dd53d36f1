"""Person names without a language model: a given-name/surname gazetteer read with context.

A capital letter alone never makes a name. A span is a name when a cue says so (a
self-introduction "soy ...", a greeting or thanks "Danke ...", a sign-off at the end
"... - Name", "Att, Name") or when a title-case run is made of known names ("Maria Silva").
The gazetteer also vets the English model's guesses: a NER person with no known name in it
("Still Broken.", "Box Crushed", "Chrome") is dropped unless a cue stands before it.

The gazetteer is ``prompts/pii_names/`` (a subset of names-dataset, built by
scripts/build_name_gazetteer.py; see the NOTICE there), loaded once per masker.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.enrich.masking.config import NamesSpec
from shared.errors import ConfigError

# Stop-word lists shipped inside spaCy (no model needed): ordinary words are never names.
_STOP_WORD_LANGUAGES = ("en", "de", "es", "fr", "it", "pt", "nl")
_MAX_NAME_WORDS = 4
_SIGN_OFF_MARKS = frozenset("-–—/,\n|~")


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    text: str
    lower: str

    @property
    def title(self) -> bool:
        return self.text[0].isupper() and (len(self.text) == 1 or not self.text.isupper())


@functools.cache
def _token_pattern() -> Any:
    import regex

    # A possessive 's is a token of its own: "Amanda's daughter" holds the name "Amanda".
    return regex.compile(r"[^\W\d_]+(?:['’\-](?![sS]\b)[^\W\d_]+)*")


def _tokens(text: str) -> list[_Token]:
    return [
        _Token(m.start(), m.end(), m.group(), m.group().lower())
        for m in _token_pattern().finditer(text)
    ]


def _read_names(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the name gazetteer {path}: {exc}") from exc
    names: dict[str, int] = {}
    for line in lines:
        name, _, rank = line.partition("\t")
        if name:
            names[name] = int(rank or 0)
    return names


def _cue_table(phrases: Iterable[str]) -> dict[tuple[str, ...], None]:
    return {tuple(_token_pattern().findall(phrase.lower())): None for phrase in phrases}


class NameFinder:
    """Finds person names by gazetteer and context; see the module docstring."""

    def __init__(self, spec: NamesSpec) -> None:
        folder = spec.gazetteer
        self.spec = spec
        self.given = _read_names(folder / "given_names.txt")
        self.surnames = _read_names(folder / "surnames.txt")
        ordinary: set[str] = set()
        for code in _STOP_WORD_LANGUAGES:
            module = importlib.import_module(f"spacy.lang.{code}.stop_words")
            ordinary |= {word.lower() for word in module.STOP_WORDS}
        not_names = folder / "not_names.txt"
        if not_names.is_file():
            for line in not_names.read_text(encoding="utf-8").splitlines():
                ordinary.update(line.split("#", 1)[0].lower().split())
        ordinary.update(word.lower() for word in spec.not_names)
        self.ordinary = frozenset(ordinary)
        common = folder / "common_words.txt"
        words = common.read_text(encoding="utf-8").split() if common.is_file() else ()
        self.common = frozenset(words) | self.ordinary
        self.particles = frozenset(word.lower() for word in spec.particles)
        self.not_before_lone = frozenset(word.lower() for word in spec.not_before_lone_names)
        self.place_before = {
            preposition.lower(): frozenset(word.lower() for word in words)
            for preposition, words in spec.place_words_before
        }
        self.strong = _cue_table(spec.introductions)
        self.weak = _cue_table([*spec.weak_introductions, *spec.greetings, *spec.asks])
        self.sign_offs = _cue_table(spec.sign_offs)
        self._cue_lengths = sorted(
            {len(cue) for table in (self.strong, self.weak, self.sign_offs) for cue in table},
            reverse=True,
        )

    # ------------------------------------------------------------ words

    def known(self, word: str) -> bool:
        """A given name or surname of the gazetteer that is not an ordinary word."""
        lower = word.lower()
        return (lower in self.given or lower in self.surnames) and lower not in self.ordinary

    def _cue_before(self, tokens: Sequence[_Token], index: int, text: str) -> str | None:
        """'strong', 'weak' or 'sign_off' when the words before token ``index`` are a cue."""
        for length in self._cue_lengths:
            if length > index:
                continue
            words = tuple(t.lower for t in tokens[index - length : index])
            gap = text[tokens[index - 1].end : tokens[index].start]
            if gap.strip(" \t,:\n") or "\n\n" in gap:
                return None  # a sentence ends between the cue and the word
            if words in self.strong and not gap.strip(" \t"):
                return "strong"
            if words in self.weak:
                return "weak"
            if words in self.sign_offs and ("," in gap or "\n" in gap or ":" in gap):
                return "sign_off"  # "Best, Ana"; not "Best Purchase This Year"
        return None

    def supports(self, text: str, start: int, end: int, *, strict: bool = False) -> bool:
        """Whether a NER person guess may stand: it holds a known name, follows a cue, or
        (unless ``strict``) has a word that is not a common English one ("Barack Obama"
        stays, "Still Broken." goes)."""
        tokens = _tokens(text[:end])
        inside = [t for t in tokens if t.start >= start]
        if not inside or any(self.known(t.text) for t in inside):
            return True
        if self._cue_before(tokens, len(tokens) - len(inside), text) is not None:
            return True
        return not strict and not all(t.lower in self.common for t in inside)

    def may_hold_name(self, text: str) -> bool:
        """Whether NER could find a name: a capitalised word that does not open a sentence
        (but "I"), or a known name anywhere ("Sophie was great", "thanks to maria")."""
        for token in _tokens(text):
            if token.text[0].isupper():
                before = text[: token.start].rstrip(" \t\"'“‘(*-")
                if token.text != "I" and before and before[-1] not in ".!?\n:;":
                    return True
                if self.known(token.text):
                    return True  # "Sophie was great"
            elif token.lower not in self.common and self.known(token.text):
                return True  # "thanks to maria"
        return False

    # ------------------------------------------------------------ finding

    def find(self, text: str, *, title_runs: bool, lone: bool = False) -> list[tuple[int, int]]:
        """Character spans of names in ``text`` (``lone``: a single known given name too)."""
        caseless = lone and not any(char.isupper() for char in text)
        if caseless:
            text = self._capitalise_known(text)  # "eva kleist lives at ...", "leave me nina"
        tokens = _tokens(text)
        found: list[tuple[int, int]] = []
        index = 0
        while index < len(tokens):
            run = self._name_at(tokens, index, text, title_runs, lone, caseless)
            if run:
                found.append((tokens[index].start, tokens[index + run - 1].end))
                index += run
            else:
                index += 1
        tail = self._sign_off_at_end(tokens, text)
        if tail and not any(s <= tail[0] < e for s, e in found):
            found.append(tail)
        return found

    def _capitalise_known(self, text: str) -> str:
        """A text without capitals with its frequent, uncommon names capitalised (same
        offsets); rarer names ("pii" is one somewhere) stay lower case."""
        chars = list(text)
        best = self.spec.lower_case_text_rank
        for token in _tokens(text):
            first = token.text[0].upper()
            rank = min(
                self.given.get(token.lower, best + 1), self.surnames.get(token.lower, best + 1)
            )
            if (
                len(first) == 1
                and rank <= best
                and token.lower not in self.common
                and self.known(token.text)
            ):
                chars[token.start] = first
        return "".join(chars)

    def _name_at(
        self,
        tokens: Sequence[_Token],
        index: int,
        text: str,
        title_runs: bool,
        lone: bool,
        caseless: bool = False,
    ) -> int:
        token = tokens[index]
        if token.lower in self.ordinary:
            return 0
        cue = self._cue_before(tokens, index, text)
        if cue == "strong":
            return self._extend(tokens, index, text, lowercase=True)
        if cue in ("weak", "sign_off"):
            if self.known(token.text) or (cue == "sign_off" and token.title):
                return self._extend(tokens, index, text, lowercase=caseless or not token.title)
            return 0
        if title_runs and token.title and token.lower in self.given and self.known(token.text):
            run = self._extend(tokens, index, text, lowercase=False, known_only=True)
            if run >= 2:
                return run
            # A lone given name that is no common word ("Tomomi is from", "ask Siobhan").
            if not lone or token.lower in self.common or token.text.isupper():
                return 0
            before = tokens[index - 1].lower if index else ""
            if before in self.place_before:
                place = index > 1 and tokens[index - 2].lower in self.place_before[before]
                return 0 if place else 1  # "a cab to Chelsea"; "said Gladys to Logan"
            return 0 if before in self.not_before_lone else 1
        return 0

    def _extend(
        self,
        tokens: Sequence[_Token],
        index: int,
        text: str,
        *,
        lowercase: bool,
        known_only: bool = False,
    ) -> int:
        """How many tokens from ``index`` make one name (first token already accepted)."""
        run = 1
        pending = 0  # particles ("da", "van") count only when a name word follows them
        while index + run + pending < len(tokens) and run + pending < _MAX_NAME_WORDS:
            prev, token = tokens[index + run + pending - 1], tokens[index + run + pending]
            gap = text[prev.end : token.start]
            if gap != " " and not (gap == ". " and _is_initial(prev)):
                break
            if token.lower in self.particles or _is_initial(token):
                pending += 1  # "da", "van", a middle initial ("Ravil G Yefimov", "Iva D. Grusová")
                continue
            if token.lower in self.ordinary:
                break
            known = self.known(token.text) and (token.title or lowercase)
            # After a known given name a title-case word that is no common word is a surname
            # too ("Elita B Desaulniers"), not only a known one.
            uncommon = token.title and (token.lower not in self.common or not known_only)
            if not (known or uncommon):
                break
            run += pending + 1
            pending = 0
        return run

    def _sign_off_at_end(self, tokens: Sequence[_Token], text: str) -> tuple[int, int] | None:
        """A name closing the text after a dash, slash, comma or line break ("... - Ana Lima")."""
        if not tokens or text[tokens[-1].end :].strip(" \t\n.!") != "":
            return None
        first = len(tokens) - 1
        while first > 0 and len(tokens) - first < _MAX_NAME_WORDS:
            prev = tokens[first - 1]
            if text[prev.end : tokens[first].start] != " " or not (
                prev.title or prev.lower in self.particles
            ):
                break
            first -= 1
        while first < len(tokens) and tokens[first].lower in self.particles:
            first += 1
        run = tokens[first:]
        if not run or not all(t.title or t.lower in self.particles for t in run):
            return None
        words = [t for t in run if t.lower not in self.particles]
        if any(t.lower in self.ordinary for t in words):
            return None
        if not any(self.known(t.text) for t in words):
            return None
        before = text[: run[0].start].rstrip(" \t")
        if first > 0 and self._cue_before(tokens, first, text) == "sign_off":
            return run[0].start, run[-1].end
        if before and before[-1] in _SIGN_OFF_MARKS:
            return run[0].start, run[-1].end
        return None


def _is_initial(token: _Token) -> bool:
    return len(token.text) == 1 and token.text.isupper() and token.text != "I"


@functools.cache
def name_finder(spec: NamesSpec) -> NameFinder:
    """One finder per names config (the gazetteer is read once)."""
    return NameFinder(spec)


__all__ = ["NameFinder", "name_finder"]
