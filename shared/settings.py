"""Application settings, read lazily from the environment (app settings in Azure).

Nothing here runs at import time: call :func:`get_settings` inside a handler or CLI
command. Every name is ``INSIGHTLOOP_<FIELD>`` (case-insensitive).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


class Settings(BaseSettings):
    """All tunables of the pipeline; defaults are the embedded (laptop) defaults."""

    model_config = SettingsConfigDict(env_prefix="INSIGHTLOOP_", extra="ignore", frozen=True)

    storage_backend: Literal["local", "blob"] = "local"
    local_storage_root: Path = Path(".insightloop/storage")
    # Blob backend: an account URL uses DefaultAzureCredential (managed identity in Azure);
    # a connection string is for Azurite and local development only.
    storage_account_url: str | None = None
    storage_connection_string: str | None = None
    storage_api_version: str | None = None
    # SDK retries before a TransientError reaches the runtime (which retries again).
    storage_retry_total: int = Field(default=3, ge=0, le=10)

    inbox_container: str = "inbox"
    landing_container: str = "landing"
    quarantine_container: str = "quarantine"
    ledger_container: str = "ledger"
    exports_container: str = "exports"

    config_dir: Path = PROJECT_ROOT / "prompts"
    # Source mapping for queue messages that name none (message property or body field).
    default_event_source: str = "events"

    landing_batch_max_bytes: int = Field(default=8 * MIB, ge=1024)
    landing_batch_max_records: int = Field(default=20_000, ge=1)
    max_text_chars: int = Field(default=20_000, ge=1)
    # Caps one physical line/field so a runaway field cannot exhaust memory.
    max_row_chars: int = Field(default=1 * MIB, ge=1024)
    ledger_shards: int = Field(default=256, ge=1, le=4096)
    # Landed ids are claimed in rounds of this many (and at the end of every input): one
    # write per touched shard per round, instead of per landing file.
    ledger_claim_every_records: int = Field(default=100_000, ge=1)
    # Ledger shards kept in memory per run (16 bytes per id).
    ledger_cache_bytes: int = Field(default=128 * MIB, ge=MIB)
    # Processes that detect languages and mask a landing batch (shared/enrich/workers.py).
    # Unset: every core for the local CLI, one per Functions instance (instances scale out).
    enrich_workers: int | None = Field(default=None, ge=1, le=64)

    # Classification: "local" (rules + lexicon, offline) unless a model endpoint is set.
    llm_provider: Literal["local", "openai_compatible", "azure_openai"] = "local"
    llm_model: str | None = None  # openai_compatible: the model name
    llm_base_url: str | None = None  # openai_compatible: e.g. http://localhost:11434/v1
    llm_api_key: SecretStr | None = None  # optional; Azure is keyless without it
    azure_openai_endpoint: str | None = None
    azure_openai_deployment: str | None = None
    azure_openai_api_version: str = "2024-10-21"  # structured outputs need >= 2024-08-01
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=4, ge=0, le=10)
    # Records per model request; 25 keeps the token overhead near 2.9x on 70-token
    # reviews (10: 4.6x, 50: 2.3x; bench/classify_bench.py). Accuracy per batch size
    # needs a real model: measured by the evaluation issue.
    classify_batch_size: int = Field(default=25, ge=1, le=100)
    classify_min_confidence: float = Field(default=0.6, ge=0, le=1)
    classify_retry_budget: int = Field(default=4, ge=0, le=50)
    # The deployment's quota (shared/decide/limiter.py): each instance keeps to its share, the
    # caps divided by the instances sharing the deployment. Unset: no client-side cap
    # (the service's 429s and x-ratelimit-remaining-* headers still pace the calls).
    llm_tokens_per_minute: int | None = Field(default=None, ge=1)
    llm_requests_per_minute: int | None = Field(default=None, ge=1)
    llm_quota_instances: int = Field(default=1, ge=1, le=1000)
    # Model requests in flight per instance; the quota, not this, should be the bound.
    llm_concurrency: int = Field(default=16, ge=1, le=256)
    # The classify stage (shared/decide/classify_stage.py): ingest queues work items of this many
    # landed records on INSIGHTLOOP_CLASSIFY_QUEUE (Service Bus, in the namespace below);
    # sized so one item ends well inside the queue's lock (tests/test_infra.py).
    classify_item_records: int = Field(default=100, ge=1, le=10_000)
    classify_queue: str = "classify"
    service_bus_namespace: str | None = None  # <name>.servicebus.windows.net
    # The classify queue's maxDeliveryCount: the last delivery sends failures to review.
    classify_max_deliveries: int = Field(default=10, ge=1, le=100)
    # Backfills through the Batch API (shared/decide/batch_backfill.py): `classify --pending`
    # submits a backlog of at least this many records as a batch (unset: always online);
    # the poll_classify_batches timer collects ended batches on this NCRONTAB schedule.
    classify_batch_min_records: int | None = Field(default=None, ge=1)
    classify_batch_schedule: str = "0 */10 * * * *"
    azure_openai_batch_deployment: str | None = None  # a GlobalBatch deployment

    # Gold: the refresh_gold timer starts the bundle's job (docs/gold.md). Unset until the
    # bundle is deployed; the timer then logs a ConfigError and starts nothing.
    databricks_host: str | None = None  # https://adb-<id>.<n>.azuredatabricks.net
    databricks_token: SecretStr | None = None  # a PAT for local development only
    # pat (needs the token) or azure-msi (managed identity); unset: pat if a token is set.
    databricks_auth_type: Literal["pat", "azure-msi"] | None = None
    databricks_azure_client_id: str | None = None  # user-assigned identity; unset: system
    databricks_http_timeout_seconds: float = Field(default=30.0, gt=0)
    # The SDK's retry budget for 429/503 and connection errors; whole seconds, 0 means 300.
    databricks_retry_timeout_seconds: int = Field(default=60, ge=1, le=600)
    gold_job_id: int | None = Field(default=None, ge=1)
    # NCRONTAB. The host resolves %INSIGHTLOOP_GOLD_SCHEDULE% itself, so set the app setting.
    gold_schedule: str = "0 */30 * * * *"

    # Ask (docs/ask.md): the MCP tools and `insightloop ask` read Gold. With a warehouse id
    # they query Unity Catalog through the SQL Statement Execution API (the Gold job's
    # Databricks auth); without one, the local Gold parquet tables through DuckDB.
    databricks_warehouse_id: str | None = None
    databricks_catalog: str | None = None  # the bundle's catalog and schema of the tables
    databricks_schema: str | None = None
    databricks_sql_wait_seconds: int = Field(default=30, ge=5, le=50)  # the API's 5..50 s
    # Local Gold tables; unset: <local_storage_root>/gold/spark-warehouse (insightloop gold).
    gold_warehouse: Path | None = None
    ask_max_rows: int = Field(default=50, ge=1, le=500)  # rows one tool call may return
    ask_max_tool_rounds: int = Field(default=4, ge=1, le=10)  # model <-> tools round trips

    # Callbacks (docs/callbacks.md): Jira webhooks, Slack interactivity, review decisions.
    # Secrets are app settings (Key Vault references in Azure) and are never logged.
    callbacks_jira_webhook_secret: SecretStr | None = None
    callbacks_slack_signing_secret: SecretStr | None = None  # required: Slack always signs
    callbacks_review_signing_secret: SecretStr | None = None
    # On: an unset Jira or review secret answers 503. Off: the function key alone guards
    # that route (a Jira Automation web request cannot sign).
    callbacks_require_signatures: bool = True
    callbacks_max_body_bytes: int = Field(default=1 * MIB, ge=1024, le=16 * MIB)
    # Slack's replay window (5 minutes); the review signature uses the same one.
    callbacks_replay_window_seconds: int = Field(default=300, ge=30, le=900)

    # Routing (docs/routing.md): insight exports -> Jira, ServiceNow, Slack, Teams. A sink
    # whose endpoint is unset writes to the outbox container instead; credentials are app
    # settings (Key Vault references in Azure). Teams webhook URLs live in the settings
    # that prompts/routing.yaml names (INSIGHTLOOP_TEAMS_WEBHOOK_<NAME>).
    outbox_container: str = "outbox"
    routing_link_base_url: str | None = None  # tickets link to <base>/<insight_key>
    routing_http_timeout_seconds: float = Field(default=10.0, gt=0)
    # Per sink operation: requests in all, and seconds of Retry-After/backoff waits.
    routing_max_attempts: int = Field(default=4, ge=1, le=10)
    routing_retry_budget_seconds: float = Field(default=30.0, ge=0, le=600)
    jira_base_url: str | None = None  # https://<site>.atlassian.net
    jira_email: str | None = None  # the API token's account
    jira_api_token: SecretStr | None = None
    servicenow_instance_url: str | None = None  # https://<instance>.service-now.com
    servicenow_username: str | None = None
    servicenow_password: SecretStr | None = None
    slack_bot_token: SecretStr | None = None  # xoxb-..., scope chat:write
    slack_api_url: str = "https://slack.com/api"

    @field_validator(
        "llm_api_key",
        "databricks_token",
        "callbacks_jira_webhook_secret",
        "callbacks_slack_signing_secret",
        "callbacks_review_signing_secret",
        "jira_api_token",
        "servicenow_password",
        "slack_bot_token",
        mode="before",
    )
    @classmethod
    def _unresolved_key_vault_reference_is_unset(cls, value: object) -> object:
        # The platform passes a reference it could not resolve through as literal text.
        if isinstance(value, str) and value.startswith(KEY_VAULT_REFERENCE):
            return None
        return value

    @model_validator(mode="after")
    def _provider_needs_an_endpoint(self) -> Settings:
        if self.llm_provider == "openai_compatible" and not (self.llm_base_url and self.llm_model):
            raise ValueError(
                "INSIGHTLOOP_LLM_PROVIDER=openai_compatible needs INSIGHTLOOP_LLM_BASE_URL "
                "and INSIGHTLOOP_LLM_MODEL"
            )
        if self.llm_provider == "azure_openai" and not (
            self.azure_openai_endpoint and self.azure_openai_deployment
        ):
            raise ValueError(
                "INSIGHTLOOP_LLM_PROVIDER=azure_openai needs INSIGHTLOOP_AZURE_OPENAI_ENDPOINT "
                "and INSIGHTLOOP_AZURE_OPENAI_DEPLOYMENT"
            )
        return self

    @model_validator(mode="after")
    def _blob_backend_needs_an_account(self) -> Settings:
        if self.storage_backend == "blob" and not (
            self.storage_account_url or self.storage_connection_string
        ):
            raise ValueError(
                "INSIGHTLOOP_STORAGE_BACKEND=blob needs INSIGHTLOOP_STORAGE_ACCOUNT_URL "
                "(managed identity) or INSIGHTLOOP_STORAGE_CONNECTION_STRING (Azurite)"
            )
        return self


class SettingsError(ConfigError):
    """The environment holds settings that do not validate; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} invalid setting(s):\n" + "\n".join(f"  {p}" for p in problems)
        )
        self.problems = problems


ENV_PREFIX = "INSIGHTLOOP_"
# pydantic's phrasing starts with "Input should be ..."; people read "expected ...".
_EXPECTED_PREFIXES = ("Input should be ", "Input should ", "Value error, ")


def describe_settings_errors(error: ValidationError) -> list[str]:
    """One line per problem: the environment variable, the value given, what is expected."""
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        for prefix in _EXPECTED_PREFIXES:
            if message.startswith(prefix):
                message = message.removeprefix(prefix)
                break
        if not item["loc"]:  # a cross-field rule: its message names the variables
            problems.append(message)
            continue
        field = str(item["loc"][0])
        variable = f"{ENV_PREFIX}{field.upper()}"
        secret = Settings.model_fields.get(field) and "Secret" in str(
            Settings.model_fields[field].annotation
        )
        given = "(hidden: a secret)" if secret else repr(item.get("input"))
        if item["type"] == "extra_forbidden":
            problems.append(f"{variable}: not a setting")
        else:
            problems.append(f"{variable}={given}: expected {message}")
    return problems


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use.

    Raises SettingsError (a ConfigError) naming each bad environment variable.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_settings_errors(exc)) from None
