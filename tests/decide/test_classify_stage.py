"""The classify stage: work items from ingest, landed exactly once, poison to review.

Real parts: the ingest pipeline on local storage, the ``openai`` SDK over HTTP against
the loopback deployment (tests/deployment_server.py), Presidio for the evidence re-scan.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from shared.decide.classify_stage import ClassifyStage, parse_work_item
from shared.errors import PermanentInputError, TransientError
from shared.models import ClassifyWorkItem
from shared.pipeline import IngestPipeline
from shared.settings import PROJECT_ROOT, Settings
from shared.storage import LocalStorage
from tests.deployment_server import DeploymentServer
from tests.enrich.test_enrich import reviews_csv

TEXTS = [f"Order {n}: the zipper broke on the second day, please help." for n in range(12)]


@pytest.fixture
def deployment() -> Iterator[DeploymentServer]:
    server = DeploymentServer(latency_s=0.0, output_tokens_per_s=1e9).start()
    yield server
    server.stop()


def single_version_prompts(root: Path) -> Path:
    """The shipped prompts with the canary off, so each request count is one version's."""
    config = root.parent / f"{root.name}-prompts"
    if not config.exists():
        shutil.copytree(PROJECT_ROOT / "prompts", config)
        (config / "classify" / "manifest.yaml").write_text("active: v1\n")
    return config


