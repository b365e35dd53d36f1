"""The LLM layer end to end: real openai SDK, loopback server, guardrails, retries, review."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.decide.classifier import LlmClassifier, MaskedText
from shared.decide.llm import ChatModel
from shared.decide.prompts import get_prompt_version
from shared.decide.taxonomy import get_taxonomy
from shared.enrich.masking import get_masker
from shared.errors import TransientError
from shared.settings import PROJECT_ROOT
from tests.enrich.test_enrich import PII_ROWS
from tests.openai_server import OpenAIServer, Reply

PROMPTS = PROJECT_ROOT / "prompts"
TAXONOMY = get_taxonomy(PROMPTS)
PROMPT = get_prompt_version(PROMPTS, "v1")
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
TEXTS = {
    "a" * 32: "The strap broke after a week.",
    "b" * 32: "Took three weeks to arrive.",
    "c" * 32: "Love it, highly recommend!",
    "d" * 32: "Checkout charged my card twice.",
}
QUOTES = {
    "a" * 32: ("product_quality", "strap broke"),
    "b" * 32: ("shipping", "three weeks to arrive"),
    "c" * 32: ("praise", "Love it"),
    "d" * 32: ("checkout_payment", "charged my card twice"),
}


def items(*ids: str) -> list[MaskedText]:
    return [MaskedText(rid, TEXTS[rid]) for rid in ids]


def answer(*ids: str, drop: str | None = None) -> Reply:
    """An answer for records sent in this order (the request numbers them 1, 2, ...)."""
    results = [
        {
            "id": str(position),
            "themes": [{"theme": QUOTES[rid][0], "evidence": QUOTES[rid][1]}],
            "sentiment": "negative",
            "urgency": "medium",
            "confidence": 0.9,
        }
        for position, rid in enumerate(ids, 1)
        if rid != drop
    ]
    return Reply(content=json.dumps({"results": results}))


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    running = OpenAIServer().start()
    yield running
    running.stop()


def classifier(server: OpenAIServer, **kwargs: object) -> LlmClassifier:
    model = ChatModel.openai_compatible(
        base_url=f"{server.url}/v1", model="test-model", max_retries=0, timeout=5.0
    )
    return LlmClassifier(TAXONOMY, PROMPT, model, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def sent_ids(server: OpenAIServer) -> list[list[str]]:
    """The record ids of each request, recovered from the texts sent."""
    by_text = {text: rid for rid, text in TEXTS.items()}
    return [
        [
            by_text[json.loads(line)["text"]]
            for line in r.body["messages"][1]["content"].splitlines()[1:]
        ]
        for r in server.requests
    ]


def test_a_clean_batch_lands_one_classification_per_record(server: OpenAIServer) -> None:
    ids = ["a" * 32, "b" * 32, "c" * 32]
    server.queue(answer(*ids))
    outcome = classifier(server).classify(items(*ids))
    assert sorted(c.record_id for c in outcome.classifications) == ids
    assert outcome.in_review == 0 and len(outcome.calls) == 1
    [call] = outcome.calls
    assert (call.outcome, call.answered, call.cached_tokens) == ("answered", 3, 1024)
    by_id = {c.record_id: c for c in outcome.classifications}
    assert by_id["a" * 32].themes[0].evidence == "strap broke"
    assert by_id["a" * 32].prompt_version == "classify/v1"


def test_an_unusable_answer_splits_the_batch_and_retries_the_halves(
    server: OpenAIServer,
) -> None:
    ids = ["a" * 32, "b" * 32, "c" * 32, "d" * 32]
    server.queue(Reply(content="{oops"), answer(*ids[:2]), answer(*ids[2:]))
    outcome = classifier(server).classify(items(*ids))
    assert sent_ids(server) == [ids, ids[:2], ids[2:]]
    assert len(outcome.classifications) == 4 and outcome.in_review == 0
    assert [c.outcome for c in outcome.calls] == ["invalid_json", "answered", "answered"]


def test_an_id_the_model_left_out_is_asked_again_alone(server: OpenAIServer) -> None:
    ids = ["a" * 32, "b" * 32, "c" * 32]
    server.queue(answer(*ids, drop="b" * 32), answer("b" * 32))
    outcome = classifier(server).classify(items(*ids))
    assert sent_ids(server) == [ids, ["b" * 32]]
    assert len(outcome.classifications) == 3 and outcome.in_review == 0


def test_after_the_retry_budget_records_wait_for_review_never_dropped(
    server: OpenAIServer,
) -> None:
    ids = ["a" * 32, "b" * 32, "d" * 32]
    server.queue(*[Reply(content="not json")] * 10)
    outcome = classifier(server, retry_budget=2).classify(items(*ids))
    assert sorted(c.record_id for c in outcome.classifications) == sorted(ids)
    assert outcome.in_review == 3
    payment = next(c for c in outcome.classifications if c.record_id == "d" * 32)
    assert payment.review_reasons[0].endswith("retry budget exhausted")
    assert payment.themes == [] and payment.urgency == "high"  # the rules still flag it
    # The batch; retry 1 splits it into halves; retry 2 asks the first half again;
    # then the budget is spent and nothing else is sent.
    assert sent_ids(server) == [ids, ids[:1], ids[:1], ids[1:]]


def test_duplicate_texts_cost_no_tokens(server: OpenAIServer) -> None:
    server.queue(answer("a" * 32))
    same = [MaskedText("a" * 32, TEXTS["a" * 32]), MaskedText("e" * 32, TEXTS["a" * 32])]
    engine = classifier(server)
    first = engine.classify(same)
    assert len(server.requests) == 1 and first.cache_hits == 1
    assert {c.record_id for c in first.classifications} == {"a" * 32, "e" * 32}
    replay = engine.classify([MaskedText("f" * 32, TEXTS["a" * 32])])
    assert len(server.requests) == 1 and replay.cache_hits == 1
    assert replay.classifications[0].themes[0].theme == "product_quality"


def test_an_outage_propagates_so_the_message_is_redelivered(server: OpenAIServer) -> None:
    server.queue(Reply(status=503))
    with pytest.raises(TransientError):
        classifier(server).classify(items("a" * 32))


def test_no_request_carries_the_pii_the_masker_removes(server: OpenAIServer) -> None:
    masker = get_masker(PROMPTS / "pii.yaml")
    texts = [text for text, _ in PII_ROWS]
    masked = [group.fields["text"] for group in masker.mask_groups([{"text": t} for t in texts])]
    batch = [MaskedText(f"{i:032x}", text) for i, text in enumerate(masked)]
    server.queue(Reply(content=json.dumps({"results": []})), *[Reply(content="x")] * 6)
    classifier(server, retry_budget=1).classify(batch)
    bodies = [json.dumps(r.body, ensure_ascii=False) for r in server.requests]
    assert bodies
    for _, secrets in PII_ROWS:
        for secret in secrets:
            assert all(secret not in body for body in bodies)


def test_a_canary_candidate_gets_its_share_of_records_by_id(
    server: OpenAIServer, tmp_path: pytest.TempPathFactory
) -> None:
    import shutil

    from shared.decide.factory import CanaryClassifier, classifier_from_settings
    from shared.settings import Settings

    config = tmp_path / "prompts"  # type: ignore[operator]
    shutil.copytree(PROMPTS, config)
    shutil.copytree(config / "classify" / "v1", config / "classify" / "v2", dirs_exist_ok=True)
    (config / "classify" / "manifest.yaml").write_text(
        "active: v1\ncandidate: v2\ncanary_percent: 50\n"
    )
    settings = Settings(
        config_dir=config,
        llm_provider="openai_compatible",
        llm_base_url=f"{server.url}/v1",
        llm_model="test-model",
        llm_max_retries=0,
    )
    engine = classifier_from_settings(settings)
    assert isinstance(engine, CanaryClassifier)
    ids = ["a" * 32, "b" * 32, "c" * 32, "d" * 32]
    chosen = {rid: engine.manifest.version_for(rid) for rid in ids}
    assert set(chosen.values()) == {"v1", "v2"}  # these ids split: a, b, d -> v1; c -> v2
    groups = [[rid for rid in ids if chosen[rid] == v] for v in ("v1", "v2")]
    server.queue(*[answer(*group) for group in groups if group])
    outcome = engine.classify(items(*ids))
    versions = {c.record_id: c.prompt_version for c in outcome.classifications}
    assert versions == {rid: f"classify/{chosen[rid]}" for rid in ids}
    assert classifier_from_settings(settings, "v1").prompt.label == "classify/v1"  # type: ignore[attr-defined]


def test_a_shadow_canary_has_the_active_version_answer_the_candidates_records_first() -> None:
    # The shipped manifest: v2 on 20 % of records, shadowed by v1; offline, v1 is played
    # by rules + the trained model and v2 by rules + lexicon, so the two can disagree.
    from shared.decide.factory import CanaryClassifier, classifier_from_settings
    from shared.settings import Settings

    engine = classifier_from_settings(Settings())
    assert isinstance(engine, CanaryClassifier)
    assert engine.manifest.shadow_canary
    ids = [f"{n:032x}" for n in range(40)]
    canary = {rid for rid in ids if engine.manifest.version_for(rid) == "v2"}
    assert 0 < len(canary) < len(ids)
    texts = ["The delivery arrived warm and the ice packs melted, courier was late."]
    outcome = engine.classify([MaskedText(rid, texts[0]) for rid in ids])
    versions = {c.record_id: c.prompt_version for c in outcome.classifications}
    assert versions == {rid: "classify/v2" if rid in canary else "classify/v1" for rid in ids}
    assert {c.record_id for c in outcome.shadow} == canary
    assert {c.prompt_version for c in outcome.shadow} == {"classify/v1"}
    shadow_at = max(c.classified_at for c in outcome.shadow)
    assert all(
        c.classified_at >= shadow_at for c in outcome.classifications if c.record_id in canary
    )
    assert {c.model for c in outcome.classifications if c.record_id in canary} == {
        "local-rules-vader"
    }
    # Pinning a version is no canary: one classifier, no shadow.
    assert not isinstance(classifier_from_settings(Settings(), "v1"), CanaryClassifier)


def test_an_outage_while_classifying_leaves_the_landed_records_pending_until_resumed(
    server: OpenAIServer, tmp_path: pytest.TempPathFactory
) -> None:
    import shutil

    from shared.decide.classify_stage import ClassifyStage
    from shared.pipeline import IngestPipeline
    from shared.settings import Settings
    from shared.storage import LocalStorage
    from tests.enrich.test_enrich import reviews_csv

    root = tmp_path / "storage"  # type: ignore[operator]
    config = tmp_path / "prompts"  # type: ignore[operator]
    shutil.copytree(PROMPTS, config)
    (config / "classify" / "manifest.yaml").write_text("active: v1\n")  # one request per batch
    settings = Settings(
        config_dir=config,
        local_storage_root=root,
        llm_provider="openai_compatible",
        llm_base_url=f"{server.url}/v1",
        llm_model="test-model",
        llm_max_retries=0,
    )
    storage = LocalStorage(root)
    pipeline = IngestPipeline(storage, settings)
    path = tmp_path / "r.csv"  # type: ignore[operator]
    path.write_bytes(reviews_csv([TEXTS["a" * 32], TEXTS["b" * 32]]))

    server.queue(Reply(status=503))
    with pytest.raises(TransientError):
        pipeline.ingest_file("reviews", "r.csv", lambda: open(path, "rb"))  # noqa: SIM115
    # Landed and queued, not decided: nothing in classified/ or review/ yet.
    assert len(list(storage.list("landing", "feedback/"))) == 1
    assert list(storage.list("landing", "classified/")) == []
    assert list(storage.list("landing", "review/")) == []
    stage = ClassifyStage.from_settings(settings, storage)
    assert len(stage.pending.pending()) == 1

    server.queue(answer("a" * 32, "b" * 32))
    [result] = stage.run_pending()
    assert (result.records, result.classified, result.in_review, len(result.calls)) == (2, 2, 0, 1)
    assert stage.pending.pending() == [] and stage.run_pending() == []
    assert len(server.requests) == 2
    # Re-ingesting the same file lands nothing and asks nothing.
    report = pipeline.ingest_file("reviews", "r.csv", lambda: open(path, "rb"))  # noqa: SIM115
    assert (report.landed, report.duplicates, report.model_calls) == (0, 2, 0)
    assert report.reconciled and len(server.requests) == 2


def test_answers_are_cached_in_storage_across_runs(server: OpenAIServer, tmp_path: Path) -> None:
    from shared.decide.answer_cache import AnswerCache
    from shared.storage import LocalStorage

    cache = AnswerCache(LocalStorage(tmp_path), "ledger")
    model = ChatModel.openai_compatible(
        base_url=f"{server.url}/v1", model="test-model", max_retries=0, timeout=5.0
    )

    def run() -> LlmClassifier:
        return LlmClassifier(TAXONOMY, PROMPT, model, cache=cache, clock=lambda: NOW)

    server.queue(answer("a" * 32, "b" * 32))
    first = run().classify(items("a" * 32, "b" * 32))
    assert first.cache_hits == 0 and len(server.requests) == 1
    # A new process (empty memory) sees the same texts under new record ids: no request.
    server.queue(answer("c" * 32))
    again = run().classify([MaskedText("e" * 32, TEXTS["a" * 32]), *items("c" * 32)])
    assert again.cache_hits == 1
    by_id = {c.record_id: c for c in again.classifications}
    assert by_id["e" * 32].themes[0].theme == "product_quality"
    assert sent_ids(server)[-1] == ["c" * 32]


def test_the_memory_cache_is_bounded(server: OpenAIServer) -> None:
    server.queue(answer("a" * 32, "b" * 32, "c" * 32))
    engine = classifier(server, memory_entries=2)
    engine.classify(items("a" * 32, "b" * 32, "c" * 32))
    assert len(engine._cache) == 2
