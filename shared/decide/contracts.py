"""What every classifier takes and returns: masked records in, an outcome with audits out.

Kept apart from the LLM layer (:mod:`shared.decide.classifier`) so the offline classifier
loads without the ``openai`` SDK.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from shared.decide.classification import Classification


@dataclass(frozen=True, slots=True)
class MaskedText:
    """One record to classify: its id and its already masked text."""

    record_id: str
    text: str

    @property
    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class CallRecord:
    """One model call, for ``landing/audit/``: hashes and counts, never the text."""

    prompt_version: str
    model: str
    record_ids: list[str]
    text_sha256: list[str]
    attempt: int
    outcome: str  # "answered" or the ModelAnswerError reason
    raw_output: str | None = None
    answered: int = 0
    invalid_items: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    latency_s: float = 0.0


@dataclass(slots=True)
class ClassifyOutcome:
    classifications: list[Classification] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    cache_hits: int = 0
    # The active version's answers for canary records, kept to compare (never counted).
    shadow: list[Classification] = field(default_factory=list)

    @property
    def in_review(self) -> int:
        return sum(c.needs_review for c in self.classifications)


__all__ = ["CallRecord", "ClassifyOutcome", "MaskedText"]
