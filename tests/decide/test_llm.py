"""Chat model calls through the real openai SDK against a loopback OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared.decide.classification import model_answer_schema, strict_json_schema
from shared.decide.guardrails import match_batch_ids
from shared.decide.llm import ChatModel
from shared.decide.prompts import build_messages, get_prompt_version
from shared.decide.taxonomy import get_taxonomy
from shared.errors import ConfigError, ModelAnswerError, TransientError
from shared.settings import PROJECT_ROOT
from tests.openai_server import OpenAIServer, Reply

PROMPTS = PROJECT_ROOT / "prompts"
TAXONOMY = get_taxonomy(PROMPTS)
SCHEMA = strict_json_schema(model_answer_schema(TAXONOMY))
RECORDS = [("r1", "The strap broke after a week."), ("r2", "Arrived late, box crushed.")]
MESSAGES = build_messages(get_prompt_version(PROMPTS, "v1"), TAXONOMY, RECORDS)


def answer_json(*ids: str) -> str:
    return json.dumps(
        {
            "results": [
                {
                    "id": rid,
                    "themes": [{"theme": "product_quality", "evidence": "The strap broke"}],
                    "sentiment": "negative",
                    "urgency": "medium",
                    "confidence": 0.9,
                }
                for rid in ids
            ]
        }
    )


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    running = OpenAIServer().start()
    yield running
    running.stop()


def plain(server: OpenAIServer, **kwargs: object) -> ChatModel:
    options: dict[str, object] = {"max_retries": 2, "timeout": 5.0} | kwargs
    return ChatModel.openai_compatible(
        base_url=f"{server.url}/v1", model="test-model", api_key="k", **options
    )


def test_a_batch_is_one_strict_structured_output_request(server: OpenAIServer) -> None:
    server.queue(Reply(content=answer_json("r1", "r2")))
    reply = plain(server).answer(MESSAGES, SCHEMA, records=2)
    assert [a.id for a in reply.answers] == ["r1", "r2"]
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cached_tokens) == (1200, 80, 1024)
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k"
    body = request.body
    assert body["model"] == "test-model" and body["temperature"] == 0
    assert body["max_tokens"] == 64 + 160 * 2
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "batch_answer", "strict": True, "schema": SCHEMA},
    }
    assert body["messages"] == MESSAGES


def test_the_azure_route_carries_deployment_api_version_and_key(server: OpenAIServer) -> None:
    server.queue(Reply(content=answer_json("r1", "r2")))
    model = ChatModel.azure_openai(
        endpoint=server.url,
        deployment="gpt-4o-mini",
        api_version="2024-10-21",
        api_key="azure-key",
        max_retries=0,
    )
    assert len(model.answer(MESSAGES, SCHEMA, records=2).answers) == 2
    [request] = server.requests
    assert request.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert request.query["api-version"] == ["2024-10-21"]
    assert request.headers["api-key"] == "azure-key"


def test_429_with_retry_after_is_retried_by_the_one_retry_policy(server: OpenAIServer) -> None:
    server.queue(
        Reply(status=429, headers={"retry-after-ms": "20"}),
        Reply(content=answer_json("r1", "r2")),
    )
    assert len(plain(server).answer(MESSAGES, SCHEMA, records=2).answers) == 2
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [429, 500, 503])
def test_persistent_throttling_or_server_errors_become_transient(
    server: OpenAIServer, status: int
) -> None:
    server.queue(*[Reply(status=status, headers={"retry-after-ms": "5"})] * 3)
    with pytest.raises(TransientError, match=f"answered {status} after retries"):
        plain(server).answer(MESSAGES, SCHEMA, records=2)
    assert len(server.requests) == 3  # the first try and the SDK's 2 retries


def test_a_timeout_becomes_transient(server: OpenAIServer) -> None:
    server.queue(Reply(content=answer_json("r1"), delay_s=1.0))
    with pytest.raises(TransientError, match="unreachable: APITimeoutError"):
        plain(server, timeout=0.2, max_retries=0).answer(MESSAGES, SCHEMA, records=2)


def test_bad_credentials_are_a_config_error(server: OpenAIServer) -> None:
    server.queue(Reply(status=401))
    with pytest.raises(ConfigError, match="answered 401"):
        plain(server, max_retries=0).answer(MESSAGES, SCHEMA, records=2)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(content="{not json"), "invalid_json"),
        (Reply(content='{"answers": []}'), "wrong_shape"),
        (Reply(content=answer_json("r1")[:-10], finish_reason="length"), "length"),
        (Reply(refusal="I can't help with that."), "refusal"),
        (Reply(status=400), "rejected"),
    ],
)
def test_an_unusable_answer_is_a_model_answer_error(
    server: OpenAIServer, reply: Reply, reason: str
) -> None:
    server.queue(reply)
    with pytest.raises(ModelAnswerError) as caught:
        plain(server, max_retries=0).answer(MESSAGES, SCHEMA, records=2)
    assert caught.value.reason == reason


def test_a_malformed_item_costs_only_its_own_id(server: OpenAIServer) -> None:
    content = json.loads(answer_json("r1", "r2"))
    content["results"][1]["sentiment"] = "furious"
    server.queue(Reply(content=json.dumps(content)))
    reply = plain(server).answer(MESSAGES, SCHEMA, records=2)
    assert [a.id for a in reply.answers] == ["r1"]
    assert reply.invalid_items == ["item 2: invalid sentiment"]
    ids = match_batch_ids([rid for rid, _ in RECORDS], reply.answers)
    assert ids.missing == ["r2"]
