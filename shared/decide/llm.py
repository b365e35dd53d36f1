"""Chat models behind one small interface, on the ``openai`` SDK.

Two ways to reach a model, one code path: ``azure_openai`` (``openai.AzureOpenAI``,
keyless through ``azure_ad_token_provider`` unless an API key is given) and
``openai_compatible`` (any ``base_url``: OpenAI, vLLM, Ollama, LM Studio). Requests ask
for strict structured output with the generated schema.

One retry policy, this module's (the SDK's own retries are off): 408/409/429/5xx and
connection errors are retried ``max_retries`` times, after the service's ``retry-after-ms``
/ ``Retry-After`` (a 429 also pauses every caller of the :class:`QuotaLimiter`) or a
jittered exponential backoff. Before each call the limiter admits the request's estimated
tokens (prompt + ``max_tokens``, as Azure counts them); after it, the service's
``x-ratelimit-remaining-*`` headers correct the limiter.
What is left when the retries run out becomes a :class:`~shared.errors.TransientError`; an
answer that cannot be used (refusal, cut off, not the schema) is a
:class:`~shared.errors.ModelAnswerError` for the caller to split and retry.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
import orjson
from pydantic import ValidationError

from shared.decide.classification import AnsweredRecord
from shared.decide.limiter import QuotaLimiter, retry_after_seconds
from shared.errors import ConfigError, ModelAnswerError, TransientError

logger = logging.getLogger(__name__)

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
SCHEMA_NAME = "batch_answer"
RETRIED_STATUSES = frozenset({408, 409, 429})
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
CHARS_PER_TOKEN = 4  # a conservative estimate for admission; usage reports the truth


@dataclass(slots=True)
class ModelReply:
    """A parsed batch answer plus what the call cost (for the audit trail)."""

    answers: list[AnsweredRecord]
    raw: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_s: float
    invalid_items: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CallStats:
    """Requests sent and what came back, for telemetry and the bench (thread-safe adds)."""

    requests: int = 0
    throttled: int = 0  # 429s
    retried: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)


class ChatModel:
    """Sends one batch request and parses the answer; thread-safe (the SDK client is).

    Build the client with ``max_retries=0``: this class is the one retry policy.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        max_tokens_per_record: int = 160,
        max_tokens_overhead: int = 64,
        max_retries: int = 4,
        limiter: QuotaLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.model = model
        self.max_tokens_per_record = max_tokens_per_record
        self.max_tokens_overhead = max_tokens_overhead
        self.max_retries = max_retries
        self.limiter = limiter
        self.sleep = sleep
        self.stats = CallStats()

    @classmethod
    def openai_compatible(
        cls,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        limiter: QuotaLimiter | None = None,
    ) -> ChatModel:
        client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",  # local servers (vLLM, Ollama) ignore it
            timeout=timeout,
            max_retries=0,
        )
        return cls(client, model, max_retries=max_retries, limiter=limiter)

    @classmethod
    def azure_openai(
        cls,
        *,
        endpoint: str,
        deployment: str,
        api_version: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        limiter: QuotaLimiter | None = None,
    ) -> ChatModel:
        """Keyless by default: a managed identity token from ``DefaultAzureCredential``."""
        token_provider = None
        if not api_key:
            from azure.identity import DefaultAzureCredential, get_bearer_token_provider

            token_provider = get_bearer_token_provider(
                DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE
            )
        client = openai.AzureOpenAI(
            azure_endpoint=endpoint,
            azure_deployment=deployment,
            api_version=api_version,
            api_key=api_key,
            azure_ad_token_provider=token_provider,
            timeout=timeout,
            max_retries=0,
        )
        return cls(client, deployment, max_retries=max_retries, limiter=limiter)

    def max_tokens(self, records: int) -> int:
        """A tight output budget: Azure admits requests on an estimate that includes it."""
        return self.max_tokens_overhead + self.max_tokens_per_record * records

    def estimated_tokens(
        self, messages: Sequence[dict[str, str]], response_format: dict[str, Any], records: int
    ) -> int:
        """What the service counts against tokens/minute at admission: prompt + max_tokens
        (the prompt estimated from the request's messages and schema, 4 characters a token)."""
        prompt = orjson.dumps({"messages": list(messages), "response_format": response_format})
        return math.ceil(len(prompt) / CHARS_PER_TOKEN) + self.max_tokens(records)

    def answer(
        self, messages: Sequence[dict[str, str]], schema: dict[str, Any], *, records: int
    ) -> ModelReply:
        """One request for a batch of ``records``; raises instead of returning a bad answer."""
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
        }
        estimate = self.estimated_tokens(messages, response_format, records)
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            if self.limiter is not None:
                self.limiter.acquire(estimate)
            started = time.perf_counter()
            self.stats.add(requests=1, in_flight=1)
            try:
                raw_response = self.client.chat.completions.with_raw_response.create(
                    model=self.model,
                    messages=list(messages),  # type: ignore[arg-type]
                    response_format=response_format,  # type: ignore[arg-type]
                    temperature=0,
                    max_tokens=self.max_tokens(records),
                )
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                if last:
                    raise TransientError(
                        f"model endpoint unreachable: {type(exc).__name__}"
                    ) from None
                self._back_off(attempt, None)
                continue
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in (401, 403, 404):
                    raise ConfigError(
                        f"model endpoint answered {status}: check the endpoint, deployment "
                        "and credentials"
                    ) from None
                if status in RETRIED_STATUSES or status >= 500:
                    wait = retry_after_seconds(exc.response.headers)
                    if status == 429:
                        self.stats.add(throttled=1)
                        if self.limiter is not None:
                            self.limiter.pause(wait if wait is not None else BACKOFF_BASE_S)
                    if last:
                        raise TransientError(
                            f"model endpoint answered {status} after retries"
                        ) from None
                    self._back_off(attempt, wait)
                    continue
                # Other 4xx: the request itself (too long, refused by a filter); split it.
                raise ModelAnswerError("rejected", f"HTTP {status}") from None
            finally:
                self.stats.add(in_flight=-1)
            if self.limiter is not None:
                self.limiter.observe(raw_response.headers)
            response = raw_response.parse()
            break
        latency = time.perf_counter() - started
        if not response.choices:
            raise ModelAnswerError("empty", "the response has no choices")
        choice = response.choices[0]
        if getattr(choice.message, "refusal", None):
            raise ModelAnswerError("refusal", "the model refused the batch")
        if choice.finish_reason == "length":
            raise ModelAnswerError("length", "the answer was cut off at the token limit")
        raw = choice.message.content or ""
        answers, invalid = parse_answers(raw)
        usage = response.usage
        cached = 0
        if usage is not None and usage.prompt_tokens_details is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        return ModelReply(
            answers=answers,
            raw=raw,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=cached,
            latency_s=latency,
            invalid_items=invalid,
        )

    def _back_off(self, attempt: int, retry_after: float | None) -> None:
        """The service's retry-after when it gave one, else a jittered exponential wait."""
        self.stats.add(retried=1)
        if retry_after is None:
            ceiling = min(BACKOFF_BASE_S * 2**attempt, BACKOFF_MAX_S)
            retry_after = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter only
        self.sleep(retry_after)


def parse_answers(raw: str) -> tuple[list[AnsweredRecord], list[str]]:
    """The answer's records; items that do not parse are left out (their ids go missing,
    so only they are retried) and described in the second list."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ModelAnswerError("invalid_json", f"the answer is not JSON ({exc.msg})") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise ModelAnswerError("wrong_shape", "the answer has no `results` list")
    answers: list[AnsweredRecord] = []
    invalid: list[str] = []
    for position, item in enumerate(results, 1):
        try:
            answers.append(AnsweredRecord.model_validate(item))
        except ValidationError as exc:
            # Field locations only: the values may quote feedback text.
            where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:3])
            invalid.append(f"item {position}: invalid {where}")
    return answers, invalid


__all__ = ["CallStats", "ChatModel", "ModelReply", "parse_answers"]
