"""Street-address patterns, assembled from the word lists of the config."""

from __future__ import annotations

from collections.abc import Iterable

from shared.enrich.masking.config import StreetAddressSpec


def alternation(words: Iterable[str]) -> str:
    import regex

    ordered = sorted({word for word in words if word}, key=len, reverse=True)
    return "|".join(regex.escape(word) for word in ordered)


def street_patterns(spec: StreetAddressSpec) -> list[tuple[str, str, float]]:
    """(name, regex, score) for street addresses; case-sensitive except inside ``(?i:)``."""
    word = r"[^\W\d_][\w'’\-]*\.?"  # any script; may end in an abbreviation dot
    cap = r"\p{Lu}[\w'’\-]*\.?"
    stop = alternation(spec.stop_words)
    free = rf"(?!(?i:{stop})(?!\w)){word}" if stop else word
    particles = alternation(spec.name_particles)
    name = rf"(?:{cap}|(?:{particles})(?!\w))" if particles else cap
    num = r"\d{1,6}[A-Za-z]?(?:[/-]\d{1,4}[A-Za-z]?)?"
    nums = rf"{num}(?:[ \t]+{num})?"  # "1987 74 Diakou Street": a building number first
    gap = r"[ \t]+"
    end = r"(?!\w)\.?"
    types = alternation(spec.street_types)
    cap_types = alternation(
        [
            *spec.street_types,
            *(w.upper() for w in spec.street_types),
            *(w.title() for w in spec.street_types),
        ]
    )
    house = rf"(?:,?{gap}{num}{end})?"  # "Passauer Strasse 33" after the type too
    prefixes = alternation(spec.prefix_types)
    suffixes = alternation(spec.street_suffixes)
    units = alternation(spec.unit_words)
    unit = rf"(?:(?i:{units})\.?[ \t]*#?[ \t]*\d{{1,5}}[A-Za-z]?)" if units else r"(?!)"
    zip_code = r"\d{3,6}(?:-\d{3,4})?"
    locality = (
        rf"(?:{cap}(?:[ \t]+{name}){{0,3}}(?:[ \t]*,?[ \t]*{zip_code})?"
        rf"|{zip_code}(?:[ \t]+{cap}(?:[ \t]+{cap}){{0,2}})?|\p{{Lu}}{{2}}[ \t]+{zip_code})"
    )
    part = r"[ \t]*(?:,|\n)[\s,>]*"  # the next part of a postal block: comma or (quoted) line
    # Apartments, the town after them, then up to four ", City" / "STATE 12345" parts.
    tail = (
        rf"(?:(?:{part}|{gap}){unit}){{0,2}}(?:(?<={unit}){gap}{cap}(?:{gap}{cap}){{0,2}})?"
        rf"(?:{part}{locality}){{0,4}}"
    )
    lead = rf"(?:{unit}[ \t,]+)?"
    corner_street = rf"(?:{free}|{num})(?:{gap}(?:{free}|{num})){{0,5}}"
    patterns: list[tuple[str, str, float]] = [
        (
            "number, street, type",
            rf"\b{lead}{nums},?{gap}(?:{name}{gap}){{1,4}}(?:{cap_types}){end}{house}{tail}",
            spec.score,
        ),
        (
            "street, type, number",
            rf"\b{lead}(?:{name}{gap}){{1,4}}(?:{cap_types}){end},?{gap}{num}{end}{tail}",
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
        ("unit", rf"\b{unit}(?!\w)", spec.weak_score),
    ]
    if prefixes:
        prefix = rf"(?:{prefixes}){end}(?:{gap}{name}){{1,5}}"
        house_after = rf"{gap}{num}{end}"  # "Via Roma 10"; ", 75002" is a postal code
        patterns.append(
            (
                "type, street and a number before or after",
                rf"\b{lead}(?:{nums},?{gap}{prefix}(?:{house_after})?|{prefix}{house_after}){tail}",
                spec.score,
            )
        )
    if suffixes:
        glued = rf"[^\W\d_][\w'’\-]*(?<=(?i:{suffixes}))(?!\w)"  # a word ending in a suffix
        patterns.append(
            (
                "street-suffix, number",
                rf"\b{lead}(?:{nums}{gap})?(?:{name}{gap}){{0,2}}{glued}\.?,?{gap}{num}{end}{tail}",
                spec.score,
            )
        )
    return patterns
