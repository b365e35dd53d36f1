"""Backfills through the Batch API: half the price, a 24-hour target, a separate quota.

``submit`` turns pending classify work items into Batch JSONL (the same prompt, the same
strict schema, ``max_tokens`` as online; each prompt version of a canary asks about the
records it answers online, the active one the candidate's too with a shadow canary;
``custom_id`` = work item id + version + positions, the job keeps each line's record
ids), uploads it with the files API and creates the batch; the
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import openai
import orjson

from shared.decide.classifier import LlmClassifier, MaskedText, batch_messages
from shared.decide.classify_stage import ClassifyStage
from shared.decide.guardrails import match_batch_ids
from shared.decide.llm import SCHEMA_NAME, parse_answers
from shared.decide.prompts import PromptManifest
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
    # (prompt, completion) tokens per prompt version label, for cost by version
    tokens_by_version: dict[str, tuple[int, int]] = field(default_factory=dict)


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
        self.by_version, self.manifest = _llm_versions(stage.classifier)
        if not self.by_version:
            raise ConfigError("the Batch API needs a model provider, not the local classifier")
        self.stage = stage
        self.client = client
        self.model = model
        self.endpoint = AZURE_CHAT_ENDPOINT if azure else CHAT_ENDPOINT
        self.requeue = requeue
        self.container = stage.settings.ledger_container

    # -------------------------------------------------------------- submit

    def requests(self, items: Sequence[ClassifyWorkItem]) -> list[dict[str, Any]]:
        """One Batch JSONL line per request of ``batch_size`` records of an item and version."""
        return [line for line, _ in self._requests(items)]

    def _requests(
        self, items: Sequence[ClassifyWorkItem]
    ) -> list[tuple[dict[str, Any], list[str]]]:
        """Each line with the ids of the records it asks about, in order."""
        lines = []
        for item in items:
            records, _ = self.stage.read_item(item)
            for version, group in self._by_version(records).items():
                classifier = self.by_version[version]
                size = classifier.batch_size
                response_format = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": SCHEMA_NAME,
                        "strict": True,
                        "schema": classifier.schema,
                    },
                }
                for start in range(0, len(group), size):
                    batch = group[start : start + size]
                    messages, _ = batch_messages(classifier.prompt, classifier.taxonomy, batch)
                    custom_id = CUSTOM_ID_SEPARATOR.join(
                        (item.item_id, version, f"{start + 1}-{start + len(batch)}")
                    )
                    body = {
                        "model": self.model,
                        "messages": messages,
                        "response_format": response_format,
                        "temperature": 0,
                        "max_tokens": classifier.chat.max_tokens(len(batch)),
                    }
                    line = {
                        "custom_id": custom_id,
                        "method": "POST",
                        "url": self.endpoint,
                        "body": body,
                    }
                    lines.append((line, [record.record_id for record in batch]))
        return lines

    def _by_version(self, records: list[MaskedText]) -> dict[str, list[MaskedText]]:
        """The records each prompt version answers online: the canary's split, and with a
        shadow canary the active version on the candidate's records too."""
        manifest = self.manifest
        if manifest is None:
            [version] = self.by_version
            return {version: records}
        groups: dict[str, list[MaskedText]] = {manifest.active: []}
        for record in records:
            version = manifest.version_for(record.record_id)
            groups.setdefault(version, []).append(record)
            if version != manifest.active and manifest.shadow_canary:
                groups[manifest.active].append(record)
        return {version: group for version, group in groups.items() if group}

    def submit(self, items: Sequence[ClassifyWorkItem]) -> str | None:
        """Upload the items' requests, create the batch; returns its id (None: nothing)."""
        requests = self._requests(items)
        if not requests:
            return None
        data = b"".join(orjson.dumps(line) + b"\n" for line, _ in requests)
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
            "requests": len(requests),
            "items": [item.model_dump(mode="json") for item in items],
            # Which records each line asks about: the poll never re-derives the canary split.
            "records": {line["custom_id"]: ids for line, ids in requests},
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
        logger.info("batch %s: %d request(s) for %d item(s)", batch.id, len(requests), len(items))
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
            result = self._collect(batch, items, job["requests"], job.get("records"))
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

    def _collect(
        self,
        batch: Any,
        items: list[ClassifyWorkItem],
        requests: int,
        asked: dict[str, list[str]] | None,
    ) -> PollResult:
        result = PollResult(batch.id, batch.status, requests=requests)
        records = {item.item_id: self.stage.read_item(item)[0] for item in items}
        errors = self._lines(batch.error_file_id)
        seen = result.failed_requests = len(errors)
        keep: dict[str, Any] = {}
        for line in self._lines(batch.output_file_id):
            seen += 1
            custom_id = line.get("custom_id", "")
            version, batch_records = self._records_of(custom_id, records, asked)
            response = line.get("response") or {}
            usage = (response.get("body") or {}).get("usage") or {}
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
            result.prompt_tokens += prompt
            result.completion_tokens += completion
            classifier = self.by_version.get(version)
            label = classifier.prompt.label if classifier else "unknown"
            before = result.tokens_by_version.get(label, (0, 0))
            result.tokens_by_version[label] = (before[0] + prompt, before[1] + completion)
            if batch_records is None or classifier is None or response.get("status_code") != 200:
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
                decided = classifier._guarded(answer, record)
                if not decided.needs_review:
                    keep[classifier._storage_key(record)] = decided
        cache = next(iter(self.by_version.values())).cache
        if cache is not None:
            cache.put_many(keep)
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

    def _records_of(
        self,
        custom_id: str,
        records: dict[str, list[MaskedText]],
        asked: dict[str, list[str]] | None,
    ) -> tuple[str, list[MaskedText] | None]:
        """The prompt version and the records a line asked about (None: not ours)."""
        parts = custom_id.split(CUSTOM_ID_SEPARATOR)
        item_id = parts[0]
        if item_id not in records:
            return "", None
        if asked is None or len(parts) != 3:
            # A job submitted before lines named their version: the active one, by position.
            first, _, last = parts[-1].partition("-")
            if len(parts) != 2 or not (first.isdigit() and last.isdigit()):
                return "", None
            version = self.manifest.active if self.manifest else next(iter(self.by_version))
            return version, records[item_id][int(first) - 1 : int(last)]
        by_id = {record.record_id: record for record in records[item_id]}
        ids = asked.get(custom_id)
        if ids is None or any(record_id not in by_id for record_id in ids):
            return "", None
        return parts[1], [by_id[record_id] for record_id in ids]

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


def _llm_versions(classifier: object) -> tuple[dict[str, LlmClassifier], PromptManifest | None]:
    """The model classifier of each prompt version, and the canary manifest if any."""
    if isinstance(classifier, LlmClassifier):
        return {classifier.prompt.version: classifier}, None
    manifest = getattr(classifier, "manifest", None)
    versions = getattr(classifier, "by_version", {})
    by_version = {v: c for v, c in versions.items() if isinstance(c, LlmClassifier)}
    if manifest is None or len(by_version) != len(versions):
        return {}, None
    return by_version, manifest


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
