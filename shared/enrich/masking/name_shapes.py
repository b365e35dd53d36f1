"""Names by the shape of the text around them, where no cue word stands before them.

Each shape needs name-like words: title case, not an ordinary word, and either a known name
or no common English word ("Monjeau", "Pyysalo"; not "Still", "Box"). The shapes:

- speaker labels: two or more lines that open with one word and a colon ("Ubul: What a
  wife.\\nNicole: Remember ..."), each label a name;
- lists: "Monjeau, Graves and Reed", "Nekolná and Pearson were ...": all members but one
  name-like, one of them a known name;
- the maker of a work: "the Jensen novel", "a Calquín Cazares concert";
- after words that name without vouching for a known name: "was called Djevad Šušulić";
- a text opening by addressing someone: "Warrane, can I please speak to ...";
- a title-case run followed by what people do: "Scott had given ...", "Hakuba said",
  "eva kleist lives at" (lower case only for known names);
- a text opening with a name line above more short lines (a signature or contact card:
  "Einojuhani Pyysalo\\n\\nLocal transit bus driver").
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.enrich.masking.names import NameFinder

_WORD = r"[^\W\d_][\w'’\-]*"
_TITLE = r"\p{Lu}[\p{Ll}'’\-]+"


@functools.cache
def _patterns(
    works: tuple[str, ...], verbs: tuple[str, ...], cues: tuple[str, ...]
) -> dict[str, Any]:
    import regex

    initial = r"(?:\p{Lu}\.?[ ])"
    run = rf"{_TITLE}(?:[ ]{initial}?{_TITLE}){{0,2}}"
    alternation = "|".join(regex.escape(w) for w in sorted(set(works), key=len, reverse=True))
    verb = "|".join(regex.escape(v) for v in sorted(set(verbs), key=len, reverse=True))
    cue = "|".join(regex.escape(c) for c in sorted(set(cues), key=len, reverse=True))
    return {
        "label": regex.compile(rf"(?m)^[ \t>]*({_WORD})[ \t]*:(?![/\d])"),
        "list": regex.compile(
            rf"(?<![\w'’\-])(?:{_TITLE})(?:,[ ]{_TITLE})*,?[ ](?:and|&)[ ]{_TITLE}(?![\w'’\-])"
        ),
        "work": regex.compile(
            rf"\b(?i:the|a|an)[ ]({run})(?=[ ](?i:{alternation})\b)" if works else r"(?!)"
        ),
        "verb": regex.compile(
            rf"(?<![\w'’\-])({run}|{_WORD}[ ]{_WORD})(?=[ ](?i:{verb})\b)" if verbs else r"(?!)"
        ),
        "cue": regex.compile(rf"\b(?i:{cue})[ ]({run})" if cues else r"(?!)"),
        "vocative": regex.compile(
            rf"\A[ \t]*({_TITLE}),[ ]+(?=(?i:can|could|would|will|please|i|we|you|thanks|thank|"
            r"how|what|where|why|when|do|did|are|is|have|has)\b)"
        ),
        "heading": regex.compile(rf"\A[ \t]*({_WORD}(?:[ ]{initial}?{_WORD}){{1,2}})[ \t]*\n"),
    }


def _words(value: str) -> list[str]:
    return [w.strip(".") for w in value.split() if len(w.strip(".")) > 1]


def _name_like(finder: NameFinder, word: str) -> bool:
    lower = word.lower()
    if not word[:1].isupper() or word.isupper() or lower in finder.ordinary:
        return False
    return finder.known(word) or lower not in finder.common


def _all_name_like(finder: NameFinder, value: str) -> bool:
    words = _words(value)
    return bool(words) and all(_name_like(finder, w) for w in words)


def shape_names(finder: NameFinder, text: str) -> list[tuple[int, int]]:
    """Character spans of names found by the shapes of the module docstring."""
    spec = finder.spec
    patterns = _patterns(spec.work_nouns, spec.person_verbs, spec.title_introductions)
    found: list[tuple[int, int]] = []
    capitals = text != text.lower()  # every shape but lower-case runs needs a capital
    labels = list(patterns["label"].finditer(text)) if ":" in text else []
    if len(labels) >= 2:
        for match in labels:
            word = match.group(1)
            lower = word.lower()
            if lower not in finder.ordinary and (finder.known(word) or lower not in finder.common):
                found.append(match.span(1))
    lists = capitals and (" and " in text or " & " in text)
    for match in patterns["list"].finditer(text) if lists else ():
        members = [m.strip() for m in match.group().replace(" & ", ", ").split(",")]
        members = [w for m in members for w in m.split(" and ") if w.strip()]
        members = [m.strip() for m in members]
        like = sum(_name_like(finder, m) for m in members)
        anchor = any(finder.known(m) and m.lower() not in finder.common for m in members)
        if like >= len(members) - 1 and anchor:  # not "a Birthday Gift and Delivery"
            start = match.start()
            for member in members:
                at = text.index(member, start)
                if member.lower() not in finder.ordinary:
                    found.append((at, at + len(member)))
                start = at + len(member)
    for name in ("work", "cue") if capitals else ():
        for match in patterns[name].finditer(text):
            if _all_name_like(finder, match.group(1)):
                found.append(match.span(1))
    vocative = patterns["vocative"].match(text) if capitals else None
    if vocative and _all_name_like(finder, vocative.group(1)):
        found.append(vocative.span(1))
    for match in patterns["verb"].finditer(text):
        value = match.group(1)
        if _all_name_like(finder, value) or (
            value.islower() and all(finder.known(w) for w in value.split())
        ):
            found.append(match.span(1))
    heading = patterns["heading"].match(text) if "\n" in text else None
    below = text[heading.end() :].strip().split("\n", 1) if heading else []
    if heading and len(below) == 2 and len(below[0].split()) <= 6 and below[0][-1] not in ".!?":
        value = heading.group(1)
        words = _words(value)
        if all(w.lower() not in finder.ordinary for w in words) and (
            _all_name_like(finder, value)
            or (value.islower() and all(finder.known(w) for w in words))
        ):
            found.append(heading.span(1))
    return found


__all__ = ["shape_names"]
