"""Offline checks of the deployment: infra/ Bicep, host.json, azure.yaml, and shared.telemetry.

No Azure and no Bicep CLI here, so the Bicep is parsed with the tree-sitter Bicep grammar
(PyPI ``tree-sitter-bicep``): every file must parse without an error node, and the checks
below read the syntax tree rather than grepping text. The consistency checks tie the Bicep to
the code: every binding connection and ``%SETTING%`` of the functions, every setting of
``shared/settings.py``, the Teams webhook settings of ``prompts/routing.yaml`` and the names
in ``local.settings.json.example``.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
import tree_sitter_bicep
import yaml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pydantic import SecretStr
from tree_sitter import Language, Node, Parser

from shared import telemetry
from shared.act.routing import RoutingReport
from shared.decide.batch_backfill import PollResult
from shared.decide.classifier import CallRecord
from shared.enrich.quality import CheckResult, GateResult
from shared.models import IngestReport
from shared.settings import PROJECT_ROOT, Settings

INFRA = PROJECT_ROOT / "infra"
MAIN_BICEP = INFRA / "main.bicep"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
HOOK = INFRA / "hooks" / "postdeploy.sh"
OPERATE_DOC = PROJECT_ROOT / "docs" / "operate.md"

KEY_VAULT_REFERENCE = "@Microsoft.KeyVault(SecretUri="
SETTING_TOKEN = re.compile(r"%([A-Za-z0-9_]+)%")
SECRET_NAME = re.compile(r"(?i)secret|password|token|api_?key|access_?key|webhook|signing|sas\b")
EXACT_AVM = re.compile(r"^br/public:avm/(res|ptn|utl)/[a-z0-9-]+(/[a-z0-9-]+)*:\d+\.\d+\.\d+$")

# Connection settings each binding type needs for an identity-based connection.
CONNECTION_SUFFIXES = {
    "blobTrigger": ("blobServiceUri", "queueServiceUri", "credential", "clientId"),
    "blob": ("blobServiceUri", "credential", "clientId"),
    "queueTrigger": ("queueServiceUri", "credential", "clientId"),
    "serviceBusTrigger": ("fullyQualifiedNamespace", "credential", "clientId"),
    "serviceBus": ("fullyQualifiedNamespace", "credential", "clientId"),
}

# Settings of shared/settings.py the Bicep does not set, each with its reason (one place).
TUNING = "tuning knob with a working default; override through the extraAppSettings parameter"
OPTIONAL_IN_AZURE = {
    "INSIGHTLOOP_LOCAL_STORAGE_ROOT": "local folder backend only",
    "INSIGHTLOOP_STORAGE_CONNECTION_STRING": "Azurite and development only; Azure uses the "
    "account URL and the managed identity",
    "INSIGHTLOOP_STORAGE_API_VERSION": "pins an API version Azurite accepts; Azure takes the SDK's",
    "INSIGHTLOOP_STORAGE_RETRY_TOTAL": TUNING,
    "INSIGHTLOOP_CONFIG_DIR": "prompts/ is deployed with the app",
    "INSIGHTLOOP_DEFAULT_EVENT_SOURCE": "producers name the source per message",
    "INSIGHTLOOP_LANDING_BATCH_MAX_BYTES": TUNING,
    "INSIGHTLOOP_LANDING_BATCH_MAX_RECORDS": TUNING,
    "INSIGHTLOOP_MAX_TEXT_CHARS": TUNING,
    "INSIGHTLOOP_MAX_ROW_CHARS": TUNING,
    "INSIGHTLOOP_LEDGER_SHARDS": TUNING,
    "INSIGHTLOOP_LEDGER_CLAIM_EVERY_RECORDS": TUNING,
    "INSIGHTLOOP_LEDGER_CACHE_BYTES": TUNING,
    "INSIGHTLOOP_ENRICH_WORKERS": TUNING + "; unset: one process per instance in Functions",
    "INSIGHTLOOP_LLM_MODEL": "openai_compatible provider only",
    "INSIGHTLOOP_LLM_BASE_URL": "openai_compatible provider only",
    "INSIGHTLOOP_LLM_API_KEY": "openai_compatible provider only; Azure OpenAI is keyless",
    "INSIGHTLOOP_LLM_TIMEOUT_SECONDS": TUNING,
    "INSIGHTLOOP_LLM_MAX_RETRIES": TUNING,
    "INSIGHTLOOP_CLASSIFY_BATCH_SIZE": TUNING + "; host.json sizing assumes the default",
    "INSIGHTLOOP_CLASSIFY_MIN_CONFIDENCE": TUNING,
    "INSIGHTLOOP_CLASSIFY_RETRY_BUDGET": TUNING,
    "INSIGHTLOOP_LLM_CONCURRENCY": TUNING,
    "INSIGHTLOOP_CLASSIFY_BATCH_MIN_RECORDS": TUNING + "; unset: backlogs go online",
    "INSIGHTLOOP_AZURE_OPENAI_BATCH_DEPLOYMENT": "set once a GlobalBatch deployment exists "
    "(docs/operate.md#the-classify-stage)",
    "INSIGHTLOOP_CLASSIFY_ITEM_RECORDS": TUNING + "; the classify queue's lock sizing assumes "
    "the default",
    "INSIGHTLOOP_DATABRICKS_TOKEN": "a PAT for local development; Azure uses the managed identity",
    "INSIGHTLOOP_DATABRICKS_HTTP_TIMEOUT_SECONDS": TUNING,
    "INSIGHTLOOP_DATABRICKS_RETRY_TIMEOUT_SECONDS": TUNING,
    "INSIGHTLOOP_CALLBACKS_REQUIRE_SIGNATURES": "on by default, which is what Azure wants",
    "INSIGHTLOOP_CALLBACKS_MAX_BODY_BYTES": TUNING,
    "INSIGHTLOOP_CALLBACKS_REPLAY_WINDOW_SECONDS": TUNING,
    "INSIGHTLOOP_ROUTING_HTTP_TIMEOUT_SECONDS": TUNING,
    "INSIGHTLOOP_ROUTING_MAX_ATTEMPTS": TUNING,
    "INSIGHTLOOP_ROUTING_RETRY_BUDGET_SECONDS": TUNING,
    "INSIGHTLOOP_SLACK_API_URL": "the public Slack API by default",
    "INSIGHTLOOP_DATABRICKS_SQL_WAIT_SECONDS": TUNING,
    "INSIGHTLOOP_GOLD_WAREHOUSE": "local Gold parquet only; Azure reads the SQL warehouse",
    "INSIGHTLOOP_ASK_MAX_ROWS": TUNING,
    "INSIGHTLOOP_ASK_MAX_TOOL_ROUNDS": TUNING + "; only `insightloop ask` calls a model with tools",
}

# Settings that are not secrets although their names say so.
NOT_SECRETS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "ingestion endpoint and instrumentation key, an "
    "identifier: local auth is off, so ingestion needs the identity's Entra token",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "names the identity's client id, no secret",
    "INSIGHTLOOP_LLM_TOKENS_PER_MINUTE": "the deployment's quota, counted in model tokens",
}

# local.settings.json.example entries with no Azure counterpart, and the reverse.
LOCAL_ONLY = {
    "FUNCTIONS_WORKER_RUNTIME": "Flex Consumption sets the runtime in functionAppConfig and "
    "rejects this app setting",
    "AzureWebJobsStorage": "Azurite locally; Azure uses the AzureWebJobsStorage__* identity "
    "settings",
}
AZURE_ONLY_PREFIXES = {
    "AzureWebJobsStorage__": "the host's storage by identity (Azurite locally)",
    "APPLICATIONINSIGHTS_": "telemetry in Azure only",
}
# Names the example still lacks; delete each entry once local.settings.json.example has it.
PENDING_IN_EXAMPLE: dict[str, str] = {}

# Service Bus batch sizing (docs/operate.md#service-bus-batches). Enrichment is measured
# (docs/benchmarks.md); the model figures are assumptions until a real deployment is timed.
ENRICH_MS_PER_RECORD = 11.1  # masking text + title 9.7 ms + language detection 1.4 ms
BUSY_HOST_FACTOR = 1.5  # the benchmark VM ran up to 1.5x slower when its host was busy
MODEL_REQUEST_P99_S = 30.0  # one request of classify_batch_size records
RETRY_AFTER_S = 30.0  # one 429 with Retry-After per batch


# ------------------------------------------------------------------ Bicep syntax tree


@functools.cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


@functools.cache
def _tree(path: Path) -> Node:
    return _parser().parse(path.read_bytes()).root_node


def _text(node: Node) -> str:
    return (node.text or b"").decode()


def _errors(node: Node) -> Iterator[Node]:
    if node.type == "ERROR" or node.is_missing:
        yield node
    for child in node.children:
        yield from _errors(child)


def _named(node: Node) -> list[Node]:
    """Named children without comments (the grammar keeps comments in the tree)."""
    return [child for child in node.named_children if child.type != "comment"]


def _key(node: Node) -> str:
    return _text(node)[1:-1] if node.type == "string" else _text(node)


def _properties(obj: Node) -> dict[str, Node]:
    """An object literal's properties: key -> value node."""
    found = {}
    for prop in _named(obj):
        if prop.type == "object_property":
            key, *_, value = _named(prop)
            found[_key(key)] = value
    return found


