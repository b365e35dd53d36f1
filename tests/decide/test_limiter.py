"""The deployment's quota, end to end: the limiter, the one retry policy, resume after an outage.

Counted where it matters, at a loopback server that behaves like a deployment
(tests/deployment_server.py: sliding-minute caps, 429 + retry-after-ms, latency), over
real HTTP with the ``openai`` SDK. Minutes are scaled down so each test takes seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.decide.answer_cache import AnswerCache
from shared.decide.classifier import LlmClassifier, MaskedText
from shared.decide.limiter import QuotaLimiter, retry_after_seconds
from shared.decide.llm import ChatModel
from shared.decide.prompts import get_prompt_version
from shared.decide.taxonomy import get_taxonomy
from shared.errors import TransientError
from shared.settings import PROJECT_ROOT
from shared.storage import LocalStorage
from tests.deployment_server import DeploymentServer, scaled_clock
from tests.openai_server import OpenAIServer, Reply

PROMPTS = PROJECT_ROOT / "prompts"
TAXONOMY = get_taxonomy(PROMPTS)
PROMPT = get_prompt_version(PROMPTS, "v1")
NOW = datetime(2026, 12, 7, tzinfo=UTC)
SCALE = 10.0  # a simulated minute lasts 6 s (arrival jitter stays a small share of it)


def texts(count: int, tag: str = "") -> list[MaskedText]:
    return [
        MaskedText(f"{tag}{index:032x}"[-32:], f"Review {tag}{index}: the zip broke on day two.")
        for index in range(count)
    ]


def chat(url: str, limiter: QuotaLimiter | None = None, **kwargs: object) -> ChatModel:
    return ChatModel.openai_compatible(
        base_url=f"{url}/v1", model="deployment", timeout=10.0, limiter=limiter, **kwargs
    )  # type: ignore[arg-type]


def classifier(model: ChatModel, **kwargs: object) -> LlmClassifier:
    return LlmClassifier(TAXONOMY, PROMPT, model, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def request_tokens(model: ChatModel, batch: list[MaskedText]) -> int:
    from shared.decide.classification import model_answer_schema, strict_json_schema
    from shared.decide.classifier import batch_messages
    from shared.decide.llm import SCHEMA_NAME

    messages, _ = batch_messages(PROMPT, TAXONOMY, batch)
    schema = strict_json_schema(model_answer_schema(TAXONOMY))
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
    }
    return model.estimated_tokens(messages, response_format, len(batch))


@pytest.fixture
def deployments() -> Iterator[list[DeploymentServer]]:
    started: list[DeploymentServer] = []
    yield started
    for server in started:
        server.stop()


def deployment(started: list[DeploymentServer], **kwargs: object) -> DeploymentServer:
    server = DeploymentServer(time_scale=SCALE, **{"latency_s": 2.0, **kwargs}).start()  # type: ignore[arg-type]
    started.append(server)
    return server


def test_the_limiter_keeps_concurrent_calls_inside_both_caps_counted_at_the_server(
    deployments: list[DeploymentServer],
) -> None:
    items = texts(60)
    per_request = request_tokens(chat("http://127.0.0.1:9"), items[:5])
    tokens_per_minute, requests_per_minute = 12 * per_request, 12
    server = deployment(
        deployments,
        tokens_per_minute=tokens_per_minute,
        requests_per_minute=requests_per_minute,
        latency_s=15.0,  # slower than the quota's pace: calls overlap
    )
    clock, sleep = scaled_clock(SCALE)
    limiter = QuotaLimiter(
        tokens_per_minute=tokens_per_minute,
        requests_per_minute=requests_per_minute,
        clock=clock,
        sleep=sleep,
    )
    model = chat(server.url, limiter, max_retries=0)
    outcome = classifier(model, batch_size=5, concurrency=8).classify(items)

    assert len(outcome.classifications) == 60 and outcome.in_review == 0
    assert server.throttled == 0 and server.calls == 12
    assert server.peak_window_tokens <= tokens_per_minute
    assert server.peak_window_requests <= requests_per_minute
    assert server.peak_in_flight > 1  # concurrent, yet inside the quota
    assert limiter.stats.waited_s > 0  # the quota, not the latency, was the bound


def test_without_the_limiter_the_same_run_is_throttled(
    deployments: list[DeploymentServer],
) -> None:
    items = texts(60)
    per_request = request_tokens(chat("http://127.0.0.1:9"), items[:5])
    server = deployment(deployments, tokens_per_minute=12 * per_request, requests_per_minute=12)
    model = chat(server.url, None, max_retries=8)
    outcome = classifier(model, batch_size=5, concurrency=8).classify(items)
    assert len(outcome.classifications) == 60
    assert server.throttled > 0  # the caps bite: the test above can fail
    assert model.stats.throttled == server.throttled


def test_retry_after_ms_is_honoured_and_pauses_every_caller() -> None:
    server = OpenAIServer().start()
    try:
        limiter = QuotaLimiter(tokens_per_minute=10**9, requests_per_minute=10**6)
        model = chat(server.url, limiter, max_retries=2)
        ok = Reply(content='{"results": []}')
        server.queue(Reply(status=429, headers={"retry-after-ms": "400", "retry-after": "9"}), ok)
        started = time.monotonic()
        model.answer([{"role": "user", "content": "x"}], {"type": "object"}, records=1)
        assert time.monotonic() - started >= 0.4
        assert len(server.requests) == 2  # one policy: the SDK did not retry on its own
        assert model.stats.throttled == 1 and limiter.stats.throttled == 1
        # The pause holds every caller of the limiter, not just the one throttled.
        limiter.pause(0.3)
        started = time.monotonic()
        limiter.acquire(1)
        assert time.monotonic() - started >= 0.3
    finally:
        server.stop()


def test_retry_after_falls_back_to_seconds_and_ignores_dates() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}) is None


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_buckets_admit_a_minute_of_quota_per_minute_and_no_more() -> None:
    fake = FakeTime()
    limiter = QuotaLimiter(
        tokens_per_minute=60_000,
        requests_per_minute=600,
        instances=2,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    admitted: list[float] = []
    while fake.now < 600:
        limiter.acquire(1_000)
        admitted.append(fake.now)
    # Each instance's share is 30,000 tokens/minute: no 60-s window holds more than 30.
    worst = max(
        sum(1 for t in admitted if start <= t < start + 60) for start in admitted if start < 540
    )
    assert 28 <= worst <= 30


def test_remaining_headers_lower_the_bucket() -> None:
    fake = FakeTime()
    limiter = QuotaLimiter(
        tokens_per_minute=600_000, requests_per_minute=None, clock=fake.clock, sleep=fake.sleep
    )
    limiter.acquire(1)  # full bucket: no wait
    assert fake.now == 0
    limiter.observe({"x-ratelimit-remaining-tokens": "0"})  # someone else used the quota
    limiter.acquire(5_000)
    assert fake.now > 0.4  # waited for the refill


def test_resume_after_an_outage_re_asks_only_the_unanswered(
    deployments: list[DeploymentServer], tmp_path: Path
) -> None:
    items = texts(100)
    server = deployment(deployments, fail_after_calls=8)
    cache = AnswerCache(LocalStorage(tmp_path), "ledger")
    model = chat(server.url, None, max_retries=1)
    with pytest.raises(TransientError):
        classifier(model, batch_size=5, concurrency=4, cache=cache).classify(items)
    paid_before = server.calls
    assert paid_before >= 8

    server.fail_after_calls = None  # the deployment is back; a new process resumes
    outcome = classifier(model, batch_size=5, concurrency=4, cache=cache).classify(items)
    assert sorted(c.record_id for c in outcome.classifications) == sorted(
        i.record_id for i in items
    )
    assert outcome.cache_hits == 5 * paid_before  # every paid answer was kept
    assert server.calls == 20  # 100 records in batches of 5, each paid once
    assert max(server.answered_texts.values()) == 1  # no text paid twice


def test_the_summary_names_the_model_not_the_client() -> None:
    engine = classifier(chat("http://127.0.0.1:9"))
    assert engine.model == "deployment"
