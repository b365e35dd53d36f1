"""Human overrides: a reviewer's decision replaces the classifier's, with an audit trail.

A record in the review queue (or any classified record) gets a reviewer's themes,
sentiment, urgency or owner. The override is checked like a model's answer (themes from
the taxonomy, evidence quoted from the masked text, owners the taxonomy knows), then
lands twice: the corrected :class:`Classification` (``method="human"``) in
``landing/classified/`` for Auto Loader (Silver keeps the latest row per record), and a
``human_override`` row with the before and after in ``landing/audit/``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.decide.classification import Classification, ThemeClaim
from shared.decide.guardrails import locate_evidence
from shared.decide.taxonomy import Sentiment, Taxonomy, Urgency
from shared.errors import PermanentInputError
from shared.models import AwareDatetime
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)

CLASSIFIED_DATASET = "classified"
REVIEW_DATASET = "review"
AUDIT_DATASET = "audit"
FEEDBACK_DATASET = "feedback"


class OverrideTheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str
    evidence: str | None = Field(
        default=None, description="quote of the masked text; optional if the theme was claimed"
    )
    sentiment: Sentiment | None = None


class HumanOverride(BaseModel):
    """One reviewer decision; fields left out keep the classifier's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    reviewer: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)
    themes: list[OverrideTheme] | None = Field(default=None, min_length=1)
    sentiment: Sentiment | None = None
    urgency: Urgency | None = None
    owner: str | None = None
    decided_at: AwareDatetime | None = None


def apply_override(
    current: Classification,
    override: HumanOverride,
    taxonomy: Taxonomy,
    *,
    masked_text: str | None,
    now: datetime,
) -> Classification:
    """The classification after the reviewer's decision; refuses what the taxonomy cannot hold."""
    claims = list(current.themes)
    if override.themes is not None:
        claims = [_claim(t, current, taxonomy, masked_text) for t in override.themes]
    owners = {theme.owner for theme in taxonomy.themes}
    if override.owner is not None and override.owner not in owners:
        raise PermanentInputError(
            f"owner {override.owner!r} is not a team of the taxonomy ({', '.join(sorted(owners))})"
        )
    owner = override.owner or (taxonomy.theme(claims[0].theme).owner if claims else None)
    return current.model_copy(
        update={
            "themes": claims,
            "sentiment": override.sentiment or current.sentiment,
            "urgency": override.urgency or current.urgency,
            "recommended_owner": owner,
            "confidence": 1.0,
            "method": "human",
            "needs_review": False,
            "review_reasons": [],
            "reviewed_by": override.reviewer,
            "classified_at": override.decided_at or now,
        }
    )


def _claim(
    wanted: OverrideTheme, current: Classification, taxonomy: Taxonomy, masked_text: str | None
) -> ThemeClaim:
    if wanted.theme not in taxonomy.theme_ids:
        raise PermanentInputError(f"theme {wanted.theme!r} is not in the taxonomy")
    before = next((c for c in current.themes if c.theme == wanted.theme), None)
    if wanted.evidence is None:
        if before is None:
            raise PermanentInputError(
                f"theme {wanted.theme!r} is new for this record: "
                "give `evidence`, a quote of its text"
            )
        sentiment = wanted.sentiment or before.sentiment
        return before.model_copy(update={"method": "human", "sentiment": sentiment})
    if masked_text is None:
        raise PermanentInputError(
            f"record {current.record_id}: its text was not found to check the quote"
        )
    span = locate_evidence(wanted.evidence, masked_text)
    if span is None:
        raise PermanentInputError(
            f"theme {wanted.theme!r}: the evidence is not a quote of the text"
        )
    start, end = span
    return ThemeClaim(
        theme=wanted.theme,
        evidence=masked_text[start:end],
        start=start,
        end=end,
        method="human",
        sentiment=wanted.sentiment or (before.sentiment if before else None),
    )


# ---------------------------------------------------------------- storage