def _first(node: Node, kind: str) -> Node | None:
    if node.type == kind:
        return node
    for child in _named(node):
        if (hit := _first(child, kind)) is not None:
            return hit
    return None


def _declarations(path: Path, kind: str) -> dict[str, Node]:
    """Top-level declarations of ``kind`` by name (param, var, module, output, resource)."""
    found = {}
    for node in _named(_tree(path)):
        if node.type == kind:
            found[_text(_named(node)[0])] = node
    return found


def _decorators(declaration: Node) -> list[str]:
    previous = declaration.prev_named_sibling
    if previous is None or previous.type != "decorators":
        return []
    return [_text(_named(call)[0]) for call in _named(previous) if _named(call)]


def _variable(name: str) -> Node:
    return _named(_declarations(MAIN_BICEP, "variable_declaration")[name])[-1]


def _modules(path: Path) -> dict[str, tuple[str, dict[str, Node]]]:
    """Module name -> (source, body properties)."""
    found = {}
    for name, node in _declarations(path, "module_declaration").items():
        source = _key(_named(node)[1])
        body = _first(_named(node)[2], "object")
        assert body is not None, f"module {name} has no body"
        found[name] = (source, _properties(body))
    return found


def _params(name: str, path: Path = MAIN_BICEP) -> dict[str, Node]:
    """A module's ``params`` object: parameter -> value node."""
    _, body = _modules(path)[name]
    return _properties(body["params"])


def _settings_in(node: Node) -> Iterator[tuple[str, Node]]:
    """Keys of the object literals an app-settings expression merges (through union, ?:)."""
    if node.type == "object":
        yield from _properties(node).items()
    elif node.type in {"call_expression", "arguments", "ternary_expression"}:
        for child in _named(node):
            yield from _settings_in(child)
    elif node.type == "parenthesized_expression":
        yield from _settings_in(_named(node)[0])


