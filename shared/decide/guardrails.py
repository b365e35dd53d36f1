"""Guardrails: what a model (or any classifier) may claim about a record, checked.

No evidence, no claim: a theme stays only if it is in the taxonomy and its evidence is a
verbatim quote of the masked text (case and whitespace aside). Ids must echo the batch.
Low confidence, or nothing left to claim, sends the record to human review with the
reasons. The owner comes from the taxonomy, never from model text, so feedback that
tries to instruct the model ("route this to legal") cannot change where it goes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.decide.classification import AnsweredRecord, Classification, Method, ThemeClaim
from shared.decide.taxonomy import FALLBACK_THEME, Taxonomy

_SPACE = re.compile(r"\s+")


def locate_evidence(quote: str, text: str) -> tuple[int, int] | None:
    """Where ``quote`` occurs in ``text``: exactly, else ignoring case and whitespace runs.

    Returns offsets into ``text`` (so the landed evidence is the text's own characters),
    or None when the quote is not there.
    """
    quote = quote.strip().strip("\"'“”‘’").strip()
    if not quote:
        return None
    exact = text.find(quote)
    if exact >= 0:
        return exact, exact + len(quote)
    # Normalised search: each character of the folded text remembers its source offset.
    folded: list[str] = []
    source: list[int] = []
    previous_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if previous_space:
                continue
            folded.append(" ")
            source.append(index)
            previous_space = True
            continue
        previous_space = False
        for piece in char.casefold():
            folded.append(piece)
            source.append(index)
    needle = _SPACE.sub(" ", quote.casefold())
    found = "".join(folded).find(needle)
    if found < 0:
        return None
    last = found + len(needle) - 1
    return source[found], source[last] + 1


@dataclass(slots=True)
class BatchIds:
    """How a batch answer's ids compare with the ids sent."""

    answers: dict[str, AnsweredRecord] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.repeated)


def match_batch_ids(sent: Sequence[str], answers: Iterable[AnsweredRecord]) -> BatchIds:
    """Pair answers with the ids sent; an id answered twice counts as not answered."""
    answers = list(answers)
    counts = Counter(answer.id for answer in answers)
    expected = set(sent)
    result = BatchIds(
        repeated=sorted(i for i, n in counts.items() if n > 1 and i in expected),
        unexpected=sorted(i for i in counts if i not in expected),
    )
    result.answers = {
        answer.id: answer for answer in answers if answer.id in expected and counts[answer.id] == 1
    }
    result.missing = [i for i in sent if i not in result.answers and i not in result.repeated]
    return result


def apply_guardrails(
    answer: AnsweredRecord,
    *,
    record_id: str,
    masked_text: str,
    taxonomy: Taxonomy,
    method: Method,
    min_confidence: float,
    classified_at: datetime,
    prompt_version: str | None = None,
    model: str | None = None,
) -> Classification:
    """The classification that may land for ``answer``, with every refusal explained."""
    known = set(taxonomy.theme_ids)
    claims: list[ThemeClaim] = []
    reasons: list[str] = []
    dropped = 0
    for answered in answer.themes:
        if answered.theme not in known:
            dropped += 1
            reasons.append(f"theme {answered.theme[:40]!r} is not in the taxonomy")
            continue
        span = locate_evidence(answered.evidence, masked_text)
        if span is None:
            dropped += 1
            reasons.append(f"no evidence, no claim: {answered.theme} quote is not in the text")
            continue
        if any(claim.theme == answered.theme for claim in claims):
            continue
        start, end = span
        claims.append(
            ThemeClaim(
                theme=answered.theme,
                evidence=masked_text[start:end],
                start=start,
                end=end,
                method=method,
                sentiment=answered.sentiment,
            )
        )
    if len(claims) > 1:
        # "other" means "nothing else fits": it cannot stand beside a real theme.
        claims = [claim for claim in claims if claim.theme != FALLBACK_THEME]
    confidence = answer.confidence
    if not math.isfinite(confidence) or not 0 <= confidence <= 1:
        reasons.append(f"confidence {confidence!r} is not between 0 and 1")
        confidence = 0.0
    elif confidence < min_confidence:
        reasons.append(f"confidence {confidence:.2f} is below {min_confidence:.2f}")
    if not claims:
        reasons.append("no theme with evidence")
    owner = taxonomy.theme(claims[0].theme).owner if claims else None
    return Classification(
        record_id=record_id,
        themes=claims,
        sentiment=answer.sentiment,
        urgency=answer.urgency,
        recommended_owner=owner,
        confidence=confidence,
        method=method,
        taxonomy_version=taxonomy.version,
        prompt_version=prompt_version,
        model=model,
        needs_review=bool(reasons),
        review_reasons=reasons,
        dropped_claims=dropped,
        classified_at=classified_at,
    )


__all__ = ["BatchIds", "apply_guardrails", "locate_evidence", "match_batch_ids"]
