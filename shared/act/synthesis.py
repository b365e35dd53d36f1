"""Synthesis, the second pass: a short summary of each insight, built only from its evidence.

Every summary has 2-4 sentences, facts first (volume, trend, negative share, window),
interpretation second, and every sentence cites the record ids it rests on. A sentence
that cites no record, or a record that is not in the insight's evidence, is dropped:
it is never shipped to a ticket or a message.

Two ways to write it:

* ``local`` provider (offline): extractive. One templated facts sentence citing every
  evidence record (the sample the numbers come from), then up to three representative
  quotes, verbatim, each citing its own record.
* an LLM provider: the configured :class:`~shared.decide.llm.ChatModel` answers a strict JSON
  schema (sentences with evidence references). Evidence goes to the model as short
  references (``E1``...), mapped back to record ids here. If the model fails, or fewer
  than two sentences survive the citation check, the extractive summary is used.

Quotes are the masked text's own characters (see ``shared/insights.py``); nothing here
logs them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ConfigError, ModelAnswerError, TransientError
from shared.insights import EvidenceQuote, Insight

if TYPE_CHECKING:
    from shared.decide.llm import ChatModel

logger = logging.getLogger(__name__)

MIN_SENTENCES = 2
MAX_SENTENCES = 4
MAX_SENTENCE_CHARS = 600
QUOTE_CHARS = 180
EXTRACTIVE_VERSION = "extractive-v1"
_SPACES = re.compile(r"\s+")
_QUOTE_LEADS = ("One customer wrote", "Another wrote", "A third wrote")


class SummarySentence(BaseModel):
    """One sentence and the evidence records it rests on (at least one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=MAX_SENTENCE_CHARS)
    record_ids: tuple[str, ...] = Field(min_length=1)


class InsightSummary(BaseModel):
    """What synthesis produced for one insight, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentences: tuple[SummarySentence, ...] = Field(min_length=1, max_length=MAX_SENTENCES)
    method: Literal["extractive", "llm"]
    prompt_version: str
    model: str | None = None
    dropped_sentences: int = Field(default=0, ge=0, description="model sentences left out")
    fallback_reason: str | None = Field(
        default=None, description="why an LLM summary was replaced by the extractive one"
    )

    @property
    def text(self) -> str:
        return " ".join(sentence.text for sentence in self.sentences)


def theme_label(theme: str) -> str:
    """``checkout_payment`` -> ``Checkout payment``."""
    words = theme.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def scope_phrase(insight: Insight) -> str:
    """`` for <product> in the <segment> segment``, leaving out what is not split ('*')."""
    parts = []
    if insight.product != "*":
        parts.append(f" for {insight.product}")
    if insight.segment != "*":
        parts.append(f" in the {insight.segment} segment")
    return "".join(parts)


def trend_phrase(insight: Insight) -> str:
    """The change against the previous window in words."""
    if insight.previous_volume == 0:
        return "new this window (none in the previous one)"
    if abs(insight.finite_velocity) < 0.005:
        return f"level with {insight.previous_volume} in the previous window"
    direction = "up" if insight.finite_velocity > 0 else "down"
    change = f"{abs(insight.finite_velocity):.0%}"
    return f"{direction} {change} from {insight.previous_volume} in the previous window"


def facts_sentence(insight: Insight) -> SummarySentence:
    """The templated facts: volume, scope, window, trend and negative share."""
    records = "record" if insight.volume == 1 else "records"
    text = (
        f"{insight.volume} {records} about {theme_label(insight.theme).lower()}"
        f"{scope_phrase(insight)} between {insight.window_start.isoformat()} and "
        f"{insight.window_end.isoformat()}, {trend_phrase(insight)}; "
        f"{insight.negative_share:.0%} negative."
    )
    return SummarySentence(text=text, record_ids=_unique(q.record_id for q in insight.evidence))


def shorten(quote: str, limit: int = QUOTE_CHARS) -> str:
    """One line, at most ``limit`` characters, cut at a word boundary with an ellipsis."""
    flat = _SPACES.sub(" ", quote).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:")
    return f"{cut}…"


def representative_quotes(insight: Insight, count: int = 3) -> list[EvidenceQuote]:
    """Distinct quotes that sound like the majority, informative length first, newest next."""
    negative = insight.negative_share >= 0.5
    seen: set[str] = set()
    distinct: list[tuple[int, EvidenceQuote]] = []
    for position, quote in enumerate(insight.evidence):
        normalized = " ".join(quote.quote.casefold().split())
        if normalized in seen:
            continue
        seen.add(normalized)
        distinct.append((position, quote))

    def score(item: tuple[int, EvidenceQuote]) -> tuple[int, int, float, int]:
        position, quote = item
        agrees = (quote.sentiment == "negative") == negative if quote.sentiment else True
        length = len(quote.quote)
        # 40-180 characters reads as a sentence: long enough to say something, short to scan.
        informative = 0 if 40 <= length <= QUOTE_CHARS else 1
        newest = -quote.created_at.timestamp() if quote.created_at else 0.0
        return (0 if agrees else 1, informative, newest, position)

    return [quote for _, quote in sorted(distinct, key=score)[:count]]


def extractive_summary(insight: Insight) -> InsightSummary | None:
    """Facts sentence plus representative quotes; None without evidence (no claim)."""
    if not insight.evidence:
        return None
    sentences = [facts_sentence(insight)]
    for lead, quote in zip(_QUOTE_LEADS, representative_quotes(insight), strict=False):
        sentences.append(
            SummarySentence(text=f'{lead}: "{shorten(quote.quote)}"', record_ids=(quote.record_id,))
        )
    return InsightSummary(
        sentences=tuple(sentences[:MAX_SENTENCES]),
        method="extractive",
        prompt_version=EXTRACTIVE_VERSION,
    )


class _AnswerSentence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    evidence: list[str]


def answer_schema() -> dict[str, Any]:
    """The strict JSON schema of a synthesis answer.

    The top level is ``results`` because :meth:`ChatModel.answer` expects it; its
    classification parsing then ignores these items and the raw answer is read here.
    """
    sentence = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "one sentence"},
            "evidence": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the evidence references (E1, E2...) the sentence rests on",
            },
        },
        "required": ["text", "evidence"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"results": {"type": "array", "items": sentence}},
        "required": ["results"],
        "additionalProperties": False,
    }


def build_messages(insight: Insight, instructions: str) -> tuple[list[dict[str, str]], dict]:
    """The chat messages and the reference -> record id map for one insight."""
    refs = {f"E{n}": quote.record_id for n, quote in enumerate(insight.evidence, 1)}
    facts = {
        "theme": insight.theme,
        "product": insight.product,
        "segment": insight.segment,
        "window_start": insight.window_start.isoformat(),
        "window_end": insight.window_end.isoformat(),
        "volume": insight.volume,
        "previous_volume": insight.previous_volume,
        "velocity": insight.finite_velocity if insight.velocity is not None else None,
        "negative_share": insight.negative_share,
        "severity": insight.severity,
        "urgency_high": insight.urgency_high,
    }
    evidence = [
        {"ref": ref, "quote": quote.quote, "sentiment": quote.sentiment}
        for ref, quote in zip(refs, insight.evidence, strict=True)
    ]
    user = orjson.dumps({"facts": facts, "evidence": evidence}).decode()
    return [{"role": "system", "content": instructions}, {"role": "user", "content": user}], refs


def cited_sentences(raw: str, refs: dict[str, str]) -> tuple[list[SummarySentence], int]:
    """The answer's sentences that cite only known evidence, and how many were dropped.

    A reference may be the ``E<n>`` handed to the model or a record id of the evidence.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ModelAnswerError("invalid_json", "the summary answer is not JSON") from None
    items = data.get("results") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ModelAnswerError("wrong_shape", "the summary answer has no `results` list")
    known = set(refs.values())
    kept: list[SummarySentence] = []
    dropped = 0
    for item in items:
        try:
            answer = _AnswerSentence.model_validate(item)
        except ValueError:
            dropped += 1
            continue
        text = _SPACES.sub(" ", answer.text).strip()
        ids = [refs.get(ref.strip(), ref.strip()) for ref in answer.evidence]
        if not text or len(text) > MAX_SENTENCE_CHARS or not ids or not set(ids) <= known:
            dropped += 1  # no evidence, no claim
            continue
        kept.append(SummarySentence(text=text, record_ids=_unique(ids)))
    if len(kept) > MAX_SENTENCES:
        dropped += len(kept) - MAX_SENTENCES
        kept = kept[:MAX_SENTENCES]
    return kept, dropped


