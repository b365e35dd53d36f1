"""Starting the Gold job: the real databricks-sdk over real HTTP to a loopback Jobs API."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.functions.timer import TimerRequest
from pydantic import SecretStr

from functions import gold
from shared.errors import ConfigError, TransientError
from shared.gold.jobs import (
    AZURE_DATABRICKS_APP_ID,
    GoldJobStart,
    GoldRunRecord,
    idempotency_token,
    record_path,
    scheduled_slot,
    start_gold_job,
)
from shared.settings import Settings, get_settings
from shared.storage import LocalStorage
from tests.databricks_server import (
    HOST_METADATA,
    MSI_PATH,
    RUN_NOW,
    RUNS_LIST,
    DatabricksServer,
    Reply,
)

TOKEN = "dapi-test-0123456789abcdef"  # noqa: S105 - the fake workspace's fake PAT
SLOT = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
SLOT_TOKEN = "gold-42-20260105T1030Z"  # noqa: S105 - an idempotency token, not a secret


@pytest.fixture
def server() -> Iterator[DatabricksServer]:
    running = DatabricksServer(token=TOKEN).start()
    yield running
    running.stop()


@pytest.fixture
def settings(server: DatabricksServer, tmp_path: Path) -> Settings:
    # A 3 s retry budget: room for one Retry-After: 1 wait, short enough for tests.
    return Settings(
        local_storage_root=tmp_path / "storage",
        databricks_host=server.url,
        databricks_token=TOKEN,
        databricks_http_timeout_seconds=5,
        databricks_retry_timeout_seconds=3,
        gold_job_id=42,
    )


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.local_storage_root)


def start(settings: Settings, storage: LocalStorage, slot: datetime = SLOT) -> GoldJobStart:
    return start_gold_job(slot, settings=settings, storage=storage)


def landed(storage: LocalStorage, container: str = "landing") -> dict[str, GoldRunRecord]:
    return {
        path: GoldRunRecord.model_validate_json(storage.read(container, path)[0])  # type: ignore[index]
        for path in storage.list(container, "gold_runs/")
    }


def test_a_slot_starts_one_run_and_lands_its_record(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    result = start(settings, storage)

    assert [r.path for r in server.requests] == [HOST_METADATA, RUNS_LIST, RUN_NOW]
    [listing] = server.seen(RUNS_LIST)
    assert listing.method == "GET"
    assert listing.query == {"active_only": ["true"], "job_id": ["42"], "limit": ["1"]}
    [run_now] = server.seen(RUN_NOW)
    assert run_now.method == "POST"
    assert run_now.body == {"job_id": 42, "idempotency_token": SLOT_TOKEN}
    assert run_now.headers["user-agent"].startswith("insightloop/")

    record = result.record
    assert (record.outcome, record.run_id, record.job_id) == ("started", 1001, 42)
    assert record.slot == SLOT and record.idempotency_token == SLOT_TOKEN
    assert not result.already_recorded
    assert result.path == record_path(SLOT, SLOT_TOKEN)
    assert result.path.startswith("gold_runs/ingest_date=2026-01-05/20260105T1030Z-")
    assert landed(storage) == {result.path: record}
    assert server.runs[1001]["state"]["life_cycle_state"] == "PENDING"  # not waited for


def test_a_second_firing_for_the_slot_starts_nothing_and_lands_no_duplicate(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    first = start(settings, storage)
    # The runtime retries, or a restart fires the same occurrence past due (seconds differ).
    again = start(settings, storage, SLOT.replace(second=7, microsecond=5))

    assert again.already_recorded and again.record == first.record
    assert len(server.seen(RUN_NOW)) == 1
    assert len(server.seen(RUNS_LIST)) == 1  # the record answered; Databricks was not asked
    assert len(landed(storage)) == 1


def test_a_retry_after_a_lost_record_reuses_the_token_and_gets_the_same_run(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    first = start(settings, storage)
    storage.delete("landing", first.path)  # as if the worker died before landing it
    server.finish(1001)

    again = start(settings, storage)

    assert [r.body["idempotency_token"] for r in server.seen(RUN_NOW)] == [SLOT_TOKEN] * 2
    assert list(server.runs) == [1001]  # Databricks answered the reused token with its run
    assert again.record.run_id == 1001 and not again.already_recorded


class RacingStorage(LocalStorage):
    """Another firing of the slot lands the same record just before this one writes."""

    def write(self, container: str, path: str, data: bytes, **conditions: object) -> str:
        if not self.exists(container, path):
            super().write(container, path, data)
        return super().write(container, path, data, **conditions)  # type: ignore[arg-type]


def test_a_concurrent_firing_that_landed_first_wins_with_the_same_run(
    server: DatabricksServer, settings: Settings
) -> None:
    racing = RacingStorage(settings.local_storage_root)
    result = start(settings, racing)

    assert result.already_recorded and result.record.run_id == 1001
    assert list(server.runs) == [1001]
    assert len(landed(racing)) == 1


def test_an_active_run_is_recorded_as_skipped_and_run_now_is_never_called(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    active = server.add_run(42, "RUNNING")

    result = start(settings, storage)

    assert result.record.outcome == "skipped_active"
    assert result.record.run_id is None
    assert result.record.reason == f"already running: run {active} is active"
    assert server.seen(RUN_NOW) == []
    assert list(landed(storage).values()) == [result.record]


def test_the_next_slot_is_skipped_while_the_previous_run_is_still_going(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    start(settings, storage)
    skipped = start(settings, storage, SLOT.replace(minute=59))

    assert skipped.record.outcome == "skipped_active"
    assert len(server.seen(RUN_NOW)) == 1
    assert len(landed(storage)) == 2


def test_a_429_with_retry_after_is_retried_by_the_sdk_and_the_run_starts(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    server.queue(RUN_NOW, Reply(429, headers={"Retry-After": "1"}))

    began = time.monotonic()
    result = start(settings, storage)
    waited = time.monotonic() - began

    assert result.record.outcome == "started" and result.record.run_id == 1001
    assert [r.body for r in server.seen(RUN_NOW)] == [
        {"job_id": 42, "idempotency_token": SLOT_TOKEN}
    ] * 2
    assert waited >= 1.0  # Retry-After was honoured
    assert list(server.runs) == [1001]


def test_a_persistent_500_raises_transient_and_lands_no_record_so_a_retry_can_start(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    server.always(RUN_NOW, Reply(500))

    with pytest.raises(TransientError, match="InternalError"):
        start(settings, storage)
    # The SDK does not retry a plain 500; the runtime's retry policy fires the slot again.
    assert len(server.seen(RUN_NOW)) == 1
    assert landed(storage) == {}

    server.clear(RUN_NOW)
    assert start(settings, storage).record.outcome == "started"


def test_a_persistent_503_is_retried_until_the_budget_runs_out_then_transient(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    server.always(RUNS_LIST, Reply(503, headers={"Retry-After": "0"}))
    quick = settings.model_copy(update={"databricks_retry_timeout_seconds": 1})

    began = time.monotonic()
    with pytest.raises(TransientError, match="TimeoutError"):
        start(quick, storage)

    assert len(server.seen(RUNS_LIST)) >= 2
    # The budget bounds the retries (a loose bound: a busy CI machine is slow, not wrong).
    assert time.monotonic() - began < 30
    assert server.seen(RUN_NOW) == [] and landed(storage) == {}


def test_an_unreachable_workspace_is_transient(tmp_path: Path, storage: LocalStorage) -> None:
    nowhere = Settings(
        local_storage_root=tmp_path / "storage",
        databricks_host="http://127.0.0.1:9",  # the discard port: nothing listens
        databricks_token=TOKEN,
        databricks_retry_timeout_seconds=1,
        gold_job_id=42,
    )
    with pytest.raises(TransientError, match="unreachable"):
        start(nowhere, storage)
    assert landed(storage) == {}


@pytest.mark.parametrize(("status", "error"), [(401, "Unauthenticated"), (403, "PermissionDenied")])
def test_refused_credentials_are_a_config_error_with_a_failed_record(
    server: DatabricksServer,
    settings: Settings,
    storage: LocalStorage,
    status: int,
    error: str,
) -> None:
    server.always(RUNS_LIST, Reply(status))

    with pytest.raises(ConfigError, match=error):
        start(settings, storage)

    [record] = landed(storage).values()
    assert (record.outcome, record.run_id) == ("failed", None)
    assert error in (record.reason or "")
    assert len(server.seen(RUNS_LIST)) == 1  # not retried
    assert server.seen(RUN_NOW) == []
    # The slot is settled: firing it again neither calls Databricks nor raises.
    again = start(settings, storage)
    assert again.already_recorded and again.record == record
    assert [r.path for r in server.requests] == [HOST_METADATA, RUNS_LIST]


def test_a_wrong_token_is_refused_by_the_workspace(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    wrong = settings.model_copy(update={"databricks_token": SecretStr("dapi-wrong")})
    with pytest.raises(ConfigError, match="Unauthenticated"):
        start(wrong, storage)
    assert server.seen(RUNS_LIST)[0].headers["authorization"] == "Bearer dapi-wrong"


def test_an_unknown_job_is_a_config_error(
    server: DatabricksServer, settings: Settings, storage: LocalStorage
) -> None:
    with pytest.raises(ConfigError, match="Job 7 does not exist"):
        start(settings.model_copy(update={"gold_job_id": 7}), storage)
    [record] = landed(storage).values()
    assert record.outcome == "failed"
    assert record.idempotency_token == idempotency_token(7, SLOT)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"databricks_host": None}, "INSIGHTLOOP_DATABRICKS_HOST"),
        ({"gold_job_id": None}, "INSIGHTLOOP_GOLD_JOB_ID"),
        ({"databricks_auth_type": "pat", "databricks_token": None}, "INSIGHTLOOP_DATABRICKS_TOKEN"),
    ],
)
def test_missing_settings_are_config_errors_before_any_request(
    server: DatabricksServer,
    settings: Settings,
    storage: LocalStorage,
    update: dict,
    message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        start(settings.model_copy(update=update), storage)
    assert server.requests == []
    assert landed(storage) == {}


def test_the_token_goes_only_into_the_authorization_header_never_into_logs(
    server: DatabricksServer,
    settings: Settings,
    storage: LocalStorage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the SDK logs each request and response at DEBUG
    start(settings, storage)
    server.always(RUNS_LIST, Reply(401))
    with pytest.raises(ConfigError) as refused:
        start(settings, storage, SLOT.replace(hour=11))

    api_calls = [r for r in server.requests if r.path != HOST_METADATA]
    assert api_calls and all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in api_calls)
    [metadata] = server.seen(HOST_METADATA)[:1]
    assert "authorization" not in metadata.headers
    assert "GET /api/2.2/jobs/runs/list" in caplog.text  # DEBUG was really captured
    assert TOKEN not in caplog.text
    assert TOKEN not in str(refused.value)
    assert all(TOKEN not in (r.reason or "") for r in landed(storage).values())


def test_managed_identity_tokens_come_from_the_identity_endpoint(
    server: DatabricksServer,
    settings: Settings,
    storage: LocalStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the Functions host sets for a managed identity (App Service protocol).
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{server.url}{MSI_PATH}")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-header-secret")
    server.token = server.msi_token
    keyless = settings.model_copy(
        update={"databricks_token": None, "databricks_azure_client_id": "client-1"}
    )

    result = start(keyless, storage)

    assert result.record.outcome == "started"
    [token_request] = server.seen(MSI_PATH)  # azure-identity caches the token
    assert token_request.query["resource"] == [AZURE_DATABRICKS_APP_ID]
    assert token_request.query["client_id"] == ["client-1"]
    assert token_request.headers["x-identity-header"] == "identity-header-secret"
    [run_now] = server.seen(RUN_NOW)
    assert run_now.headers["authorization"] == f"Bearer {server.msi_token}"
    assert "auth/azure-msi" in run_now.headers["user-agent"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"Next": "2026-01-05T10:30:00+00:00"}, SLOT),
        ({"Next": "2026-01-05T11:30:00+01:00"}, SLOT),  # WEBSITE_TIME_ZONE offsets
        ({"Next": "2026-01-05T10:30:00"}, SLOT),  # naive: the host's UTC
        ({"Next": "2026-01-05T10:30:00.0024370Z"}, SLOT),  # .NET's 7 fraction digits
        ({"next": "2026-01-05T10:30:00Z"}, SLOT),
        ({"Next": "0001-01-01T00:00:00"}, datetime(2030, 2, 3, 4, 5, tzinfo=UTC)),
        ({"Next": "soon"}, datetime(2030, 2, 3, 4, 5, tzinfo=UTC)),
        ({}, datetime(2030, 2, 3, 4, 5, tzinfo=UTC)),
        (None, datetime(2030, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_the_slot_is_the_occurrence_being_fired_to_the_minute(
    status: dict | None, expected: datetime
) -> None:
    def now() -> datetime:
        return datetime(2030, 2, 3, 4, 5, 59, 999, tzinfo=UTC)

    assert scheduled_slot(status, now) == expected


def test_the_idempotency_token_fits_the_jobs_api_limit() -> None:
    token = idempotency_token(2**63 - 1, SLOT)
    assert len(token) <= 64 and token.isascii()
    assert idempotency_token(42, SLOT.replace(second=59)) == SLOT_TOKEN


# The Functions side: registration and the decorated handler, called directly.


@pytest.fixture(scope="module")
def refresh_gold_function() -> object:
    from tests.helpers import registered_functions

    return registered_functions()["refresh_gold"]


def test_refresh_gold_is_a_monitored_timer_on_the_schedule_setting(
    refresh_gold_function: object,
) -> None:
    (binding,) = [b.get_dict_repr() for b in refresh_gold_function.get_bindings()]  # type: ignore[attr-defined]
    assert binding["type"] == "timerTrigger"
    assert binding["schedule"] == "%INSIGHTLOOP_GOLD_SCHEDULE%"
    assert binding["runOnStartup"] is False
    assert binding["useMonitor"] is True


def test_refresh_gold_has_a_retry_policy_for_transient_failures(
    refresh_gold_function: object,
) -> None:
    policy = refresh_gold_function.get_settings_dict("retry_policy")  # type: ignore[attr-defined]
    assert policy is not None
    assert policy["strategy"] == "exponential_backoff"
    assert policy["max_retry_count"] == "3"


@pytest.fixture
def app_settings(
    server: DatabricksServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """App settings as the Functions host would pass them, pointing at the loopback server."""
    for name, value in {
        "STORAGE_BACKEND": "local",
        "LOCAL_STORAGE_ROOT": str(tmp_path / "storage"),
        "DATABRICKS_HOST": server.url,
        "DATABRICKS_TOKEN": TOKEN,
        "DATABRICKS_RETRY_TIMEOUT_SECONDS": "3",
        "GOLD_JOB_ID": "42",
        "GOLD_SCHEDULE": "0 */30 * * * *",
    }.items():
        monkeypatch.setenv(f"INSIGHTLOOP_{name}", value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_refresh_gold_starts_the_job_for_the_fired_slot_and_logs_a_summary(
    server: DatabricksServer, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="functions.gold")
    timer = TimerRequest(
        past_due=False,
        schedule_status={
            "Last": "2026-01-05T10:00:00+00:00",
            "Next": "2026-01-05T10:30:00+00:00",
            "LastUpdated": "2026-01-05T10:00:00.0012345+00:00",
        },
    )
    gold.refresh_gold(timer)
    gold.refresh_gold(timer)  # a duplicate firing of the same occurrence

    assert [r.body for r in server.seen(RUN_NOW)] == [
        {"job_id": 42, "idempotency_token": SLOT_TOKEN}
    ]
    storage = LocalStorage(app_settings.local_storage_root)
    [record] = landed(storage, app_settings.landing_container).values()
    assert (record.outcome, record.run_id, record.slot) == ("started", 1001, SLOT)
    summaries = [r.getMessage() for r in caplog.records if r.name == "functions.gold"]
    assert summaries == [
        "refresh_gold slot=2026-01-05T10:30:00+00:00 job=42 outcome=started run=1001 "
        f"past_due=False recorded_before={before}"
        for before in (False, True)
    ]
    assert TOKEN not in caplog.text


def test_refresh_gold_without_schedule_status_uses_the_current_minute(
    server: DatabricksServer, app_settings: Settings
) -> None:
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    gold.refresh_gold(TimerRequest(past_due=False))

    [run_now] = server.seen(RUN_NOW)
    minute = datetime.strptime(run_now.body["idempotency_token"][-14:], "%Y%m%dT%H%MZ")
    assert before <= minute.replace(tzinfo=UTC) <= datetime.now(UTC)


def test_refresh_gold_logs_a_config_error_and_returns_without_a_retry(
    server: DatabricksServer, app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    server.always(RUNS_LIST, Reply(401))
    gold.refresh_gold(TimerRequest(past_due=True, schedule_status={"Next": SLOT.isoformat()}))

    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.name == "functions.gold" and "Unauthenticated" in error.getMessage()
    storage = LocalStorage(app_settings.local_storage_root)
    [record] = landed(storage, app_settings.landing_container).values()
    assert record.outcome == "failed"


def test_refresh_gold_raises_a_transient_error_so_the_retry_policy_applies(
    server: DatabricksServer, app_settings: Settings
) -> None:
    server.always(RUN_NOW, Reply(500))
    timer = TimerRequest(past_due=False, schedule_status={"Next": SLOT.isoformat()})
    with pytest.raises(TransientError):
        gold.refresh_gold(timer)

    server.clear(RUN_NOW)
    gold.refresh_gold(timer)  # the runtime's retry: same slot, same token, one run
    assert [r.body["idempotency_token"] for r in server.seen(RUN_NOW)] == [SLOT_TOKEN] * 2
    assert list(server.runs) == [1001]
