"""Handler tests: the decorated functions called directly, against Azurite.

`func start` is not available here, so these call the FunctionBuilder objects the way
the worker does, with the binding types the runtime hands over.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import orjson
import pytest
from azure.functions.servicebus import ServiceBusMessage
from azure.storage.blob import BlobServiceClient

from functions import ingest
from shared.errors import TransientError
from shared.pipeline import get_pipeline
from shared.settings import Settings, get_settings
from shared.storage import BlobStorage
from tests.enrich.test_enrich import reviews_csv as enrich_reviews_csv
from tests.ingest.test_pipeline import event, landed_rows, reviews_csv


@pytest.fixture(scope="module")
def app_functions() -> dict:
    import function_app

    # get_functions() may be called once per FunctionApp: cache it for the module.
    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


def test_the_app_registers_every_function(app_functions: dict) -> None:
    assert sorted(app_functions) == [
        "ask_alerts",
        "ask_data_health",
        "ask_insight_detail",
        "ask_outcomes",
        "ask_search_evidence",
        "ask_theme_trend",
        "ask_top_insights",
        "classify_batches",
        "ingest_blob",
        "ingest_events",
        "poll_classify_batches",
        "receive_jira_webhook",
        "receive_slack_action",
        "refresh_gold",
        "review_classification",
        "route_insights",
    ]


def test_ingest_blob_is_an_event_grid_blob_trigger_with_setting_names(app_functions: dict) -> None:
    (binding,) = [b.get_dict_repr() for b in app_functions["ingest_blob"].get_bindings()]
    assert binding["type"] == "blobTrigger"
    assert binding["path"] == "%INSIGHTLOOP_INBOX_CONTAINER%/{source}/{name}"
    assert binding["connection"] == "InboxStorage"  # identity-based prefix, no secret
    assert binding["source"] == "EventGrid"  # Flex Consumption's blob source


def test_ingest_events_is_a_batched_service_bus_trigger(app_functions: dict) -> None:
    (binding,) = [b.get_dict_repr() for b in app_functions["ingest_events"].get_bindings()]
    assert binding["type"] == "serviceBusTrigger"
    assert binding["queueName"] == "%INSIGHTLOOP_FEEDBACK_QUEUE%"
    assert binding["connection"] == "ServiceBusConnection"
    assert str(binding["cardinality"].value) == "many"


def test_classify_batches_is_a_single_message_service_bus_trigger(app_functions: dict) -> None:
    (binding,) = [b.get_dict_repr() for b in app_functions["classify_batches"].get_bindings()]
    assert binding["type"] == "serviceBusTrigger"
    assert binding["queueName"] == "%INSIGHTLOOP_CLASSIFY_QUEUE%"
    assert binding["connection"] == "ServiceBusConnection"  # identity-based prefix
    assert str(binding.get("cardinality", "one")).endswith("one")


@pytest.fixture
def app_settings(blob_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """App settings as the Functions host would pass them, pointing at Azurite."""
    for field in (
        "storage_backend",
        "storage_connection_string",
        "inbox_container",
        "landing_container",
        "quarantine_container",
        "ledger_container",
    ):
        monkeypatch.setenv(f"INSIGHTLOOP_{field.upper()}", str(getattr(blob_settings, field)))
    get_settings.cache_clear()
    get_pipeline.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    get_pipeline.cache_clear()


@pytest.mark.azurite
def test_ingest_blob_streams_the_blob_and_replays_land_nothing(
    app_settings: Settings, azurite: str
) -> None:
    service = BlobServiceClient.from_connection_string(azurite)
    service.create_container(app_settings.inbox_container)
    client = service.get_blob_client(app_settings.inbox_container, "reviews/2026/week47.csv")
    client.upload_blob(reviews_csv(range(30)))

    ingest.ingest_blob(client)
    ingest.ingest_blob(client)  # the runtime may fire twice for one blob

    storage = BlobStorage.from_settings(app_settings)
    rows = landed_rows(storage, app_settings.landing_container)
    assert len(rows) == len({r["record_id"] for r in rows}) == 30
    reports = list(storage.list(app_settings.landing_container, "ingest_reports/"))
    assert len(reports) == 2


@pytest.mark.azurite
def test_ingest_blob_quarantines_an_unknown_source_and_returns(
    app_settings: Settings, azurite: str
) -> None:
    service = BlobServiceClient.from_connection_string(azurite)
    service.create_container(app_settings.inbox_container)
    client = service.get_blob_client(app_settings.inbox_container, "mystery/export.csv")
    client.upload_blob(b"a,b\n1,2\n")

    ingest.ingest_blob(client)  # permanent problem: no exception, so no retry loop

    storage = BlobStorage.from_settings(app_settings)
    quarantined = list(storage.list(app_settings.quarantine_container, "files/mystery/"))
    assert [p.rsplit("/", 1)[-1] for p in quarantined] == ["export.csv", "reason.json"]
    reason = orjson.loads(storage.read(app_settings.quarantine_container, quarantined[1])[0])  # type: ignore[index]
    assert "unknown source 'mystery'" in reason["reason"]
    assert list(storage.list(app_settings.landing_container, "feedback/")) == []


def sb_message(body: bytes, message_id: str, **properties: str) -> ServiceBusMessage:
    return ServiceBusMessage(
        body=body,
        message_id=message_id,
        application_properties=dict(properties),
        user_properties={},
    )


@pytest.mark.azurite
def test_ingest_events_lands_a_batch_and_a_redelivery_lands_nothing(app_settings: Settings) -> None:
    batch = [
        sb_message(orjson.dumps(event("e1")), "m1"),
        sb_message(orjson.dumps([event("e2"), event("e3")]), "m2", source="events"),
        sb_message(b"\xff\xfe not json", "m3"),
    ]
    ingest.ingest_events(batch)
    ingest.ingest_events(batch)  # lock expired: Service Bus redelivers the same batch

    storage = BlobStorage.from_settings(app_settings)
    rows = landed_rows(storage, app_settings.landing_container)
    assert sorted(r["source_event_id"] for r in rows) == ["e1", "e2", "e3"]
    quarantined = list(storage.list(app_settings.quarantine_container, "rows/events/"))
    assert len(quarantined) == 2  # the bad message, once per delivery


def test_ingest_events_raises_when_storage_is_down_so_the_runtime_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INSIGHTLOOP_STORAGE_BACKEND", "blob")
    monkeypatch.setenv(
        "INSIGHTLOOP_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",  # discard port: nothing listens
    )
    monkeypatch.setenv("INSIGHTLOOP_LEDGER_CONTAINER", f"ledger-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("INSIGHTLOOP_STORAGE_RETRY_TOTAL", "0")
    get_settings.cache_clear()
    get_pipeline.cache_clear()
    try:
        with pytest.raises(TransientError):
            ingest.ingest_events([sb_message(orjson.dumps(event("e9")), "m9")])
    finally:
        get_settings.cache_clear()
        get_pipeline.cache_clear()


@pytest.mark.azurite
def test_classify_batches_lands_an_item_once_and_its_poison_goes_to_review(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions import classify
    from shared.decide.classify_stage import get_classify_stage
    from shared.pipeline import IngestPipeline
    from tests.deployment_server import DeploymentServer

    server = DeploymentServer(latency_s=0.0, output_tokens_per_s=1e9).start()
    try:
        monkeypatch.setenv("INSIGHTLOOP_LLM_PROVIDER", "openai_compatible")
        monkeypatch.setenv("INSIGHTLOOP_LLM_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MODEL", "deployment")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MAX_RETRIES", "0")
        monkeypatch.setenv("INSIGHTLOOP_CLASSIFY_ITEM_RECORDS", "2")
        get_settings.cache_clear()
        get_classify_stage.cache_clear()
        settings = get_settings()
        storage = BlobStorage.from_settings(settings)
        queued: list = []
        pipeline = IngestPipeline(storage, settings, work_sink=queued.extend)
        data = enrich_reviews_csv(["The strap broke.", "Late again.", "Refund never came."])
        pipeline.ingest_file("reviews", "r.csv", lambda: io.BytesIO(data))
        first, second = queued

        message = sb_message(first.model_dump_json().encode(), first.item_id)
        classify.classify_batches(message)
        classify.classify_batches(message)  # redelivered: lands nothing twice
        classified = rows_under(storage, settings.landing_container, "classified/")
        assert len(classified) == 2 and server.calls == 1

        server.fail_after_calls = 0
        last = ServiceBusMessage(
            body=second.model_dump_json().encode(),
            message_id=second.item_id,
            delivery_count=settings.classify_max_deliveries,
            application_properties={},
            user_properties={},
        )
        with pytest.raises(TransientError):  # raises so the message dead-letters
            classify.classify_batches(last)
        review = rows_under(storage, settings.landing_container, "review/")
        assert len(review) == 1 and review[0]["needs_review"]
    finally:
        server.stop()
        get_classify_stage.cache_clear()


def rows_under(storage: BlobStorage, container: str, prefix: str) -> list[dict]:
    found = []
    for path in storage.list(container, prefix):
        data, _ = storage.read(container, path)  # type: ignore[misc]
        found.extend(orjson.loads(line) for line in data.splitlines())
    return found
