"""Street-address patterns, assembled from the word lists of the config."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from shared.enrich.masking.config import StreetAddressSpec


def alternation(words: Iterable[str]) -> str:
    import regex

    ordered = sorted({word for word in words if word}, key=len, reverse=True)
    return "|".join(regex.escape(word) for word in ordered)


def street_patterns(spec: StreetAddressSpec) -> list[tuple[str, str, float]]:
    """(name, regex, score) for street addresses; case-sensitive except inside ``(?i:)``."""
    # Words are matched possessively (*+): a shorter part of a word is never what a pattern
    # needs next, and not backtracking into it keeps the patterns linear.
    word = r"[^\W\d_][\w'’\-]*+\.?"  # any script; may end in an abbreviation dot
    cap = r"[\p{Lu}∆][\w'’\-∆]*+\.?"  # ∆ (U+2206) stands for a Greek Δ in some sources
    stop = alternation(spec.stop_words)
    free = rf"(?!(?i:{stop})(?!\w)){word}" if stop else word
    particles = alternation(spec.name_particles)
    ordinal = r"\d{1,3}(?:st|nd|rd|th)(?!\w)"  # "123 5th Ave"
    name = rf"(?:{cap}|{ordinal}|(?:{particles})(?!\w))" if particles else rf"(?:{cap}|{ordinal})"
    num = r"\d{1,6}[A-Za-z]?(?:[/-]\d{1,4}[A-Za-z]?)?"
    # "Atatürk Cad. No: 12", "Strada X nr. 5", "ул. Ленина, д. 5"
    labelled = r"(?:(?:(?i:no|nr)|Nº|nº|n\.º|д)[.:]?[ \t]*)?"
    nums = rf"{num}(?:[ \t]+{num})?"  # "1987 74 Diakou Street": a building number first
    gap = r"[ \t]+"
    end = r"(?![\w'’])\.?"  # not "80's"
    types = alternation([*spec.street_types, *spec.loose_street_types])
    loose_types = alternation(
        [*spec.loose_street_types, *(w.upper() for w in spec.loose_street_types)]
    )
    cap_types = alternation(
        [
            *spec.street_types,
            *(w.upper() for w in spec.street_types),
            *(w.title() for w in spec.street_types),
        ]
    )
    house = rf"(?:,?{gap}{labelled}{num}{end})?"  # "Passauer Strasse 33" after the type too
    prefixes = alternation(spec.prefix_types)
    suffixes = alternation(spec.street_suffixes)
    units = alternation(spec.unit_words)
    unit = rf"(?:(?i:{units})\.?[ \t]*#?[ \t]*\d{{1,5}}[A-Za-z]?)" if units else r"(?!)"
    # Digits ("62704", "3610-114", "53-320"), Dutch "7412 SL", UK "NW1 6XE", Canadian "K1A 0B1".
    zip_code = (
        r"(?:\d{3,6}(?:-\d{3,4})?(?:[ ]\p{Lu}{2})?|\d{2}-\d{3}"
        r"|\p{Lu}{1,2}\d[\p{Lu}\d]?[ ]\d\p{Lu}{2}|\p{Lu}\d\p{Lu}[ ]\d\p{Lu}\d)(?!\w)"
    )
    part = r"[ \t]*(?:,|\n)[\s,>]*(?:[?|*>]+[ \t]+)?"  # next part of a block: comma or line
    line_end = r"(?=[ \t]*(?:\n|$))"
    # A region: "IL", "NSW", a number ("43"), a lower-case code ("mp"; "nan" where it is empty).
    region = r"(?:\p{Lu}{2,3}|\p{Ll}{2,3}|\d{1,2})(?!\w)"
    region_zip = rf"{region}(?:[ \t]+|{part}){zip_code}"
    qualifier = r"(?:[ \t]*\([^()\n]{1,30}\))?"  # "Cyprus (Greek)", "ΑΓΛΑΝΤΖΙΑ (ΑΓΛΑΓΓΙΑ)"
    locality = (
        rf"(?:{cap}(?:[ \t]+{name}){{0,3}}{qualifier}"
        rf"(?:[ \t]*,?[ \t]*(?:{region_zip}|{zip_code}|\p{{Lu}}{{2,3}}(?!\w)))?"
        rf"|{zip_code}(?:[ \t]+{cap}(?:[ \t]+{cap}){{0,2}})?|{region_zip}|\p{{Lu}}{{2,3}}(?!\w)"
        rf"|{word}(?:[ \t]+{word}){{0,2}}[ \t]*,[ \t]*{region_zip})"  # "delmas, mp 35739"
    )
    # Apartments, the town after them, then up to four ", City" / "STATE 12345" parts.
    tail = (
        rf"(?:(?:{part}|{gap}){unit}){{0,2}}"
        rf"(?:(?<={unit}){gap}(?:{cap}(?:{gap}{cap}){{0,2}}|{free}(?:{gap}{free}){{0,2}}{line_end}))?"
        rf"(?:{part}{locality}){{0,4}}"
    )
    # "Suite 541 6343 Skogstien 106": only the units that stand before a street (cheaper).
    lead_units = alternation(spec.units_before_street)
    lead = (
        rf"(?:(?i:{lead_units})\.?[ \t]*#?[ \t]*\d{{1,5}}[A-Za-z]?[ \t,]+)?" if lead_units else ""
    )
    postal_block = rf"(?:{part}{locality}){{1,4}}(?<=\d{{3}})"  # ends in a postal code
    corner_street = rf"(?:{free}|{num}\.?)(?:{gap}(?:{free}|{num}\.?)){{0,5}}"
    patterns: list[tuple[str, str, float]] = [
        (
            "number, street, type",
            rf"\b{lead}{nums},?{gap}(?:{name}{gap}){{1,4}}(?:{cap_types}){end}{house}{tail}",
            spec.score,
        ),
        (
            "street, type, number",
            # Inner words may be lower case: "Árpád fejedelem útja 3.", "Avenue du Golf 5".
            rf"\b{lead}{name}{gap}(?:(?:{name}|{free}){gap}){{0,3}}(?:{cap_types}){end},?{gap}"
            rf"{labelled}{num}{end}{tail}",
            spec.score,
        ),
        (
            "number, street, type (any case)",
            rf"\b{lead}{nums},?{gap}(?:{free}{gap}){{1,4}}(?i:{types}){end}{tail}",
            spec.weak_score,
        ),
        (
            "PO box, military and ship addresses",
            rf"\b{lead}(?:{nums}{gap})?(?:(?i:p\.?[ \t]?o\.?[ \t]?box)[ \t]*\d{{1,6}}"
            r"|(?:PSC|CMR|Unit)[ \t]+\d{1,5},?[ \t]+Box[ \t]+\d{1,5}"
            r"|(?i:USNS|USNV|USS|USCGC)[ \t]+[^\W\d_]+)"
            r"(?:\s*(?i:APO|FPO|DPO)[ \t]+(?i:AA|AE|AP)[ \t]+\d{5})?" + tail,
            spec.score,
        ),
        (
            "corner of two streets",
            rf"(?i:\bthe[ \t]+)?(?i:corner[ \t]+of)[ \t]+{corner_street}[ \t]+(?i:and|&)[ \t]+"
            + corner_street,
            spec.score,
        ),
        (
            "number, words, number line",
            rf"(?m)^[ \t>]*\K{lead}{num}{gap}(?:{name}{gap}){{1,3}}{num}{end}{tail}",
            spec.score,
        ),
        (
            "number, words, number",
            rf"\b{lead}{num}{gap}(?:{free}{gap}){{1,3}}{num}{end}{tail}",
            spec.weak_score,
        ),
        ("words, number", rf"\b(?:{name}{gap}){{1,3}}{num}{end}{tail}", spec.weak_score),
        # The weak shapes are addresses without an address word when a unit or a postal
        # code goes with them: "23100 Ilichova 23 Suite 274", "Suite 541 6343 Skogstien 106",
        # "3747 fourth avenue suite 112", "5638 Aasa 43\nHumilimont, nan 78618".
        (
            "number, words, number, unit",
            rf"\b{lead}(?:\d{{3,6}}[A-Za-z]?,?{gap}(?:{num}{gap})?(?:{free}{gap}){{1,4}}"
            rf"|(?:{nums},?{gap})?(?:{name}{gap}){{1,4}}){num}{end},?{gap}{unit}{tail}",
            spec.score,
        ),
        (
            "unit, number, words, number",
            rf"\b{unit}[ \t,]+{nums},?{gap}(?:{free}{gap}){{1,3}}{num}{end}{tail}",
            spec.score,
        ),
        (
            "number, street, type (any case), unit",
            rf"\b{lead}{nums},?{gap}(?:{free}{gap}){{1,4}}(?i:{types}){end},?{gap}{unit}{tail}",
            spec.score,
        ),
        (
            "long number, words, number",  # "27534 Þorsteinsgata 63": building, street, house
            rf"\b{lead}\d{{3,6}}[A-Za-z]?,?{gap}(?:{name}{gap}){{1,3}}{num}{end}{tail}",
            spec.score,
        ),
        (
            "number, words, number, postal code",
            rf"\b{lead}{nums},?{gap}(?:{free}{gap}){{1,3}}{num}{end}"
            rf"{postal_block}{tail}",
            spec.score,
        ),
        (
            "number, street, loose type, then a unit or a postal code",
            rf"\b{lead}{nums},?{gap}(?:{name}{gap}){{1,4}}(?:{loose_types}){end}"
            rf"(?=(?:{part}|,?{gap}){unit}|{postal_block}){tail}",
            spec.score,
        ),
        ("unit", rf"\b{unit}(?!\w)", spec.weak_score),
    ]
    named_types = alternation(spec.named_street_types)
    if named_types:
        patterns.append(
            (
                "a street without a number after on/at",  # "shows on Marina Fort Street"
                rf"\b(?:on|at|On|At)[ \t]+\K(?:{cap}{gap}){{1,3}}(?:{named_types})(?!\w)",
                spec.score,
            )
        )
    if prefixes:
        patterns.append(
            (
                "type, numbered street, # house",  # Colombian "Calle 12 # 34-56"
                rf"\b(?:{prefixes}){end}{gap}\d{{1,3}}[A-Z]?{gap}(?:#|No\.?)[ \t]*"
                rf"\d{{1,3}}[A-Z]?-\d{{1,3}}(?!\w){tail}",
                spec.score,
            )
        )
        prefix = rf"(?:{prefixes}){end}(?:{gap}{name}){{1,5}}"
        # "Via Roma 10", "Rua das Flores, 123"; ", 75002 Paris" is the postal block's.
        house_after = (
            rf"(?:{gap}{labelled}{num}{end}"
            rf"|,{gap}{labelled}\d{{1,4}}[A-Za-z]?(?![\w'’])\.?(?![ \t]+\p{{Lu}}))"
        )
        patterns.append(
            (
                "type, street and a number before or after",
                rf"\b{lead}(?:{nums},?{gap}{prefix}(?:{house_after})?|{prefix}{house_after}){tail}",
                spec.score,
            )
        )
    if suffixes:
        glued = rf"[^\W\d_][\w'’\-]*+(?<=(?i:{suffixes}))"  # a word ending in a suffix
        patterns.append(
            (
                "street-suffix, number",
                rf"\b{lead}(?:{nums}{gap})?(?:{name}{gap}){{0,2}}{glued}\.?,?{gap}{num}{end}{tail}",
                spec.score,
            )
        )
    return patterns


@functools.cache
def _intersection() -> Any:
    import regex

    return regex.compile(r"(?<![\w'’\-])\p{Lu}[\w'’\-]*+[ \t]+(?:and|&)[ \t]+$")


def intersection_start(text: str, start: int) -> int:
    """Where an address starting at ``start`` really starts: "Maarit and Hersnapvej 75" is
    the corner of two streets written without "the corner of"."""
    match = _intersection().search(text, max(0, start - 40), start)
    return match.start() if match else start
