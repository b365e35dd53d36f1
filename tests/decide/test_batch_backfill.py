"""Backfills through the Batch API, over real HTTP with the ``openai`` SDK.

The Batch API is a loopback (tests/batch_server.py: ``/files``, ``/batches``, file
content, plain and Azure routes); the online path is the loopback deployment, so each
test counts what the backfill left for the online stage to ask.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest

from shared.decide.batch_backfill import BatchBackfill
from shared.decide.classify_stage import ClassifyStage
from shared.settings import PROJECT_ROOT
from shared.storage import LocalStorage
from tests.batch_server import BatchServer
from tests.decide.test_classify_stage import TEXTS, ingest_queued, rows, settings_for
from tests.deployment_server import DeploymentServer


@pytest.fixture
def servers() -> Iterator[tuple[BatchServer, DeploymentServer]]:
    batch = BatchServer().start()
    online = DeploymentServer(latency_s=0.0, output_tokens_per_s=1e9).start()
    yield batch, online
    batch.stop()
    online.stop()


def backlog(online: DeploymentServer, tmp_path: Path) -> tuple[ClassifyStage, list]:
    settings = settings_for(online, tmp_path / "s")
    storage = LocalStorage(tmp_path / "s")
    items = ingest_queued(settings, storage, tmp_path, TEXTS)  # 3 items: 5 + 5 + 2 records
    return ClassifyStage.from_settings(settings, storage), items


def plain(batch: BatchServer, stage: ClassifyStage) -> BatchBackfill:
    client = openai.OpenAI(base_url=f"{batch.url}/v1", api_key="k", max_retries=0)
    return BatchBackfill(stage, client, model="deployment", requeue=stage.run_items)


def test_happy_path_lands_every_record_as_online_without_an_online_call(
    servers: tuple[BatchServer, DeploymentServer], tmp_path: Path
) -> None:
    batch, online = servers
    stage, items = backlog(online, tmp_path)
    backfill = plain(batch, stage)
    batch_id = backfill.submit(stage.pending.pending())
    assert batch_id is not None and stage.pending.pending() == []  # out of the online backlog
    lines = batch.input_lines(batch_id)
    assert [line["custom_id"] for line in lines] == [
        f"{items[0].item_id}:v1:1-5",
        f"{items[1].item_id}:v1:1-5",
        f"{items[2].item_id}:v1:1-2",
    ]
    body = lines[0]["body"]
    assert lines[0]["url"] == "/v1/chat/completions" and body["model"] == "deployment"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["messages"][0]["role"] == "system"  # the online prompt, unchanged

    assert backfill.poll() == []  # still in progress: nothing collected
    batch.finish(batch_id)
    [result] = backfill.poll()
    assert (result.status, result.answered_records, result.requeued_items) == ("completed", 12, 3)
    assert online.calls == 0  # every answer came from the batch
    classified = rows(stage.storage, "classified")
    assert len(classified) == 12 and all(r["method"] == "llm" for r in classified)
    assert backfill.poll() == [] and stage.pending.pending() == []


def test_partial_errors_are_asked_online_and_nothing_is_lost(
    servers: tuple[BatchServer, DeploymentServer], tmp_path: Path
) -> None:
    batch, online = servers
    stage, items = backlog(online, tmp_path)
    backfill = plain(batch, stage)
    batch_id = backfill.submit(items)
    assert batch_id is not None
    batch.finish(batch_id, failing=[f"{items[1].item_id}:v1:1-5"])
    [result] = backfill.poll()
    assert (result.answered_records, result.failed_requests) == (7, 1)
    assert online.calls == 1  # only the failed request, online
    assert len(rows(stage.storage, "classified")) + len(rows(stage.storage, "review")) == 12
    assert max(online.answered_texts.values()) == 1


def test_an_expired_batch_sends_its_unanswered_requests_online_on_the_azure_routes(
    servers: tuple[BatchServer, DeploymentServer], tmp_path: Path
) -> None:
    batch, online = servers
    stage, items = backlog(online, tmp_path)
    client = openai.AzureOpenAI(
        azure_endpoint=batch.url, api_key="k", api_version="2024-10-21", max_retries=0
    )
    backfill = BatchBackfill(
        stage, client, model="gpt-4o-mini-batch", azure=True, requeue=stage.run_items
    )
    batch_id = backfill.submit(items)
    assert batch_id is not None
    assert batch.input_lines(batch_id)[0]["url"] == "/chat/completions"
    assert any(path.startswith("/openai/files?api-version=") for path in batch.paths)
    assert any(path.startswith("/openai/batches?api-version=") for path in batch.paths)
    batch.finish(
        batch_id,
        status="expired",
        unanswered=[f"{items[0].item_id}:v1:1-5", f"{items[2].item_id}:v1:1-2"],
    )
    [result] = backfill.poll()
    assert (result.status, result.answered_records, result.missing_requests) == ("expired", 5, 2)
    assert online.calls == 2
    classified = rows(stage.storage, "classified")
    assert sorted(r["record_id"] for r in classified) == sorted(
        {r["record_id"] for r in classified}
    )
    assert len(classified) + len(rows(stage.storage, "review")) == 12


def test_the_job_is_kept_in_storage_until_collected(
    servers: tuple[BatchServer, DeploymentServer], tmp_path: Path
) -> None:
    batch, online = servers
    stage, items = backlog(online, tmp_path)
    batch_id = plain(batch, stage).submit(items)
    job = stage.storage.read(
        stage.settings.ledger_container, f"classify_queue/batch_jobs/{batch_id}.json"
    )
    assert job is not None and orjson.loads(job[0])["requests"] == 3
    # A new process (the timer) collects it.
    batch.finish(batch_id or "")
    [result] = plain(batch, ClassifyStage.from_settings(stage.settings, stage.storage)).poll()
    assert result.requeued_items == 3


def test_a_shadow_canary_is_asked_per_version_so_nothing_goes_online(
    servers: tuple[BatchServer, DeploymentServer], tmp_path: Path
) -> None:
    batch, online = servers
    settings = settings_for(online, tmp_path / "s", config_dir=PROJECT_ROOT / "prompts")
    storage = LocalStorage(tmp_path / "s")
    texts = [f"{text} Second note {n}." for n in range(4) for text in TEXTS]
    items = ingest_queued(settings, storage, tmp_path, texts)
    stage = ClassifyStage.from_settings(settings, storage)
    manifest = stage.classifier.manifest  # type: ignore[attr-defined]
    assert manifest.shadow_canary and manifest.canary_percent  # the shipped canary
    backfill = plain(batch, stage)
    batch_id = backfill.submit(items)
    assert batch_id is not None
    asked: dict[str, list[str]] = {}
    job = storage.read(settings.ledger_container, f"classify_queue/batch_jobs/{batch_id}.json")
    assert job is not None
    for custom_id, ids in orjson.loads(job[0])["records"].items():
        asked.setdefault(custom_id.split(":")[1], []).extend(ids)
    records = [r for item in items for r in stage.read_item(item)[0]]
    candidate = {r.record_id for r in records if manifest.version_for(r.record_id) != "v1"}
    assert candidate and set(asked["v2"]) == candidate  # the candidate's share, once
    assert sorted(asked["v1"]) == sorted(r.record_id for r in records)  # active + shadow
    batch.finish(batch_id)
    [result] = backfill.poll()
    assert result.answered_records == len(records) + len(candidate)
    by_version = result.tokens_by_version  # a canary's cost stays per version
    assert set(by_version) == {"classify/v1", "classify/v2"}
    assert sum(p for p, _ in by_version.values()) == result.prompt_tokens > 0
    assert sum(c for _, c in by_version.values()) == result.completion_tokens > 0
    assert online.calls == 0  # active, candidate and shadow answers all came from the batch
    landed = rows(storage, "classified") + rows(storage, "review")
    assert {r["record_id"] for r in landed} == {r.record_id for r in records}


def test_a_job_submitted_before_lines_named_their_version_is_still_collected(
    servers: tuple[BatchServer, DeploymentServer], tmp_path: Path
) -> None:
    batch, online = servers
    stage, items = backlog(online, tmp_path)
    backfill = plain(batch, stage)
    lines = backfill.requests(items)
    for line in lines:  # the old custom_id: item id + positions, the active version
        item_id, _, span = line["custom_id"].split(":")
        line["custom_id"] = f"{item_id}:{span}"
    client = backfill.client
    uploaded = client.files.create(
        file=("classify.jsonl", b"".join(orjson.dumps(line) + b"\n" for line in lines)),
        purpose="batch",
    )
    created = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    job = {"batch_id": created.id, "requests": len(lines)}
    job["items"] = [item.model_dump(mode="json") for item in items]
    container = stage.settings.ledger_container
    stage.storage.write(
        container, f"classify_queue/batch_jobs/{created.id}.json", orjson.dumps(job)
    )
    batch.finish(created.id)
    [result] = backfill.poll()
    assert (result.answered_records, result.failed_requests) == (12, 0)
    assert online.calls == 0 and len(rows(stage.storage, "classified")) == 12
