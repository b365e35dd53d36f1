"""Starting the Databricks Gold job once per timer slot, with a run record for each slot.

The ``refresh_gold`` timer hands over its scheduled slot; :class:`GoldJobStarter` then

1. returns the slot's run record if one is landed already (a retried or duplicated firing),
2. records ``skipped_active`` when a run of the job is still active (``jobs/runs/list``),
3. otherwise calls ``jobs/run-now`` with an idempotency token derived from the job id and
   the slot, so Databricks starts at most one run per slot even if the call is repeated,
4. lands the record create-if-absent at
   ``landing/gold_runs/ingest_date=YYYY-MM-DD/<slot>-<token hash>.json``.

It never waits for the run: the record carries the run id. Retries are the SDK's own
(429/503 honouring Retry-After, connection errors, within a bounded budget). Refused
credentials, a missing job or missing settings are a :class:`~shared.errors.ConfigError`
(a ``failed`` record is landed when the slot is known); throttling and outages left after
the SDK's retries are a :class:`~shared.errors.TransientError` and land nothing, so the
runtime's retry of the same slot can still start the run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.errors import AlreadyExistsError, ConfigError, InsightloopError, TransientError
from shared.models import SCHEMA_VERSION
from shared.settings import Settings, get_settings
from shared.storage import ObjectStorage, storage_from_settings

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config
    from databricks.sdk.credentials_provider import CredentialsStrategy
    from databricks.sdk.service.jobs import JobsAPI

logger = logging.getLogger(__name__)

GOLD_RUNS_DATASET = "gold_runs"
PRODUCT = "insightloop"
# The AzureDatabricks first-party application: the token audience in the public cloud.
AZURE_DATABRICKS_APP_ID = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"

GoldRunOutcome = Literal["started", "skipped_active", "failed"]


class GoldRunRecord(BaseModel):
    """What one timer slot did about the Gold job; landed as one JSON line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    job_id: int
    run_id: int | None = None
    slot: AwareDatetime
    outcome: GoldRunOutcome
    reason: str | None = None
    started_at: AwareDatetime
    idempotency_token: str


@dataclass(frozen=True, slots=True)
class GoldJobStart:
    """The slot's record, where it is, and whether an earlier firing had landed it."""

    record: GoldRunRecord
    path: str
    already_recorded: bool = False


def utc_now() -> datetime:
    return datetime.now(UTC)


def normalize_slot(slot: datetime) -> datetime:
    """The slot in UTC to the minute; a naive time is taken as UTC (the host's default)."""
    if slot.tzinfo is None:
        slot = slot.replace(tzinfo=UTC)
    return slot.astimezone(UTC).replace(second=0, microsecond=0)


def scheduled_slot(
    schedule_status: Mapping[str, Any] | None, now: Callable[[], datetime] = utc_now
) -> datetime:
    """The occurrence a timer firing stands for, from its ``ScheduleStatus``.

    While a firing runs, ``Next`` is the occurrence being fired (the host updates the
    status afterwards), also when it is past due or retried; without it, the current minute.
    """
    status = schedule_status or {}
    value = status.get("Next") or status.get("next")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            logger.warning("timer ScheduleStatus.Next %r is not ISO 8601", value)
        else:
            if parsed.year > 1:  # .NET's DateTime.MinValue means "never scheduled"
                return normalize_slot(parsed)
    return normalize_slot(now())


def idempotency_token(job_id: int, slot: datetime) -> str:
    """``gold-<job>-<slot minute>``: at most 64 ASCII characters, as run-now requires."""
    return f"gold-{job_id}-{normalize_slot(slot):%Y%m%dT%H%MZ}"


def record_path(slot: datetime, token: str) -> str:
    slot = normalize_slot(slot)
    digest = hashlib.sha256(token.encode()).hexdigest()[:12]
    return f"{GOLD_RUNS_DATASET}/ingest_date={slot:%Y-%m-%d}/{slot:%Y%m%dT%H%MZ}-{digest}.json"