def _settings_variables() -> list[str]:
    return [
        name
        for name in _declarations(MAIN_BICEP, "variable_declaration")
        if name.endswith("Settings") and name != "appSettings"
    ]


@functools.cache
def bicep_app_settings() -> dict[str, Node]:
    """Every app setting the Bicep can set (conditional ones included): name -> value node."""
    settings: dict[str, Node] = {}
    for name in _settings_variables():
        for key, value in _settings_in(_variable(name)):
            assert key not in settings, f"app setting {key} is set twice"
            settings[key] = value
    return settings


def _is_key_vault_reference(value: Node) -> bool:
    return value.type == "string" and _key(value).startswith(KEY_VAULT_REFERENCE)


def _iso_seconds(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, f"unsupported ISO 8601 duration {duration}"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# ------------------------------------------------------------------ the functions' bindings


@pytest.fixture(scope="module")
def app_functions() -> dict[str, Any]:
    """The app's functions, plus any blueprint in functions/ it does not register yet."""
    from tests.helpers import registered_functions

    found = registered_functions()
    for path in sorted((PROJECT_ROOT / "functions").glob("*.py")):
        blueprint = getattr(importlib.import_module(f"functions.{path.stem}"), "bp", None)
        if isinstance(blueprint, func.Blueprint):
            fresh = func.FunctionApp()
            fresh.register_functions(blueprint)
            for fn in fresh.get_functions():
                found.setdefault(fn.get_function_name(), fn)
    return found


def _bindings(app_functions: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, fn in sorted(app_functions.items()):
        for binding in fn.get_bindings():
            yield name, binding.get_dict_repr()


def _setting_tokens(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from SETTING_TOKEN.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _setting_tokens(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _setting_tokens(item)


# ------------------------------------------------------------------ Bicep: syntax and conventions


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda path: str(path.relative_to(INFRA)))
def test_bicep_file_parses_without_syntax_errors(path: Path) -> None:
    errors = [
        f"{path.name}:{node.start_point.row + 1}: {_text(node)[:60]!r}"
        for node in _errors(_tree(path))
    ]
    assert not errors, "Bicep syntax errors:\n" + "\n".join(errors)


def test_the_grammar_rejects_broken_bicep() -> None:
    broken = b"param location string = {\nmodule m 'br/public:avm/res/x/y:1.0.0' = {\n"
    assert list(_errors(_parser().parse(broken).root_node))


def test_main_targets_the_subscription_and_scopes_modules_to_the_resource_group() -> None:
    first = _named(_tree(MAIN_BICEP))[0]
    assert first.type == "target_scope_assignment" and "'subscription'" in _text(first)
    for name, (_, body) in _modules(MAIN_BICEP).items():
        assert "scope" in body and _text(body["scope"]) == "rg", f"module {name} is not in rg"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda path: str(path.relative_to(INFRA)))
def test_modules_are_pinned_avm_versions_or_local_files(path: Path) -> None:
    for name, (source, _) in _modules(path).items():
        if source.startswith("br"):
            assert EXACT_AVM.match(source), f"{path.name}: module {name}: {source} is not exact"
        else:
            assert (path.parent / source).is_file(), f"{path.name}: module {name}: no {source}"


def test_every_abbreviation_used_is_defined() -> None:
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    used = set(re.findall(r"\babbrs\.(\w+)", MAIN_BICEP.read_text()))
    assert used and used <= abbreviations.keys(), used - abbreviations.keys()


def test_outputs_are_upper_snake_case() -> None:
    for path in [MAIN_BICEP]:
        for name in _declarations(path, "output_declaration"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"output {name} is not UPPER_SNAKE"


def test_resources_carry_the_azd_tags_and_the_service_matches_azure_yaml() -> None:
    tags = _properties(_variable("tags"))
    assert _text(tags["azd-env-name"]) == "environmentName"
    assert "'azd-service-name': serviceName" in _text(_params("functionApp")["tags"])
    service = _key(_variable("serviceName"))
    azure_yaml = yaml.safe_load((PROJECT_ROOT / "azure.yaml").read_text())
    assert service in azure_yaml["services"]
    assert azure_yaml["services"][service] == {
        "project": ".",
        "language": "python",
        "host": "function",
    }
    assert azure_yaml["infra"]["path"] == "infra"


def test_the_function_app_is_flex_consumption_python_311_with_one_identity() -> None:
    modules = _modules(MAIN_BICEP)
    assert _key(_params("appServicePlan")["skuName"]) == "FC1"
    app = _params("functionApp")
    config = _text(app["functionAppConfig"])
    assert "name: 'python'" in config and "version: '3.11'" in config
    assert "type: 'UserAssignedIdentity'" in config
    identities = _text(app["managedIdentities"])
    assert "identity.outputs.resourceId" in identities and "systemAssigned" not in identities
    assert _text(app["keyVaultAccessIdentityResourceId"]) == "identity.outputs.resourceId"
    assert "properties: appSettings" in _text(app["configs"])
    assert len([s for s, _ in modules.values() if "managed-identity/user-assigned" in s]) == 1


def test_app_settings_merge_with_base_settings_winning() -> None:
    merged = _variable("appSettings")
    assert merged.type == "call_expression" and _text(_named(merged)[0]) == "union"
    parts = [_text(arg) for arg in _named(_named(merged)[1])]
    assert parts[0] == "extraAppSettings", "custom settings must come first so base ones win"
    assert parts[-1] == "hostSettings"
    assert set(parts[1:]) == set(_settings_variables())


def test_parameters_file_sets_only_known_parameters_and_every_required_one() -> None:
    params = _declarations(MAIN_BICEP, "parameter_declaration")
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(given) <= set(params), set(given) - set(params)
    required = {name for name, node in params.items() if "=" not in [c.type for c in node.children]}
    assert required <= set(given), required - set(given)


# ------------------------------------------------------------------ Bicep: the resources


def test_storage_is_adls_gen2_without_shared_keys_and_with_every_container() -> None:
    for name in ("hostStorage", "dataStorage"):
        assert _text(_params(name)["allowSharedKeyAccess"]) == "false", name
    data = _params("dataStorage")
    assert _text(data["enableHierarchicalNamespace"]) == "true"
    containers = {_key(v) for v in _properties(_variable("containers")).values()}
    assert {
        "inbox",
        "landing",
        "quarantine",
        "exports",
        "ledger",
        "outbox",
        "deadletter",
    } <= containers
    rules = _text(data["managementPolicyRules"])
    assert "daysAfterModificationGreaterThan: inboxRetentionDays" in rules
    assert "'${containers.inbox}/'" in rules
    retention = _declarations(MAIN_BICEP, "parameter_declaration")["inboxRetentionDays"]
    assert _text(retention).endswith("= 30")


def test_local_auth_is_disabled_everywhere() -> None:
    for name in ("serviceBus", "openAi", "appInsights"):
        assert _text(_params(name)["disableLocalAuth"]) == "true", name
    assert _text(_params("keyVault")["enableRbacAuthorization"]) == "true"
    assert _text(_params("openAi")["customSubDomainName"]) == "openAiName"


def test_the_queue_dead_letters_and_has_no_shared_access_rules() -> None:
    queue = _properties(_first(_params("serviceBus")["queues"], "object"))
    assert int(_text(queue["maxDeliveryCount"])) >= 5
    assert _text(queue["deadLetteringOnMessageExpiration"]) == "true"
    assert _text(queue["authorizationRules"]) == "[]"


def test_service_bus_batch_p99_stays_under_half_the_lock() -> None:
    queue = _properties(_first(_params("serviceBus")["queues"], "object"))
    lock_s = _iso_seconds(_key(queue["lockDuration"]))
    assert lock_s <= 300, "Service Bus locks are at most 5 minutes"
    batch = json.loads((PROJECT_ROOT / "host.json").read_text())["extensions"]["serviceBus"][
        "maxMessageBatchSize"
    ]
    # Target-based scaling divides the backlog by this: 1,000 (the default) means one instance.
    assert 32 <= batch <= 64
    per_request = Settings.model_fields["classify_batch_size"].default
    assert batch % per_request == 0, "a partial model request pays the prompt prefix again"
    requests = math.ceil(batch / per_request)
    p99 = batch * ENRICH_MS_PER_RECORD * BUSY_HOST_FACTOR / 1000
    p99 += requests * MODEL_REQUEST_P99_S + RETRY_AFTER_S
    assert 2 * p99 <= lock_s, f"batch p99 {p99:.0f} s is over half the {lock_s} s lock"


def _classify_queue() -> dict[str, Node]:
    queues = [
        _properties(queue)
        for queue in _named(_params("serviceBus")["queues"])
        if queue.type == "object"
    ]
    [queue] = [q for q in queues if _text(q["name"]) == "classifyQueueName"]
    return queue


def _bicep_int(name: str, keyword: str = "param") -> int:
    match = re.search(rf"^{keyword} {name}(?: int)? = (\d+)$", MAIN_BICEP.read_text(), re.M)
    assert match, f"{keyword} {name} not found"
    return int(match.group(1))


def test_a_classify_work_item_ends_well_inside_the_lock_at_the_configured_concurrency() -> None:
    from shared.decide.classification import model_answer_schema, strict_json_schema
    from shared.decide.classifier import MaskedText, batch_messages
    from shared.decide.llm import SCHEMA_NAME, ChatModel
    from shared.decide.prompts import get_prompt_version, load_manifest
    from shared.decide.taxonomy import get_taxonomy

    queue = _classify_queue()
    lock_s = _iso_seconds(_key(queue["lockDuration"]))
    fields = Settings.model_fields
    records = fields["classify_item_records"].default
    per_request = fields["classify_batch_size"].default
    concurrency = fields["llm_concurrency"].default
    assert records % per_request == 0, "a partial model request pays the prompt prefix again"
    # Every split and re-ask the retry budget allows, each as big as a full request.
    requests = records // per_request + fields["classify_retry_budget"].default
    waves = math.ceil(requests / concurrency)
    p99 = waves * MODEL_REQUEST_P99_S + RETRY_AFTER_S
    p99 += records * ENRICH_MS_PER_RECORD * BUSY_HOST_FACTOR / 1000  # evidence re-scan, bounded
    assert 2 * p99 <= lock_s, f"item p99 {p99:.0f} s is over half the {lock_s} s lock"

    # Paced by the quota instead: every instance busy, each on its share of the default
    # deployment. The host renews the lock while the function runs, up to host.json's
    # maxAutoLockRenewalDuration.
    prompts = PROJECT_ROOT / "prompts"
    taxonomy = get_taxonomy(prompts)
    prompt = get_prompt_version(prompts, load_manifest(prompts / "classify").active)
    review = "The zipper broke after two washes and support never answered my emails. " * 4
    batch = [MaskedText(f"{i:032x}", review) for i in range(per_request)]
    messages, _ = batch_messages(prompt, taxonomy, batch)
    schema = strict_json_schema(model_answer_schema(taxonomy))
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
    }
    model = ChatModel(None, "sizing")  # type: ignore[arg-type]
    tokens = requests * model.estimated_tokens(messages, response_format, per_request)
    host = json.loads((PROJECT_ROOT / "host.json").read_text())["extensions"]["serviceBus"]
    # Items running at once on an instance split its share of the quota.
    share = _bicep_int("openAiDeploymentCapacity") * 1000 / _bicep_int("maximumInstanceCount")
    quota_s = host["maxConcurrentCalls"] * tokens / share * 60
    hours, minutes, seconds = map(int, host["maxAutoLockRenewalDuration"].split(":"))
    renewal_s = hours * 3600 + minutes * 60 + seconds
    assert 2 * quota_s <= renewal_s, f"item at the quota {quota_s:.0f} s, renewal {renewal_s} s"


def test_the_classify_stage_sends_its_failures_to_review_on_the_queues_last_delivery() -> None:
    queue = _classify_queue()
    assert _text(queue["maxDeliveryCount"]) == "classifyMaxDeliveries"
    deliveries = _bicep_int("classifyMaxDeliveries", "var")
    assert deliveries == Settings.model_fields["classify_max_deliveries"].default
    settings = bicep_app_settings()
    assert _text(settings["INSIGHTLOOP_CLASSIFY_MAX_DELIVERIES"]) == "string(classifyMaxDeliveries)"


def test_the_enrichment_cost_still_matches_the_benchmark() -> None:
    benchmarks = (PROJECT_ROOT / "docs" / "benchmarks.md").read_text()
    masking = re.search(r"\| PII masking, text \+ title[^|]*\| [\d,]+ \| ([\d.]+) \|", benchmarks)
    language = re.search(
        r"\| language detection \(`detect_languages`\) \| [\d,]+ \| ([\d.]+) \|", benchmarks
    )
    assert masking and language, "docs/benchmarks.md changed its enrichment table"
    assert float(masking.group(1)) + float(language.group(1)) <= ENRICH_MS_PER_RECORD


def test_the_identity_gets_every_role_the_app_needs() -> None:
    text = MAIN_BICEP.read_text()
    for role in (
        "storageBlobDataOwner",
        "storageBlobDataContributor",
        "storageQueueDataContributor",
        "serviceBusDataReceiver",
        "serviceBusDataSender",
        "cognitiveServicesOpenAiUser",
        "keyVaultSecretsUser",
        "monitoringMetricsPublisher",
    ):
        assert f"roles.{role})" in text, f"no role assignment uses {role}"
    host = _text(_params("hostStorage")["roleAssignments"])
    assert "roles.storageBlobDataOwner" in host and "roles.storageQueueDataContributor" in host
    data = _text(_params("dataStorage")["roleAssignments"])
    assert (
        "roles.storageBlobDataContributor" in data and "roles.storageQueueDataContributor" in data
    )
    access = _params("containerAccess", INFRA / "modules" / "databricks.bicep")
    assert "ba92f5b4-2d11-453d-a403-e96b0029c9fe" in _text(access["roleDefinitionId"])
    assert "containers.landing" in _text(_params("databricks")["containerNames"])


def test_app_insights_uses_entra_auth_with_the_identity() -> None:
    settings = bicep_app_settings()
    auth = _key(settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
    assert auth == "ClientId=${identity.outputs.clientId};Authorization=AAD"


# ------------------------------------------------------------------ consistency with the code


def test_every_binding_connection_and_setting_is_set_by_the_bicep(
    app_functions: dict[str, Any],
) -> None:
    settings = bicep_app_settings()
    missing = []
    for function, binding in _bindings(app_functions):
        for token in _setting_tokens(binding):
            if token not in settings:
                missing.append(f"{function}: %{token}%")
        connection = binding.get("connection")
        if connection:
            assert connection not in settings, f"{function}: {connection} would be a secret"
            suffixes = CONNECTION_SUFFIXES.get(binding["type"], ("credential", "clientId"))
            missing += [
                f"{function}: {connection}__{suffix}"
                for suffix in suffixes
                if f"{connection}__{suffix}" not in settings
            ]
            credential = settings.get(f"{connection}__credential")
            assert credential is None or _key(credential) == "managedidentity"
    assert not missing, "settings the bindings need but the Bicep does not set:\n" + "\n".join(
        missing
    )


def test_the_functions_found_include_every_trigger_family(app_functions: dict[str, Any]) -> None:
    types = {binding["type"] for _, binding in _bindings(app_functions)}
    assert {"blobTrigger", "serviceBusTrigger", "timerTrigger", "httpTrigger"} <= types


def test_every_setting_is_set_by_the_bicep_or_listed_optional() -> None:
    settings = bicep_app_settings()
    names = {f"INSIGHTLOOP_{field.upper()}": info for field, info in Settings.model_fields.items()}
    unaccounted = sorted(set(names) - set(settings) - set(OPTIONAL_IN_AZURE))
    assert not unaccounted, (
        "set these in infra/main.bicep or list them in OPTIONAL_IN_AZURE with a reason: "
        + ", ".join(unaccounted)
    )
    assert not set(OPTIONAL_IN_AZURE) - set(names), "stale OPTIONAL_IN_AZURE entries"
    assert not set(OPTIONAL_IN_AZURE) & set(settings), "listed optional but set by the Bicep"
    for name, info in names.items():
        if name in settings and SecretStr in (
            info.annotation,
            *getattr(info.annotation, "__args__", ()),
        ):
            assert _is_key_vault_reference(settings[name]), f"{name} must be a Key Vault reference"


def test_teams_webhook_settings_of_the_routing_config_are_key_vault_references() -> None:
    routing = (PROJECT_ROOT / "prompts" / "routing.yaml").read_text()
    webhooks = set(
        re.findall(r"webhook_setting:\s*(INSIGHTLOOP_TEAMS_WEBHOOK_[A-Z0-9_]+)", routing)
    )
    settings = bicep_app_settings()
    for name in webhooks:
        assert name in settings and _is_key_vault_reference(settings[name]), name


def test_no_app_setting_or_parameter_holds_a_key_password_or_connection_string() -> None:
    for name, value in bicep_app_settings().items():
        text = _text(value)
        assert not re.search(
            r"(?i)AccountKey=|SharedAccessKey|listKeys|primaryKey|\.key\d", text
        ), name
        if name in NOT_SECRETS:
            continue
        if SECRET_NAME.search(name) or "CONNECTION_STRING" in name:
            assert _is_key_vault_reference(value), f"{name} must be a Key Vault reference"
    for path in BICEP_FILES:
        text = path.read_text()
        assert not re.search(r"\blist(Keys|ConnectionStrings|Secrets|AccountSas)\(", text), (
            path.name
        )
        assert not re.search(r"outputs\.\??(primary|secondary)(AccessKey|ConnectionString)", text)
        assert not re.search(r"outputs\.\??exportedSecrets", text), path.name
        for name, node in _declarations(path, "parameter_declaration").items():
            assert "secure" not in _decorators(node), (
                f"{path.name}: @secure() param {name}: keep the secret in Key Vault and "
                "reference it from the app setting"
            )
            assert not SECRET_NAME.search(name), f"{path.name}: param {name} looks like a secret"
    for name, given in json.loads((INFRA / "main.parameters.json").read_text())[
        "parameters"
    ].items():
        value = str(given.get("value", ""))
        assert not SECRET_NAME.search(name), name
        assert value.startswith("${") or len(value) < 40, f"{name}: a literal that could be a key"


def test_local_settings_example_and_the_bicep_agree_on_names(app_functions: dict[str, Any]) -> None:
    example = json.loads((PROJECT_ROOT / "local.settings.json.example").read_text())["Values"]
    settings = bicep_app_settings()
    unknown = sorted(set(example) - set(settings) - set(LOCAL_ONLY))
    assert not unknown, f"in local.settings.json.example but not set in Azure: {unknown}"
    # What a developer needs locally: every binding-derived and unconditional app setting.
    needed = {
        key
        for name in ("connectionSettings", "insightloopSettings", "secretSettings")
        for key, _ in _settings_in(_variable(name))
    }
    needed |= {
        token for _, binding in _bindings(app_functions) for token in _setting_tokens(binding)
    }
    needed = {name for name in needed if not name.startswith(tuple(AZURE_ONLY_PREFIXES))}
    missing = needed - set(example)
    assert missing <= set(PENDING_IN_EXAMPLE), (
        f"add to local.settings.json.example: {sorted(missing - set(PENDING_IN_EXAMPLE))}"
    )


# ------------------------------------------------------------------ hooks, azure.yaml, host.json


def test_the_postdeploy_hook_subscribes_every_event_grid_blob_trigger(
    app_functions: dict[str, Any],
) -> None:
    hook = HOOK.read_text()
    outputs = _declarations(MAIN_BICEP, "output_declaration")
    for function, binding in _bindings(app_functions):
        if binding["type"] != "blobTrigger":
            continue
        assert binding.get("source") == "EventGrid", f"{function}: Flex needs the Event Grid source"
        match = re.fullmatch(r"%(\w+)%/([^{]*)\{.*", binding["path"])
        assert match, f"{function}: path {binding['path']} does not start with a container setting"
        setting, prefix = match.groups()
        variable = setting.removeprefix("INSIGHTLOOP_")
        assert setting in outputs, f"main.bicep must output {setting} for the hook"
        assert f"{variable}=$(value {setting})" in hook
        subject = f"/blobServices/default/containers/${{{variable}}}/blobs/{prefix}"
        assert re.search(rf"subscribe \w+ {function} \\?\s*\"{re.escape(subject)}\"", hook), (
            f"{HOOK.name} does not subscribe {function} to {subject}"
        )
    assert "deadLetterWithResourceIdentity" in hook and "Microsoft.Storage.BlobCreated" in hook


def test_hooks_in_azure_yaml_exist_and_are_executable() -> None:
    azure_yaml = yaml.safe_load((PROJECT_ROOT / "azure.yaml").read_text())
    for name, hook in azure_yaml["hooks"].items():
        for platform in ("posix", "windows"):
            script = PROJECT_ROOT / hook[platform]["run"]
            assert script.is_file(), f"{name}: {script}"
            assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_host_json_keeps_requests_and_bounds_the_timeout() -> None:
    host = json.loads((PROJECT_ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    # The MCP tool trigger (functions/ask.py) needs the MCP extension: bundle 4.32 or later.
    assert host["extensionBundle"]["version"] == "[4.32.0, 5.0.0)"
    excluded = host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"]
    assert "Request" in excluded.split(";")
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    assert timedelta(hours=hours, minutes=minutes, seconds=seconds) <= timedelta(hours=1)
    assert host["extensions"]["serviceBus"]["prefetchCount"] == 0, "prefetched locks would expire"


def _leaf_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                yield from _leaf_keys(item)
            else:
                yield key


def test_every_host_json_knob_is_explained_in_operate_md() -> None:
    host = json.loads((PROJECT_ROOT / "host.json").read_text())
    doc = OPERATE_DOC.read_text()
    knobs = set(
        _leaf_keys({k: v for k, v in host.items() if k not in {"version", "extensionBundle"}})
    )
    unexplained = sorted(knob for knob in knobs if f"`{knob}`" not in doc)
    assert not unexplained, f"explain these host.json values in docs/operate.md: {unexplained}"


# ------------------------------------------------------------------ telemetry

ALLOWED_ATTRIBUTES = {
    "source",
    "trigger",
    "outcome",
    "reason",
    "result",
    "passed",
    "check",
    "prompt_version",
    "model",
    "kind",
    "action",
    "sink",
    "route",
    "status_code",
}


@pytest.fixture
def clean_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Untried telemetry state for the test; monkeypatch restores the process state after."""
    monkeypatch.setattr(telemetry, "_configured", None)
    monkeypatch.setattr(telemetry, "_instruments", None)
    monkeypatch.delenv(telemetry.CONNECTION_STRING_ENV, raising=False)


@pytest.fixture
def metrics(clean_telemetry: None) -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    telemetry.use_meter_provider(provider)
    yield reader
    provider.shutdown()


def _points(reader: InMemoryMetricReader) -> dict[tuple[str, frozenset], Any]:
    data = reader.get_metrics_data()
    points = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    points[(metric.name, frozenset(point.attributes.items()))] = point
    return points


def _value(points: dict[tuple[str, frozenset], Any], name: str, **attributes: str) -> Any:
    return points[(name, frozenset(attributes.items()))]


def _report(**counts: Any) -> IngestReport:
    started = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    return IngestReport(
        run_id="run-1",
        source="reviews",
        input_name="reviews/export-1.csv",
        started_at=started,
        finished_at=started + timedelta(seconds=2.5),
        **counts,
    )


def test_a_batch_poll_costs_each_prompt_version_at_half_the_list_price(
    metrics: InMemoryMetricReader,
) -> None:
    result = PollResult("batch-1", "completed", requests=3)
    result.tokens_by_version = {"classify/v1": (1_000_000, 0), "classify/v2": (0, 1_000_000)}
    result.prompt_tokens = result.completion_tokens = 1_000_000
    telemetry.record_batch_poll(result, model="gpt-4o-mini")
    points = _points(metrics)
    cost = "insightloop.model.cost"
    v1 = {"prompt_version": "classify/v1", "model": "gpt-4o-mini", "mode": "batch"}
    v2 = {**v1, "prompt_version": "classify/v2"}
    assert _value(points, cost, **v1).value == pytest.approx(0.075)  # 0.15 per 1M input / 2
    assert _value(points, cost, **v2).value == pytest.approx(0.30)  # 0.60 per 1M output / 2
    tokens = _value(points, "insightloop.model.tokens", **v2, kind="completion")
    assert tokens.value == 1_000_000


def test_importing_telemetry_does_no_work() -> None:
    probe = (
        "import sys, shared.telemetry as t; "
        "print(t._configured, any(m.startswith(('opentelemetry', 'azure.monitor')) "
        "for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["None", "False"]


def test_without_a_connection_string_metrics_are_off_and_records_are_no_ops(
    clean_telemetry: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert telemetry.configure_telemetry() is False
    assert telemetry.configure_telemetry() is False
    with caplog.at_level(logging.INFO, logger="insightloop.telemetry"):
        telemetry.record_ingest(_report(records_in=1, landed=1), trigger="blob")
        telemetry.record_callback("jira", "recorded", status_code=202, events=1)
    assert [r.getMessage().split()[0] for r in caplog.records] == ["ingest", "callback"]


def test_a_connection_string_configures_azure_monitor_once(
    clean_telemetry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    fake = type(sys)("azure.monitor.opentelemetry")
    fake.configure_azure_monitor = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", fake)
    monkeypatch.setenv(telemetry.CONNECTION_STRING_ENV, "InstrumentationKey=00000000-0000")
    assert telemetry.configure_telemetry() is True
    assert telemetry.configure_telemetry() is True
    telemetry.record_ingest(_report(records_in=2, landed=2), trigger="servicebus")
    assert len(calls) == 1
    assert calls[0]["disable_logging"] is True and calls[0]["disable_tracing"] is True
    assert all(not option["enabled"] for option in calls[0]["instrumentation_options"].values())


def test_a_failing_exporter_setup_turns_metrics_off_without_raising(
    clean_telemetry: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise ValueError("bad connection string")

    fake = type(sys)("azure.monitor.opentelemetry")
    fake.configure_azure_monitor = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", fake)
    monkeypatch.setenv(telemetry.CONNECTION_STRING_ENV, "InstrumentationKey=x")
    assert telemetry.configure_telemetry() is False
    telemetry.record_routing(RoutingReport(export="insights/run-1.json"))
    assert "Azure Monitor setup failed" in caplog.text


def test_record_ingest_counts_records_by_outcome_and_reason(
    metrics: InMemoryMetricReader,
) -> None:
    report = _report(
        records_in=10,
        landed=6,
        duplicates=2,
        quarantined=2,
        quarantine_reasons={"missing_text": 1, "quality_gate": 1},
        in_review=1,
        classified=5,
    )
    telemetry.record_ingest(report, trigger="blob")
    telemetry.record_ingest(_report(duplicate_input=True), trigger="blob")
    points = _points(metrics)
    labels = {"source": "reviews", "trigger": "blob"}
    for outcome, count in (("in", 10), ("landed", 6), ("duplicate", 2), ("quarantined", 2)):
        assert (
            _value(points, "insightloop.ingest.records", **labels, outcome=outcome).value == count
        )
    assert _value(points, "insightloop.ingest.records", **labels, outcome="review").value == 1
    assert (
        _value(
            points, "insightloop.ingest.quarantined", source="reviews", reason="quality_gate"
        ).value
        == 1
    )
    assert _value(points, "insightloop.ingest.inputs", **labels, result="ok").value == 1
    assert (
        _value(points, "insightloop.ingest.inputs", **labels, result="duplicate_input").value == 1
    )
    duration = _value(points, "insightloop.ingest.duration", **labels)
    assert duration.count == 2 and duration.sum == pytest.approx(5.0)


def test_record_model_call_counts_tokens_cost_latency_and_retries(
    metrics: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    def call(attempt: int, outcome: str) -> CallRecord:
        return CallRecord(
            prompt_version="classify-v3",
            model="gpt-4o-mini",
            record_ids=["a" * 32],
            text_sha256=["b" * 64],
            attempt=attempt,
            outcome=outcome,
            raw_output='{"themes": "my card was charged twice"}',
            prompt_tokens=3000,
            cached_tokens=2000,
            completion_tokens=1000,
            latency_s=12.5,
        )

    with caplog.at_level(logging.INFO, logger="insightloop.telemetry"):
        telemetry.record_model_calls([call(1, "invalid_json"), call(2, "answered")])
    points = _points(metrics)
    labels = {"prompt_version": "classify-v3", "model": "gpt-4o-mini"}
    assert _value(points, "insightloop.model.calls", **labels, outcome="answered").value == 1
    assert _value(points, "insightloop.model.retries", **labels).value == 1
    assert _value(points, "insightloop.model.tokens", **labels, kind="prompt").value == 6000
    assert _value(points, "insightloop.model.tokens", **labels, kind="cached").value == 4000
    # gpt-4o-mini at eval/prices.yaml: 1,000 x 0.15 + 2,000 x 0.075 + 1,000 x 0.60 per 1M.
    expected = (1000 * 0.15 + 2000 * 0.075 + 1000 * 0.60) / 1_000_000
    assert _value(points, "insightloop.model.cost", **labels).value == pytest.approx(2 * expected)
    latency = _value(points, "insightloop.model.latency", **labels, outcome="answered")
    assert latency.count == 1 and latency.sum == pytest.approx(12.5)
    assert "latency_ms=12500" in caplog.text and "charged" not in caplog.text
    assert telemetry.model_call_cost("unpriced-model", 10, 0, 10) is None


def test_record_quality_gate_routing_sinks_and_callbacks(metrics: InMemoryMetricReader) -> None:
    check = CheckResult(
        name="empty_text_rate", passed=False, observed=0.4, expected="<= 0.05", message=""
    )
    telemetry.record_quality_gate(
        GateResult(source="reviews", passed=False, rows_in=100, checks=[check])
    )
    telemetry.record_routing(
        RoutingReport(
            export="insights/run-7.json",
            run_id="7",
            insights=5,
            routed=3,
            in_review=2,
            created=2,
            failed=1,
        )
    )
    telemetry.record_sink_action("jira", "created")
    telemetry.record_callback("slack", "refused", status_code=401)
    points = _points(metrics)
    assert (
        _value(points, "insightloop.quality_gate.verdicts", source="reviews", passed="false").value
        == 1
    )
    assert (
        _value(
            points,
            "insightloop.quality_gate.failed_checks",
            source="reviews",
            check="empty_text_rate",
        ).value
        == 1
    )
    assert _value(points, "insightloop.routing.exports", result="routed").value == 1
    assert _value(points, "insightloop.routing.insights", outcome="review").value == 2
    assert _value(points, "insightloop.routing.actions", action="failed").value == 1
    assert (
        _value(points, "insightloop.routing.sink_actions", sink="jira", action="created").value == 1
    )
    assert (
        _value(
            points, "insightloop.callbacks", route="slack", outcome="refused", status_code="401"
        ).value
        == 1
    )


def test_metric_attributes_are_bounded_labels_never_ids(metrics: InMemoryMetricReader) -> None:
    telemetry.record_ingest(_report(records_in=3, landed=3, in_review=1), trigger="cli")
    telemetry.record_routing(RoutingReport(export="insights/run-9.json", run_id="9", routed=1))
    for _, attributes in _points(metrics):
        assert {key for key, _ in attributes} <= ALLOWED_ATTRIBUTES
        assert not any(value in {"run-1", "9", "reviews/export-1.csv"} for _, value in attributes)


def test_log_lines_carry_ids_and_counts_but_no_text(
    clean_telemetry: None, caplog: pytest.LogCaptureFixture
) -> None:
    report = _report(
        records_in=2,
        quarantined=2,
        quarantine_reasons={"missing_text": 2},
        file_errors=["row 3: 'I hate the new app' is not a date"],
        warnings=["the customer wrote 'call me at 555-0100'"],
    )
    with caplog.at_level(logging.INFO, logger="insightloop.telemetry"):
        telemetry.record_ingest(report, trigger="blob")
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith("ingest trigger=blob source=reviews run=run-1 ")
    assert "input=reviews/export-1.csv" in line and "reasons=missing_text:2" in line
    assert "duration_ms=2500" in line and "result=file_error" in line
    assert "hate" not in line and "555" not in line