class Synthesizer:
    """Summarizes insights: extractive without a model, the model's answer with one."""

    def __init__(
        self,
        model: ChatModel | None = None,
        *,
        instructions: str = "",
        prompt_version: str = EXTRACTIVE_VERSION,
    ) -> None:
        if model is not None and not instructions.strip():
            raise ConfigError("LLM synthesis needs instructions (routing.yaml `synthesis`)")
        self.model = model
        self.instructions = instructions
        self.prompt_version = prompt_version if model is not None else EXTRACTIVE_VERSION

    @property
    def version(self) -> str:
        """Changes when a summary of the same evidence could change (for caching)."""
        if self.model is None:
            return EXTRACTIVE_VERSION
        return f"llm:{self.model.model}:{self.prompt_version}"

    def summarize(self, insight: Insight) -> InsightSummary | None:
        """A summary citing only the insight's evidence; None when it has no evidence."""
        fallback = extractive_summary(insight)
        if fallback is None or self.model is None:
            return fallback
        messages, refs = build_messages(insight, self.instructions)
        try:
            reply = self.model.answer(messages, answer_schema(), records=MAX_SENTENCES)
            sentences, dropped = cited_sentences(reply.raw, refs)
        except (ModelAnswerError, TransientError, ConfigError) as exc:
            # The summary is an aid: a model outage must not hold tickets back.
            logger.warning(
                "synthesis for insight %s fell back to extractive: %s",
                insight.insight_key,
                type(exc).__name__,
            )
            return fallback.model_copy(update={"fallback_reason": type(exc).__name__})
        if dropped:
            logger.info(
                "synthesis for insight %s dropped %d sentence(s) citing no or unknown records",
                insight.insight_key,
                dropped,
            )
        if len(sentences) < MIN_SENTENCES:
            return fallback.model_copy(
                update={"fallback_reason": "too_few_cited_sentences", "dropped_sentences": dropped}
            )
        return InsightSummary(
            sentences=tuple(sentences),
            method="llm",
            prompt_version=self.prompt_version,
            model=reply.model,
            dropped_sentences=dropped,
        )


def summary_fingerprint(insight: Insight, version: str) -> str:
    """Equal for the same facts, evidence and synthesis version: a cached summary still fits."""
    payload = orjson.dumps(
        {
            "version": version,
            "insight": insight.model_dump(mode="json", exclude={"suggested_owner", "confidence"}),
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()[:32]


def _unique(ids: Sequence[str] | Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


__all__ = [
    "InsightSummary",
    "SummarySentence",
    "Synthesizer",
    "answer_schema",
    "cited_sentences",
    "extractive_summary",
    "facts_sentence",
    "representative_quotes",
    "scope_phrase",
    "summary_fingerprint",
    "theme_label",
    "trend_phrase",
]