class GoldJobStarter:
    """Starts the Gold job for a slot through the Jobs API and lands the slot's record."""

    def __init__(
        self,
        jobs: Callable[[], JobsAPI],
        storage: ObjectStorage,
        *,
        job_id: int,
        container: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        # A factory: a slot that is recorded already needs no client (and no SDK import).
        self._jobs_factory = jobs
        self._jobs: JobsAPI | None = None
        self.storage = storage
        self.job_id = job_id
        self.container = container
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, storage: ObjectStorage | None = None
    ) -> GoldJobStarter:
        if settings.gold_job_id is None:
            raise ConfigError("INSIGHTLOOP_GOLD_JOB_ID is not set: the Gold job cannot start")
        auth_type(settings)  # missing settings fail here, before a slot is recorded
        return cls(
            lambda: workspace_client(settings).jobs,
            storage if storage is not None else storage_from_settings(settings),
            job_id=settings.gold_job_id,
            container=settings.landing_container,
        )

    @property
    def jobs(self) -> JobsAPI:
        if self._jobs is None:
            self._jobs = self._jobs_factory()
        return self._jobs

    def start(self, slot: datetime) -> GoldJobStart:
        """Start (or skip) the job for ``slot``; at most one run per slot, however often called."""
        slot = normalize_slot(slot)
        token = idempotency_token(self.job_id, slot)
        path = record_path(slot, token)
        existing = self._read(path)
        if existing is not None:
            return GoldJobStart(existing, path, already_recorded=True)
        slot_fields = {
            "job_id": self.job_id,
            "slot": slot,
            "started_at": self.clock(),
            "idempotency_token": token,
        }
        try:
            active = self._active_run_id()
            if active is not None:
                reason = f"already running: run {active} is active"
                record = GoldRunRecord(**slot_fields, outcome="skipped_active", reason=reason)
            else:
                run_id = self._run_now(token)
                record = GoldRunRecord(**slot_fields, outcome="started", run_id=run_id)
        except ConfigError as exc:
            # Permanent for this slot: record why, so a repeat of the slot does not retry it.
            self._land(path, GoldRunRecord(**slot_fields, outcome="failed", reason=str(exc)))
            raise
        return self._land(path, record)

    def _active_run_id(self) -> int | None:
        def first_active() -> Any:
            # The SDK pages lazily: taking the first run makes exactly one request.
            runs = self.jobs.list_runs(job_id=self.job_id, active_only=True, limit=1)
            return next(iter(runs), None)

        run = self._call(first_active, "list the job's active runs")
        return run.run_id if run is not None else None

    def _run_now(self, token: str) -> int:
        # Not waiting for the run: the timer returns at once and the record has the run id.
        waiter = self._call(
            lambda: self.jobs.run_now(job_id=self.job_id, idempotency_token=token), "run the job"
        )
        return waiter.run_id

    def _call(self, action: Callable[[], Any], what: str) -> Any:
        try:
            return action()
        except Exception as exc:
            raise translate_error(exc, what, self.job_id) from exc

    def _read(self, path: str) -> GoldRunRecord | None:
        found = self.storage.read(self.container, path)
        return GoldRunRecord.model_validate_json(found[0]) if found is not None else None

    def _land(self, path: str, record: GoldRunRecord) -> GoldJobStart:
        data = record.model_dump_json().encode() + b"\n"
        try:
            self.storage.write(self.container, path, data, if_none_match=True)
        except AlreadyExistsError:
            # A concurrent firing of this slot landed first; the same token gave it the same run.
            existing = self._read(path)
            if existing is None:
                raise TransientError(f"the record at {path} vanished while landing") from None
            if existing.run_id != record.run_id:
                logger.warning(
                    "gold slot %s: a concurrent firing recorded %s (run %s), this one %s (run %s)",
                    record.slot.isoformat(),
                    existing.outcome,
                    existing.run_id,
                    record.outcome,
                    record.run_id,
                )
            return GoldJobStart(existing, path, already_recorded=True)
        return GoldJobStart(record, path)


def translate_error(exc: Exception, what: str, job_id: int) -> InsightloopError:
    """Map a Databricks SDK failure onto the project's hierarchy (config vs transient)."""
    import requests
    from databricks.sdk import errors

    if isinstance(exc, InsightloopError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, (errors.Unauthenticated, errors.PermissionDenied)):
        return ConfigError(
            f"Databricks refused the request to {what} (job {job_id}, {name}): check the "
            "credentials (INSIGHTLOOP_DATABRICKS_*) and their CAN MANAGE RUN on the job"
        )
    if isinstance(exc, (errors.BadRequest, errors.NotFound, errors.NotImplemented)):
        return ConfigError(
            f"Databricks rejected the request to {what} (job {job_id}, {name}): {exc}"
        )
    if isinstance(exc, errors.DatabricksError):
        return TransientError(f"Databricks failed to {what} ({name}) after the SDK's retries")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return ConfigError(f"INSIGHTLOOP_DATABRICKS_HOST is not a usable URL ({name})")
    if isinstance(exc, (TimeoutError, requests.RequestException)):
        return TransientError(f"Databricks unreachable or throttled: could not {what} ({name})")
    auth_error = _azure_auth_error(exc)
    if auth_error is not None:
        return auth_error
    return TransientError(f"unexpected failure to {what} ({name})")


