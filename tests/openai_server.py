"""A loopback server that speaks OpenAI's chat completions API, scripted per test.

Answers ``POST /v1/chat/completions`` (the plain route) and
``POST /openai/deployments/<deployment>/chat/completions?api-version=...`` (the Azure
route) for the real ``openai`` SDK, over real HTTP on 127.0.0.1. Each test queues the
replies it wants (a valid answer, a 429 with Retry-After, a 500, a slow reply, invalid
JSON, a cut-off answer...) and reads back every request the SDK sent.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.loopback import LoopbackServer, send_json


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant message content
    # Function calls the assistant asks for: (name, arguments as a JSON string) each.
    tool_calls: list[tuple[str, str]] | None = None
    finish_reason: str = "stop"
    refusal: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: dict[str, Any] | None = None  # a raw body instead of a completion
    usage: dict[str, Any] = field(
        default_factory=lambda: {
            "prompt_tokens": 1200,
            "completion_tokens": 80,
            "total_tokens": 1280,
            "prompt_tokens_details": {"cached_tokens": 1024},
        }
    )


@dataclass
class SeenRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]


class OpenAIServer(LoopbackServer):
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is the base URL."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        # Answers requests when no scripted reply is queued (e.g. a reference classifier).
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[SeenRequest] = []
        super().__init__()

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        return self.responder(body) if self.responder else Reply(status=500)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                parsed = urlparse(self.path)
                with server._lock:
                    server.requests.append(
                        SeenRequest(
                            parsed.path,
                            parse_qs(parsed.query),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                if not parsed.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}}, {})
                    return
                reply = server._next(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.body is not None or reply.status != 200:
                    error = {"error": {"message": f"scripted {reply.status}", "code": None}}
                    self._send(reply.status, reply.body or error, reply.headers)
                    return
                message: dict[str, Any] = {"role": "assistant", "content": reply.content}
                if reply.refusal is not None:
                    message = {"role": "assistant", "content": None, "refusal": reply.refusal}
                if reply.tool_calls:
                    message["tool_calls"] = [
                        {
                            "id": f"call_{index}",
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                        for index, (name, arguments) in enumerate(reply.tool_calls)
                    ]
                completion = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "test-model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": "tool_calls"
                            if reply.tool_calls
                            else reply.finish_reason,
                        }
                    ],
                    "usage": reply.usage,
                }
                self._send(200, completion, reply.headers)

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                send_json(self, status, payload, headers)

        return Handler


def batch_records(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a classification request: JSON lines of the last user message."""
    content = body["messages"][-1]["content"]
    return [json.loads(line) for line in content.splitlines() if line.startswith("{")]
