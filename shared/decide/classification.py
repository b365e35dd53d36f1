"""Classification contracts: what lands per record, and what a model must answer.

Two shapes, both pydantic:

* :class:`Classification` is the landed row (``landing/classified/...``): themes with
  verbatim evidence, sentiment, urgency, owner, confidence, how it was decided, and
  whether a human must review it and why.
* The model's answer for a batch is built per taxonomy by :func:`model_answer_schema`:
  theme ids become a closed enum, and :func:`strict_json_schema` turns the model into a
  JSON schema that strict structured outputs accept (every object closed, every field
  required, no defaults). The schema is generated, never written by hand twice.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from shared.decide.taxonomy import Sentiment, Taxonomy, Urgency
from shared.models import SCHEMA_VERSION, AwareDatetime

Method = Literal["rules", "llm", "local", "human"]


class ThemeClaim(BaseModel):
    """One theme of a record, proven by a quote of the (masked) text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str = Field(description="taxonomy theme id")
    evidence: str = Field(min_length=1, description="verbatim substring of the masked text")
    start: int = Field(ge=0, description="offset of the evidence in the masked text")
    end: int = Field(ge=0)
    method: Method
    sentiment: Sentiment | None = Field(
        default=None, description="the customer's feeling about this theme (aspect polarity)"
    )


class Classification(BaseModel):
    """The classifier's verdict on one record, as landed for Auto Loader."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    record_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    themes: list[ThemeClaim] = Field(description="multi-label; empty only when in review")
    sentiment: Sentiment
    urgency: Urgency
    recommended_owner: str | None = Field(
        description="owner team of the first theme, from the taxonomy (never model text)"
    )
    confidence: float = Field(ge=0, le=1)
    method: Method
    taxonomy_version: str
    prompt_version: str | None = None
    model: str | None = None
    needs_review: bool = False
    review_reasons: list[str] = Field(default_factory=list)
    dropped_claims: int = Field(default=0, ge=0, description="claims the guardrails refused")
    reviewed_by: str | None = Field(default=None, description="the reviewer of a human override")
    classified_at: AwareDatetime


# ------------------------------------------------------------- model answer


class AnsweredTheme(BaseModel):
    """A theme as a model answered it; checked by the guardrails, not trusted."""

    model_config = ConfigDict(extra="ignore")

    theme: str
    evidence: str
    sentiment: Sentiment | None = None


class AnsweredRecord(BaseModel):
    """One record of a model's answer, parsed leniently: an unknown theme or a missing
    quote must cost that claim (see ``shared.decide.guardrails``), not the whole batch."""

    model_config = ConfigDict(extra="ignore")

    id: str
    themes: list[AnsweredTheme]
    sentiment: Sentiment
    urgency: Urgency
    confidence: float


def model_answer_schema(taxonomy: Taxonomy) -> type[BaseModel]:
    """The batch answer a model must give, with this taxonomy's theme ids as an enum."""
    theme_enum: Any = Literal[taxonomy.theme_ids]  # type: ignore[valid-type]
    claim = create_model(
        "ThemeEvidence",
        __config__=ConfigDict(extra="forbid"),
        theme=(theme_enum, Field(description="a theme id from the taxonomy")),
        evidence=(
            str,
            Field(description="the shortest exact quote from the text that shows the theme"),
        ),
        sentiment=(Sentiment, Field(description="the feeling about this theme")),
    )
    record = create_model(
        "RecordAnswer",
        __config__=ConfigDict(extra="forbid"),
        id=(str, Field(description="the record's id, copied from the input")),
        themes=(list[claim], Field(description="every theme the text raises")),  # type: ignore[valid-type]
        sentiment=(Sentiment, ...),
        urgency=(Urgency, ...),
        confidence=(float, Field(description="0 to 1: how sure you are of the themes")),
    )
    return create_model(
        "BatchAnswer",
        __config__=ConfigDict(extra="forbid"),
        results=(list[record], Field(description="one entry per input record")),  # type: ignore[valid-type]
    )


# Keywords strict mode rejects or that only cost prompt tokens; values are checked by
# the guardrails after parsing instead.
_DROPPED_KEYWORDS = frozenset(
    {
        "title",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minItems",
        "maxItems",
    }
)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema in the form strict structured outputs require.

    Every object gets ``additionalProperties: false`` and lists all its properties as
    required; defaults and validation keywords the strict subset does not take are
    removed (pydantic validates them when the answer is parsed).
    """
    schema = copy.deepcopy(model.model_json_schema())
    _make_strict(schema)
    return schema


def _make_strict(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _make_strict(item)
        return
    if not isinstance(node, dict):
        return
    # Property *names* live one level down, in "properties", and are never dropped.
    for keyword in _DROPPED_KEYWORDS & node.keys():
        del node[keyword]
    if node.get("type") == "object" or "properties" in node:
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties", {}))
    for key, value in node.items():
        if key == "properties":
            for child in value.values():
                _make_strict(child)
        elif isinstance(value, dict | list):
            _make_strict(value)


__all__ = [
    "AnsweredRecord",
    "AnsweredTheme",
    "Classification",
    "Method",
    "ThemeClaim",
    "model_answer_schema",
    "strict_json_schema",
]