def _azure_auth_error(exc: Exception) -> InsightloopError | None:
    from azure.core.exceptions import ClientAuthenticationError

    if not isinstance(exc, ClientAuthenticationError):
        return None
    status = exc.status_code or 0
    if status == 429 or status >= 500:
        return TransientError(f"managed identity endpoint answered {status} after retries")
    return ConfigError(
        "no managed identity token for Databricks: check the function app's identity and "
        f"INSIGHTLOOP_DATABRICKS_AZURE_CLIENT_ID ({type(exc).__name__})"
    )


def auth_type(settings: Settings) -> Literal["pat", "azure-msi"]:
    """The configured auth (a token means pat unless told otherwise); ConfigError if unusable."""
    if not settings.databricks_host:
        raise ConfigError("INSIGHTLOOP_DATABRICKS_HOST is not set: the Gold job cannot start")
    chosen = settings.databricks_auth_type or ("pat" if settings.databricks_token else "azure-msi")
    if chosen == "pat" and settings.databricks_token is None:
        raise ConfigError("INSIGHTLOOP_DATABRICKS_AUTH_TYPE=pat needs INSIGHTLOOP_DATABRICKS_TOKEN")
    return chosen


def workspace_client(settings: Settings) -> WorkspaceClient:
    """A client for ``databricks_host`` only, with explicit auth and bounded retries.

    Explicit auth keeps the SDK off its default chain (config files, CLIs, metadata
    services); its one extra call is ``GET /.well-known/databricks-config`` on the host.
    """
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    chosen = auth_type(settings)
    common: dict[str, Any] = {
        "host": settings.databricks_host,
        "http_timeout_seconds": settings.databricks_http_timeout_seconds,
        "retry_timeout_seconds": settings.databricks_retry_timeout_seconds,
        "product": PRODUCT,
        "auth_type": chosen,
    }
    try:
        if settings.databricks_token is not None and chosen == "pat":
            config = Config(token=settings.databricks_token.get_secret_value(), **common)
        else:
            strategy = managed_identity_strategy(settings.databricks_azure_client_id)
            config = Config(credentials_strategy=strategy, **common)
    except ValueError as exc:
        # The SDK's message masks secrets (token=***).
        raise ConfigError(f"Databricks client configuration: {exc}") from None
    return WorkspaceClient(config=config)


def managed_identity_strategy(client_id: str | None = None) -> CredentialsStrategy:
    """Bearer tokens for Azure Databricks from the function app's managed identity.

    databricks-sdk 0.162 has no managed identity auth of its own (``azure-msi`` is the
    Go SDK's name), so ``azure-identity`` fetches the token; it caches and refreshes it.
    """
    from azure.identity import ManagedIdentityCredential
    from databricks.sdk.credentials_provider import CredentialsStrategy

    class ManagedIdentityStrategy(CredentialsStrategy):
        def auth_type(self) -> str:
            return "azure-msi"

        def __call__(self, cfg: Config) -> Callable[[], dict[str, str]]:
            credential = ManagedIdentityCredential(client_id=client_id)
            # Sovereign clouds have their own application id; other hosts get the public one.
            app_id = cfg.effective_azure_login_app_id or AZURE_DATABRICKS_APP_ID
            scope = f"{app_id}/.default"

            def headers() -> dict[str, str]:
                return {"Authorization": f"Bearer {credential.get_token(scope).token}"}

            return headers

    return ManagedIdentityStrategy()


def start_gold_job(
    slot: datetime,
    *,
    settings: Settings | None = None,
    storage: ObjectStorage | None = None,
) -> GoldJobStart:
    """Start the Gold job for a timer slot (see the module docstring); the handler's entry."""
    starter = GoldJobStarter.from_settings(settings or get_settings(), storage)
    return starter.start(slot)


__all__ = [
    "GoldJobStart",
    "GoldJobStarter",
    "GoldRunRecord",
    "idempotency_token",
    "managed_identity_strategy",
    "record_path",
    "scheduled_slot",
    "start_gold_job",
    "workspace_client",
]
