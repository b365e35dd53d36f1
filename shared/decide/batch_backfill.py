"""Backfills through the Batch API: half the price, a 24-hour target, a separate quota.

``submit`` turns pending classify work items into Batch JSONL (the same prompt, the same
strict schema, ``max_tokens`` as online; ``custom_id`` = work item id + the positions of
its records in the request), uploads it with the files API and creates the batch; the
items leave the online backlog (``classify_queue/in_batch/``) and the job is kept in the
ledger container. ``poll`` (the ``poll_classify_batches`` timer, or the CLI) checks each
job; once it has ended (completed, failed, expired, cancelled) it downloads the output
and error files, runs every guardrail on each answer as the online path does, keeps the
confident ones in the answer cache, and puts every item of the job back on the online
queue. The online stage then lands the rows exactly as it always does: answered records
come from the cache at no cost, and what the batch failed, cut off or never answered is
asked online (split, retried, or sent to review there). Nothing is lost or landed twice.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import openai
import orjson

from shared.decide.classifier import LlmClassifier, MaskedText, batch_messages
from shared.decide.classify_stage import ClassifyStage
from shared.decide.guardrails import match_batch_ids
from shared.decide.llm import SCHEMA_NAME, parse_answers
from shared.errors import ConfigError, ModelAnswerError, TransientError
from shared.models import ClassifyWorkItem

logger = logging.getLogger(__name__)

JOBS_PREFIX = "classify_queue/batch_jobs"
JOBS_DONE_PREFIX = "classify_queue/batch_jobs_done"
IN_BATCH_PREFIX = "classify_queue/in_batch"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
CHAT_ENDPOINT = "/v1/chat/completions"
AZURE_CHAT_ENDPOINT = "/chat/completions"
CUSTOM_ID_SEPARATOR = ":"


@dataclass(slots=True)
class PollResult:
    batch_id: str
    status: str
    requests: int = 0
    answered_records: int = 0  # confident answers kept for the online stage
    failed_requests: int = 0  # lines in the error file or with an unusable answer
    missing_requests: int = 0  # lines the batch never answered (expired, cancelled)
    requeued_items: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class BatchBackfill:
    def __init__(
        self,
        stage: ClassifyStage,
        client: openai.OpenAI,
        *,
        model: str,
        azure: bool = False,
        requeue: Callable[[list[ClassifyWorkItem]], None] | None = None,
    ) -> None:
        classifier = stage.classifier
        if not isinstance(classifier, LlmClassifier):
            # A canary splits records between versions: backfill with the active one.
            active = getattr(classifier, "manifest", None)
            versions = getattr(classifier, "by_version", {})
            classifier = versions.get(active.active) if active else None
        if not isinstance(classifier, LlmClassifier):
            raise ConfigError("the Batch API needs a model provider, not the local classifier")
        self.stage = stage
        self.classifier = classifier
        self.client = client
        self.model = model
        self.endpoint = AZURE_CHAT_ENDPOINT if azure else CHAT_ENDPOINT
        self.requeue = requeue
        self.container = stage.settings.ledger_container

    # -------------------------------------------------------------- submit

    def requests(self, items: Sequence[ClassifyWorkItem]) -> list[dict[str, Any]]:
        """One Batch JSONL line per request of ``batch_size`` records of an item."""
        classifier, size = self.classifier, self.classifier.batch_size
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": classifier.schema},
        }
        lines = []
        for item in items:
            records, _ = self.stage.read_item(item)
            for start in range(0, len(records), size):
                batch = records[start : start + size]
                messages, _ = batch_messages(classifier.prompt, classifier.taxonomy, batch)
                lines.append(
                    {
                        "custom_id": f"{item.item_id}{CUSTOM_ID_SEPARATOR}"
                        f"{start + 1}-{start + len(batch)}",
                        "method": "POST",
                        "url": self.endpoint,
                        "body": {
                            "model": self.model,
                            "messages": messages,
                            "response_format": response_format,
                            "temperature": 0,
                            "max_tokens": classifier.chat.max_tokens(len(batch)),
                        },
                    }
                )
        return lines

    def submit(self, items: Sequence[ClassifyWorkItem]) -> str | None:
        """Upload the items' requests, create the batch; returns its id (None: nothing)."""
        lines = self.requests(items)
        if not lines:
            return None
        data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        try:
            uploaded = self.client.files.create(
                file=("classify.jsonl", io.BytesIO(data)), purpose="batch"
            )
            batch = self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint=self.endpoint,  # type: ignore[arg-type]
                completion_window="24h",
            )
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise TransientError(f"Batch API unavailable: {type(exc).__name__}") from None
        job = {
            "batch_id": batch.id,
            "submitted_at": datetime.now(UTC).isoformat(),
            "requests": len(lines),
            "items": [item.model_dump(mode="json") for item in items],
        }
        storage = self.stage.storage
        storage.write(self.container, f"{JOBS_PREFIX}/{batch.id}.json", orjson.dumps(job))
        for item in items:
            # Out of the online backlog while the batch runs; poll puts it back.
            storage.write(
                self.container,
                f"{IN_BATCH_PREFIX}/{item.item_id}.json",
                item.model_dump_json().encode(),
            )
            storage.delete(self.container, f"classify_queue/pending/{item.item_id}.json")
        logger.info("batch %s: %d request(s) for %d item(s)", batch.id, len(lines), len(items))
        return batch.id

    # ---------------------------------------------------------------- poll

    def poll(self) -> list[PollResult]:
        """Collect every ended batch; a batch still running is left for the next poll."""
        storage = self.stage.storage
        results = []
        for path in list(storage.list(self.container, f"{JOBS_PREFIX}/")):
            entry = storage.read(self.container, path)
            if entry is None:
                continue
            job = orjson.loads(entry[0])
            try:
                batch = self.client.batches.retrieve(job["batch_id"])
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                raise TransientError(f"Batch API unavailable: {type(exc).__name__}") from None
            if batch.status not in ENDED:
                continue
            items = [ClassifyWorkItem.model_validate(item) for item in job["items"]]
            result = self._collect(batch, items, job["requests"])
            self._requeue(items)
            result.requeued_items = len(items)
            storage.write(self.container, f"{JOBS_DONE_PREFIX}/{batch.id}.json", entry[0])
            storage.delete(self.container, path)
            results.append(result)
            logger.info(
                "batch %s %s: %d answered record(s), %d failed and %d missing request(s) "
                "back to the online queue",
                batch.id,
                batch.status,
                result.answered_records,
                result.failed_requests,
                result.missing_requests,
            )
        return results

    def _collect(self, batch: Any, items: list[ClassifyWorkItem], requests: int) -> PollResult:
        result = PollResult(batch.id, batch.status, requests=requests)
        records = {item.item_id: self.stage.read_item(item)[0] for item in items}
        errors = self._lines(batch.error_file_id)
        seen = result.failed_requests = len(errors)
        keep: dict[str, Any] = {}
        for line in self._lines(batch.output_file_id):
            seen += 1
            batch_records = self._records_of(line.get("custom_id", ""), records)
            response = line.get("response") or {}
            usage = (response.get("body") or {}).get("usage") or {}
            result.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            result.completion_tokens += int(usage.get("completion_tokens") or 0)
            if batch_records is None or response.get("status_code") != 200:
                result.failed_requests += 1
                continue
            try:
                answers = self._answers(response.get("body") or {})
            except ModelAnswerError:
                result.failed_requests += 1
                continue
            local_ids = [str(position) for position in range(1, len(batch_records) + 1)]
            matched = match_batch_ids(local_ids, answers)
            for local_id, record in zip(local_ids, batch_records, strict=True):
                answer = matched.answers.get(local_id)
                if answer is None:
                    continue  # asked again online
                decided = self.classifier._guarded(answer, record)
                if not decided.needs_review:
                    keep[self.classifier._storage_key(record)] = decided
        if self.classifier.cache is not None:
            self.classifier.cache.put_many(keep)
        result.answered_records = len(keep)
        result.missing_requests = max(requests - seen, 0)
        return result

    @staticmethod
    def _answers(body: dict[str, Any]) -> list[Any]:
        choices = body.get("choices") or []
        if not choices:
            raise ModelAnswerError("empty", "the response has no choices")
        choice = choices[0]
        if choice.get("finish_reason") == "length" or (choice.get("message") or {}).get("refusal"):
            raise ModelAnswerError("unusable", "cut off or refused")
        answers, _ = parse_answers((choice.get("message") or {}).get("content") or "")
        return answers

    @staticmethod
    def _records_of(
        custom_id: str, records: dict[str, list[MaskedText]]
    ) -> list[MaskedText] | None:
        item_id, _, span = custom_id.partition(CUSTOM_ID_SEPARATOR)
        first, _, last = span.partition("-")
        if item_id not in records or not (first.isdigit() and last.isdigit()):
            return None
        return records[item_id][int(first) - 1 : int(last)]

    def _lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        try:
            content = self.client.files.content(file_id).content
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise TransientError(f"Batch API unavailable: {type(exc).__name__}") from None
        return [orjson.loads(line) for line in content.splitlines() if line.strip()]

    def _requeue(self, items: list[ClassifyWorkItem]) -> None:
        storage = self.stage.storage
        self.stage.pending.add(items)
        for item in items:
            storage.delete(self.container, f"{IN_BATCH_PREFIX}/{item.item_id}.json")
        if self.requeue is not None:
            self.requeue(items)


def backfill_from_settings(
    stage: ClassifyStage, requeue: Callable[[list[ClassifyWorkItem]], None] | None = None
) -> BatchBackfill:
    """The Batch API client of the configured provider (Azure: its batch deployment)."""
    from shared.decide.factory import chat_model_from_settings

    settings = stage.settings
    chat = chat_model_from_settings(settings)
    azure = settings.llm_provider == "azure_openai"
    model = chat.model
    if azure and settings.azure_openai_batch_deployment:
        model = settings.azure_openai_batch_deployment
    return BatchBackfill(stage, chat.client, model=model, azure=azure, requeue=requeue)


__all__ = ["BatchBackfill", "PollResult", "backfill_from_settings"]
