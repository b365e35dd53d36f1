"""A reviewer's decision on a classification: approve, correct or reject."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.act.callbacks.events import _HEX_KEY
from shared.decide.overrides import (
    OverrideTheme,
)
from shared.decide.taxonomy import Sentiment, Urgency

# A reject re-files the record under the fallback theme, quoting the start of its text.
REJECT_QUOTE_CHARS = 200


class ReviewDecision(BaseModel):
    """``POST /api/review``: a reviewer's verdict on one record's classification."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: str = Field(pattern=_HEX_KEY)
    action: Literal["approve", "correct", "reject"]
    reviewer: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)
    themes: list[OverrideTheme] | None = Field(default=None, min_length=1)
    sentiment: Sentiment | None = None
    urgency: Urgency | None = None
    owner: str | None = None
    decision_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{8,128}$",
        description="the client's idempotency key: a repeat of one decision lands once",
    )

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> ReviewDecision:
        corrected = [
            name for name in ("themes", "sentiment", "urgency", "owner") if getattr(self, name)
        ]
        if self.action == "correct" and not corrected:
            raise ValueError("correct needs themes, sentiment, urgency or owner")
        if self.action != "correct" and corrected:
            raise ValueError(f"{self.action} takes no {', '.join(corrected)}: use correct")
        return self