def settings_for(server: DeploymentServer, root: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "config_dir": single_version_prompts(root),
        "local_storage_root": root,
        "llm_provider": "openai_compatible",
        "llm_base_url": f"{server.url}/v1",
        "llm_model": "deployment",
        "llm_max_retries": 0,
        "classify_batch_size": 5,
        "classify_item_records": 5,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


def ingest_queued(
    settings: Settings, storage: LocalStorage, tmp_path: Path, texts: list[str]
) -> list[ClassifyWorkItem]:
    """Ingest as the Functions app does: items go to a sink instead of running here."""
    queued: list[ClassifyWorkItem] = []
    pipeline = IngestPipeline(storage, settings, work_sink=queued.extend)
    path = tmp_path / "r.csv"
    path.write_bytes(reviews_csv(texts))
    report = pipeline.ingest_file("reviews", "r.csv", lambda: open(path, "rb"))  # noqa: SIM115
    assert report.landed == len(texts) and report.classified == 0  # not classified here
    assert report.classify_items == queued
    return queued


def rows(storage: LocalStorage, dataset: str) -> list[dict]:
    found = []
    for path in storage.list("landing", f"{dataset}/"):
        entry = storage.read("landing", path)
        assert entry is not None
        found += [orjson.loads(line) for line in entry[0].splitlines()]
    return found


def test_ingest_queues_items_of_paths_and_ranges_never_text(
    deployment: DeploymentServer, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "s")
    items = ingest_queued(settings_for(deployment, tmp_path / "s"), storage, tmp_path, TEXTS)
    assert [(i.start, i.stop) for i in items] == [(0, 5), (5, 10), (10, 12)]
    assert len({i.path for i in items}) == 1
    for item in items:
        body = item.model_dump_json()
        assert not any(text in body for text in TEXTS)
        assert parse_work_item(body.encode()) == item
    assert deployment.calls == 0


def test_a_redelivered_item_lands_nothing_twice_and_pays_nothing_twice(
    deployment: DeploymentServer, tmp_path: Path
) -> None:
    settings = settings_for(deployment, tmp_path / "s")
    storage = LocalStorage(tmp_path / "s")
    items = ingest_queued(settings, storage, tmp_path, TEXTS)
    stage = ClassifyStage.from_settings(settings, storage)
    results = [stage.run(item) for item in items]
    assert sum(r.classified for r in results) == 12 and deployment.calls == 3

    again = ClassifyStage.from_settings(settings, storage).run(items[0])  # a redelivery
    assert again.already_done and again.records == 0
    # A crash after landing, before the item was marked done: redelivered, re-decided
    # from the answer cache, every write finds its file.
    storage.delete(settings.ledger_container, stage.pending._done_path(items[1]))
    replay = ClassifyStage.from_settings(settings, storage).run(items[1])
    assert replay.classified == 5 and replay.cache_hits == 5 and not replay.calls
    landed = rows(storage, "classified")
    assert sorted(r["record_id"] for r in landed) == sorted({r["record_id"] for r in landed})
    assert len(landed) == 12 and deployment.calls == 3
    assert max(deployment.answered_texts.values()) == 1
    audit = rows(storage, "audit")
    assert len(audit) == 3 and {a["item_id"] for a in audit} == {i.item_id for i in items}


def test_a_poison_item_dead_letters_with_its_records_queued_for_review(
    deployment: DeploymentServer, tmp_path: Path
) -> None:
    settings = settings_for(deployment, tmp_path / "s", classify_max_deliveries=3)
    storage = LocalStorage(tmp_path / "s")
    items = ingest_queued(settings, storage, tmp_path, TEXTS)
    stage = ClassifyStage.from_settings(settings, storage)
    stage.run(items[0])  # classified before the outage
    deployment.fail_after_calls = 0  # the deployment is down from now on
    for delivery in (1, 2):
        with pytest.raises(TransientError):
            stage.handle(items[1], delivery_count=delivery, max_deliveries=3)
        assert rows(storage, "review") == []  # redelivered: nothing decided yet
    with pytest.raises(TransientError):  # the last delivery: to review, then dead-letter
        stage.handle(items[1], delivery_count=3, max_deliveries=3)
    review = rows(storage, "review")
    assert len(review) == 5 and all(r["needs_review"] for r in review)
    assert "classification failed on 3 deliveries: TransientError" in review[0]["review_reasons"]
    assert stage.pending.is_done(items[1])
    # The rest resumes once the deployment is back; every record is accounted for.
    deployment.fail_after_calls = None
    [last] = stage.run_pending()
    assert last.classified == 2
    landed_with_text = 12
    assert len(rows(storage, "classified")) + len(rows(storage, "review")) == landed_with_text


def test_dead_lettering_after_a_partial_landing_reviews_only_the_undecided(
    deployment: DeploymentServer, tmp_path: Path
) -> None:
    settings = settings_for(deployment, tmp_path / "s", classify_item_records=10)
    storage = LocalStorage(tmp_path / "s")
    [item, _] = ingest_queued(settings, storage, tmp_path, TEXTS)
    stage = ClassifyStage.from_settings(settings, storage)
    stage.run(item)
    # Pretend the done marker and the audit never got written (a crash mid-landing).
    storage.delete(settings.ledger_container, stage.pending._done_path(item))
    result = stage.dead_letter(item, "poison")
    assert (result.records, result.in_review) == (10, 0)
    assert len(rows(storage, "classified")) == 10 and rows(storage, "review") == []


def test_a_message_that_is_not_a_work_item_is_a_clear_permanent_error() -> None:
    with pytest.raises(PermanentInputError, match="not a classify work item"):
        parse_work_item(b'{"path": "feedback/x.jsonl", "text": "never here"}')


def test_the_cli_path_runs_the_same_stage_in_process(
    deployment: DeploymentServer, tmp_path: Path
) -> None:
    settings = settings_for(deployment, tmp_path / "s")
    storage = LocalStorage(tmp_path / "s")
    path = tmp_path / "r.csv"
    path.write_bytes(reviews_csv([*TEXTS, TEXTS[0]]))  # one duplicate text
    report = IngestPipeline(storage, settings).ingest_file(
        "reviews",
        "r.csv",
        lambda: open(path, "rb"),  # noqa: SIM115
    )
    assert report.classified + report.in_review == report.landed == 13
    assert report.model_calls == deployment.calls == 3
    assert ClassifyStage.from_settings(settings, storage).pending.pending() == []
