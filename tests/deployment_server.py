"""A loopback OpenAI-compatible server that behaves like a model deployment under quota.

Like an Azure OpenAI deployment it admits a request on its estimated tokens (prompt
characters / 4 + ``max_tokens``) against tokens/minute and counts it against
requests/minute over a sliding minute; past either cap it answers 429 with
``retry-after-ms``; an admitted request reports ``x-ratelimit-remaining-*`` and answers
after ``latency_s`` plus its output tokens at ``output_tokens_per_s``. ``time_scale``
shortens every duration (a minute lasts ``60 / time_scale`` s), so tests and the bench
run a deployment's minutes in seconds. ``fail_after_calls`` starts an outage (503)
after that many answered calls. Answers come from ``answer_records`` (one answer per
record of the request) and every count is kept for the test to check.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer, send_json

MINUTE_S = 60.0
CHARS_PER_TOKEN = 4

AnswerRecords = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def simple_answers(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A confident answer quoting each record's first words (always a valid quote)."""
    return [
        {
            "id": record["id"],
            "themes": [{"theme": "product_quality", "evidence": record["text"][:20].strip()}],
            "sentiment": "negative",
            "urgency": "low",
            "confidence": 0.9,
        }
        for record in records
    ]


def request_records(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a classification request: JSON lines of the last user message."""
    content = body["messages"][-1]["content"]
    return [json.loads(line) for line in content.splitlines() if line.startswith("{")]


def admission_tokens(body: dict[str, Any]) -> int:
    """Azure's admission estimate: the prompt (messages + schema) and ``max_tokens``."""
    prompt = {"messages": body["messages"], "response_format": body.get("response_format")}
    chars = len(json.dumps(prompt, separators=(",", ":"), ensure_ascii=False))
    return math.ceil(chars / CHARS_PER_TOKEN) + int(body.get("max_tokens") or 0)


class DeploymentServer(LoopbackServer):
    def __init__(
        self,
        *,
        tokens_per_minute: int | None = None,
        requests_per_minute: int | None = None,
        latency_s: float = 2.0,
        output_tokens_per_s: float = 80.0,
        time_scale: float = 1.0,
        answer_records: AnswerRecords = simple_answers,
        fail_after_calls: int | None = None,
    ) -> None:
        self.tokens_per_minute = tokens_per_minute
        self.requests_per_minute = requests_per_minute
        self.latency_s = latency_s
        self.output_tokens_per_s = output_tokens_per_s
        self.time_scale = time_scale
        self.answer_records = answer_records
        self.fail_after_calls = fail_after_calls
        self.window_s = MINUTE_S / time_scale
        self._admitted: deque[tuple[float, int]] = deque()  # (arrival, tokens) in the window
        self._window_tokens = 0
        # Counts for the test or bench.
        self.calls = 0  # answered (admitted and paid)
        self.throttled = 0  # 429s
        self.failed = 0  # 503s in an outage
        self.admitted_tokens = 0
        self.completion_tokens = 0
        self.peak_window_tokens = 0
        self.peak_window_requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.answered_texts: Counter[str] = Counter()  # sha256 of each text answered
        self.arrivals: list[float] = []  # monotonic time of every request
        self.admissions: list[tuple[float, int]] = []  # (time, tokens) of admitted requests
        super().__init__()

    # ------------------------------------------------------------ quota

    def _admit(self, tokens: int) -> float | None:
        """None when admitted; else the seconds until the request would fit."""
        with self._lock:
            now = time.monotonic()
            self.arrivals.append(now)
            window = self._admitted
            while window and window[0][0] <= now - self.window_s:
                self._window_tokens -= window.popleft()[1]
            over_tokens = (
                self.tokens_per_minute is not None
                and self._window_tokens + tokens > self.tokens_per_minute
            )
            over_requests = (
                self.requests_per_minute is not None and len(window) + 1 > self.requests_per_minute
            )
            if over_tokens or over_requests:
                self.throttled += 1
                if not window:
                    return self.window_s
                # Until enough of the window has expired: the oldest entry, at least.
                freed, wait = 0, 0.0
                for arrival, spent in window:
                    freed += spent
                    wait = arrival + self.window_s - now
                    fits_tokens = (
                        self.tokens_per_minute is None
                        or self._window_tokens - freed + tokens <= self.tokens_per_minute
                    )
                    if fits_tokens:
                        break
                return max(wait, 0.001)
            if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
                self.failed += 1
                return -1.0
            window.append((now, tokens))
            self.admissions.append((now, tokens))
            self._window_tokens += tokens
            self.calls += 1
            self.admitted_tokens += tokens
            self.peak_window_tokens = max(self.peak_window_tokens, self._window_tokens)
            self.peak_window_requests = max(self.peak_window_requests, len(window))
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return None

    def remaining(self) -> dict[str, str]:
        with self._lock:
            headers = {}
            if self.tokens_per_minute is not None:
                left = max(self.tokens_per_minute - self._window_tokens, 0)
                headers["x-ratelimit-remaining-tokens"] = str(left)
            if self.requests_per_minute is not None:
                left = max(self.requests_per_minute - len(self._admitted), 0)
                headers["x-ratelimit-remaining-requests"] = str(left)
            return headers

    # ------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's pool expects

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.split("?")[0].endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}}, {})
                    return
                tokens = admission_tokens(body)
                wait = server._admit(tokens)
                if wait is not None and wait < 0:
                    self._send(503, {"error": {"message": "outage"}}, {})
                    return
                if wait is not None:
                    headers = {
                        "retry-after-ms": str(math.ceil(wait * 1000)),
                        "retry-after": str(math.ceil(wait)),
                    }
                    self._send(429, {"error": {"message": "rate limited"}}, headers)
                    return
                try:
                    self._answer(body, tokens)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict[str, Any], tokens: int) -> None:
                records = request_records(body)
                content = json.dumps({"results": server.answer_records(records)})
                completion = math.ceil(len(content) / CHARS_PER_TOKEN)
                with server._lock:
                    server.completion_tokens += completion
                    for record in records:
                        digest = hashlib.sha256(record["text"].encode()).hexdigest()
                        server.answered_texts[digest] += 1
                duration = server.latency_s + completion / server.output_tokens_per_s
                time.sleep(duration / server.time_scale)
                prompt = tokens - int(body.get("max_tokens") or 0)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-deployment",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "deployment"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        },
                    },
                    server.remaining(),
                )

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                send_json(self, status, payload, headers)

        return Handler


def scaled_clock(time_scale: float) -> tuple[Callable[[], float], Callable[[float], None]]:
    """A clock and sleep on the server's simulated time, for a limiter sized per minute."""
    origin = time.monotonic()
    return (
        lambda: (time.monotonic() - origin) * time_scale,
        lambda seconds: time.sleep(seconds / time_scale),
    )


__all__ = [
    "DeploymentServer",
    "admission_tokens",
    "request_records",
    "scaled_clock",
    "simple_answers",
]
