"""The LLM layer of the decide stage: batches of masked records in, Classifications out.

For each batch: build the messages (cacheable prefix first), ask the model for strict
structured output, pair the answers with the ids sent, and pass every answer through
the guardrails. What goes wrong is contained, never dropped:

* an unusable answer (refusal, cut off, not the schema, rejected request) splits the
  batch in halves and retries each, down to single records;
* ids the answer left out, repeated or mangled are retried on their own;
* after the batch's retry budget, the remaining records go to human review with the
  reason, as a Classification with ``needs_review`` and no themes;
* an outage (:class:`~shared.errors.TransientError`) propagates: the queue redelivers.

Identical masked texts are classified once per prompt version and model (the cache),
so a duplicate costs no tokens. Batches run ``concurrency`` at a time (the model's
:class:`~shared.decide.limiter.QuotaLimiter` keeps them inside the deployment's quota), and each
batch's confident answers are written to the answer cache as soon as it is done, so an
outage mid-run costs only the batches in flight: the retry asks only the unanswered.
Every model call leaves a :class:`CallRecord` for the audit trail.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.decide.answer_cache import AnswerCache, cache_key
from shared.decide.classification import AnsweredRecord, Classification, model_answer_schema
from shared.decide.classification import strict_json_schema as _strict
from shared.decide.contracts import CallRecord, ClassifyOutcome, MaskedText
from shared.decide.guardrails import apply_guardrails, match_batch_ids
from shared.decide.llm import ModelReply
from shared.decide.prompts import PromptVersion, build_messages
from shared.decide.rules import RuleClassifier
from shared.decide.taxonomy import Taxonomy
from shared.errors import ModelAnswerError

logger = logging.getLogger(__name__)


class AnswersBatches(Protocol):
    """What the classifier needs from a model client (``shared.decide.llm.ChatModel``)."""

    model: str

    def answer(
        self, messages: Sequence[dict[str, str]], schema: dict[str, Any], *, records: int
    ) -> ModelReply: ...


def batch_messages(
    prompt: PromptVersion, taxonomy: Taxonomy, batch: Sequence[MaskedText]
) -> tuple[list[dict[str, str]], list[str]]:
    """The request for a batch, and the batch-local ids ("1", "2", ...) it uses.

    Local ids keep the answer short: a 32-hex record id costs ~20 tokens each way.
    """
    local_ids = [str(position) for position in range(1, len(batch) + 1)]
    records = [(lid, item.text) for lid, item in zip(local_ids, batch, strict=True)]
    return build_messages(prompt, taxonomy, records), local_ids


class LlmClassifier:
    """Classifies masked texts in batches through a model, with guardrails and retries."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        prompt: PromptVersion,
        model: AnswersBatches,
        *,
        batch_size: int = 10,
        min_confidence: float = 0.6,
        retry_budget: int = 4,
        cache: AnswerCache | None = None,
        memory_entries: int = 50_000,
        concurrency: int = 1,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if batch_size < 1 or retry_budget < 0 or concurrency < 1:
            raise ValueError("batch_size, concurrency must be >= 1 and retry_budget >= 0")
        self.taxonomy = taxonomy
        self.prompt = prompt
        self.chat = model
        self.model = model.model  # the model or deployment name, for summaries and audit
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.min_confidence = min_confidence
        self.retry_budget = retry_budget
        self.clock = clock
        self.schema = _strict(model_answer_schema(taxonomy))
        self.rules = RuleClassifier(taxonomy)
        self.cache = cache
        # (text hash, prompt, model) -> classification of that text, record id aside;
        # least recently used entries go first, so a long-lived worker stays bounded.
        self._cache: OrderedDict[tuple[str, str, str], Classification] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.memory_entries = memory_entries

    def classify(self, items: Sequence[MaskedText]) -> ClassifyOutcome:
        outcome = ClassifyOutcome()
        pending: list[MaskedText] = []
        waiting: dict[str, list[MaskedText]] = {}  # text hash -> later records, same text
        for item in items:
            cached = self._recall(item)
            if cached is not None:
                outcome.cache_hits += 1
                outcome.classifications.append(
                    cached.model_copy(update={"record_id": item.record_id})
                )
            elif item.text_sha256 in waiting:
                outcome.cache_hits += 1
                waiting[item.text_sha256].append(item)
            else:
                waiting[item.text_sha256] = []
                pending.append(item)
        firsts = list(pending)
        if self.cache is not None and pending:
            pending = self._from_storage(pending, outcome)
        batches = [
            pending[start : start + self.batch_size]
            for start in range(0, len(pending), self.batch_size)
        ]
        for part in self._run_batches(batches):
            outcome.classifications += part.classifications
            outcome.calls += part.calls
        by_id = {c.record_id: c for c in outcome.classifications}
        by_hash = {
            item.text_sha256: by_id[item.record_id] for item in firsts if item.record_id in by_id
        }
        for text_hash, later in waiting.items():
            for item in later:
                outcome.classifications.append(
                    by_hash[text_hash].model_copy(update={"record_id": item.record_id})
                )
        return outcome

    # ------------------------------------------------------------ internals

    def _run_batches(self, batches: list[list[MaskedText]]) -> list[ClassifyOutcome]:
        """Every batch's outcome, in batch order; each is cached the moment it is done.

        An outage in one batch stops new ones from starting, keeps (and caches) what the
        batches in flight bring back, then propagates for the queue to redeliver.
        """
        if self.concurrency == 1 or len(batches) <= 1:
            parts = []
            for batch in batches:
                parts.append(self._one_batch(batch))
                self._persist(batch, parts[-1])
            return parts
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="classify") as pool:
            futures = [pool.submit(self._one_batch, batch) for batch in batches]
            batch_of = dict(zip(futures, batches, strict=True))
            remaining: set[Future[ClassifyOutcome]] = set(futures)
            failure: BaseException | None = None
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.cancelled():
                        continue
                    if future.exception() is not None:
                        failure = failure or future.exception()
                        continue
                    self._persist(batch_of[future], future.result())
                if failure is not None:
                    for future in remaining:
                        future.cancel()
            if failure is not None:
                raise failure
            return [future.result() for future in futures]

    def _one_batch(self, batch: list[MaskedText]) -> ClassifyOutcome:
        part = ClassifyOutcome()
        budget = [self.retry_budget]
        part.classifications = self._classify_batch(batch, budget, part, attempt=1)
        return part

    def _persist(self, batch: list[MaskedText], part: ClassifyOutcome) -> None:
        """A batch's confident answers, kept at once: a later outage cannot cost them."""
        if self.cache is None:
            return
        by_id = {c.record_id: c for c in part.classifications if not c.needs_review}
        self.cache.put_many(
            {
                self._storage_key(item): by_id[item.record_id]
                for item in batch
                if item.record_id in by_id
            }
        )

    def _cache_key(self, item: MaskedText) -> tuple[str, str, str]:
        return item.text_sha256, self.prompt.label, self.model

    def _recall(self, item: MaskedText) -> Classification | None:
        key = self._cache_key(item)
        with self._cache_lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
        return found

    def _remember(self, item: MaskedText, result: Classification) -> None:
        with self._cache_lock:
            self._cache[self._cache_key(item)] = result
            while len(self._cache) > self.memory_entries:
                self._cache.popitem(last=False)

    def _storage_key(self, item: MaskedText) -> str:
        return cache_key(item.text_sha256, self.prompt.label, self.model)

    def _from_storage(self, items: list[MaskedText], outcome: ClassifyOutcome) -> list[MaskedText]:
        """Answer what earlier runs classified; returns the items still to ask about."""
        assert self.cache is not None
        found = self.cache.get_many(self._storage_key(item) for item in items)
        missing = []
        for item in items:
            cached = found.get(self._storage_key(item))
            if cached is None:
                missing.append(item)
                continue
            outcome.cache_hits += 1
            self._remember(item, cached)
            outcome.classifications.append(cached.model_copy(update={"record_id": item.record_id}))
        return missing

    def _classify_batch(
        self,
        batch: list[MaskedText],
        budget: list[int],
        outcome: ClassifyOutcome,
        *,
        attempt: int,
    ) -> list[Classification]:
        messages, local_ids = batch_messages(self.prompt, self.taxonomy, batch)
        by_local_id = dict(zip(local_ids, batch, strict=True))
        call = CallRecord(
            prompt_version=self.prompt.label,
            model=self.model,
            record_ids=[item.record_id for item in batch],
            text_sha256=[item.text_sha256 for item in batch],
            attempt=attempt,
            outcome="answered",
        )
        outcome.calls.append(call)
        try:
            reply = self.chat.answer(messages, self.schema, records=len(batch))
        except ModelAnswerError as exc:
            call.outcome = exc.reason
            return self._retry(batch, budget, outcome, attempt, f"model answer {exc}")
        call.raw_output = reply.raw
        call.answered = len(reply.answers)
        call.invalid_items = reply.invalid_items
        call.prompt_tokens = reply.prompt_tokens
        call.completion_tokens = reply.completion_tokens
        call.cached_tokens = reply.cached_tokens
        call.latency_s = reply.latency_s

        ids = match_batch_ids(local_ids, reply.answers)
        results = [
            self._guarded(ids.answers[lid], item)
            for lid, item in by_local_id.items()
            if lid in ids.answers
        ]
        unanswered = [item for lid, item in by_local_id.items() if lid not in ids.answers]
        if unanswered:
            reason = "the model did not answer this id cleanly (missing, repeated or invalid)"
            results += self._retry(unanswered, budget, outcome, attempt, reason, split=False)
        return results

    def _retry(
        self,
        batch: list[MaskedText],
        budget: list[int],
        outcome: ClassifyOutcome,
        attempt: int,
        reason: str,
        *,
        split: bool = True,
    ) -> list[Classification]:
        if budget[0] <= 0:
            return [self._to_review(item, f"{reason}; retry budget exhausted") for item in batch]
        budget[0] -= 1
        middle = len(batch) // 2
        parts = [batch[:middle], batch[middle:]] if split and len(batch) > 1 else [batch]
        results: list[Classification] = []
        for part in parts:
            results += self._classify_batch(part, budget, outcome, attempt=attempt + 1)
        return results

    def _guarded(self, answer: AnsweredRecord, item: MaskedText) -> Classification:
        result = apply_guardrails(
            answer,
            record_id=item.record_id,
            masked_text=item.text,
            taxonomy=self.taxonomy,
            method="llm",
            min_confidence=self.min_confidence,
            classified_at=self.clock(),
            prompt_version=self.prompt.label,
            model=self.model,
        )
        self._remember(item, result)
        return result

    def _to_review(self, item: MaskedText, reason: str) -> Classification:
        """Nothing usable came back: the record waits for a human, with the reason."""
        return Classification(
            record_id=item.record_id,
            themes=[],
            sentiment="neutral",
            urgency=self.rules.urgency_level(item.text),
            recommended_owner=None,
            confidence=0.0,
            method="llm",
            taxonomy_version=self.taxonomy.version,
            prompt_version=self.prompt.label,
            model=self.model,
            needs_review=True,
            review_reasons=[reason],
            classified_at=self.clock(),
        )


__all__ = ["CallRecord", "ClassifyOutcome", "LlmClassifier", "MaskedText", "batch_messages"]