def _rows(storage: ObjectStorage, container: str, dataset: str) -> Iterable[dict]:
    for path in sorted(storage.list(container, f"{dataset}/")):
        found = storage.read(container, path)
        if found is None:
            continue
        for line in found[0].splitlines():
            if line.strip():
                yield orjson.loads(line)


def latest_classifications(
    storage: ObjectStorage, container: str, record_ids: set[str]
) -> dict[str, Classification]:
    """The newest classification of each id, from the classified and review datasets."""
    latest: dict[str, Classification] = {}
    for dataset in (CLASSIFIED_DATASET, REVIEW_DATASET):
        for row in _rows(storage, container, dataset):
            if row.get("record_id") in record_ids:
                found = Classification.model_validate(row)
                known = latest.get(found.record_id)
                if known is None or found.classified_at >= known.classified_at:
                    latest[found.record_id] = found
    return latest


def masked_texts(storage: ObjectStorage, container: str, record_ids: set[str]) -> dict[str, str]:
    """The landed (masked) text of each id: what evidence quotes are checked against."""
    if not record_ids:
        return {}
    return {
        row["record_id"]: row.get("text") or ""
        for row in _rows(storage, container, FEEDBACK_DATASET)
        if row.get("record_id") in record_ids
    }


@dataclass(slots=True)
class OverrideOutcome:
    applied: list[Classification] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    landed_paths: list[str] = field(default_factory=list)


def record_overrides(
    storage: ObjectStorage,
    container: str,
    taxonomy: Taxonomy,
    lines: Sequence[bytes],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> OverrideOutcome:
    """Validate, apply and land JSON Lines of overrides; every line is applied or refused."""
    outcome = OverrideOutcome()
    parsed: list[tuple[int, HumanOverride]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append((number, HumanOverride.model_validate_json(line)))
        except ValidationError as exc:
            outcome.refused.append((number, f"not an override: {exc.errors()[0]['msg']}"))
    ids = {o.record_id for _, o in parsed}
    current = latest_classifications(storage, container, ids)
    needs_text = {o.record_id for _, o in parsed if o.themes and any(t.evidence for t in o.themes)}
    texts = masked_texts(storage, container, needs_text)
    now = clock()
    audit: list[bytes] = []
    for number, override in parsed:
        before = current.get(override.record_id)
        if before is None:
            outcome.refused.append((number, f"no classification of record {override.record_id}"))
            continue
        try:
            after = apply_override(
                before, override, taxonomy, masked_text=texts.get(override.record_id), now=now
            )
        except PermanentInputError as exc:
            outcome.refused.append((number, str(exc)))
            continue
        outcome.applied.append(after)
        current[override.record_id] = after  # a second override of one record builds on it
        audit.append(
            orjson.dumps(
                {
                    "kind": "human_override",
                    "record_id": override.record_id,
                    "reviewer": override.reviewer,
                    "reason": override.reason,
                    "recorded_at": now.isoformat(),
                    "before": before.model_dump(mode="json"),
                    "after": after.model_dump(mode="json"),
                }
            )
        )
    if outcome.applied:
        name = f"ingest_date={now:%Y-%m-%d}/override-{now:%H%M%S}-{uuid.uuid4().hex[:12]}.jsonl"
        for dataset, rows in (
            (CLASSIFIED_DATASET, [c.model_dump_json().encode() for c in outcome.applied]),
            (AUDIT_DATASET, audit),
        ):
            path = f"{dataset}/{name}"
            storage.write(container, path, b"\n".join(rows) + b"\n", if_none_match=True)
            outcome.landed_paths.append(path)
    logger.info("overrides: %d applied, %d refused", len(outcome.applied), len(outcome.refused))
    return outcome


__all__ = [
    "HumanOverride",
    "OverrideOutcome",
    "OverrideTheme",
    "apply_override",
    "latest_classifications",
    "masked_texts",
    "record_overrides",
]
