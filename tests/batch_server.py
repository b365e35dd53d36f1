"""A loopback server that speaks OpenAI's Batch API: ``/files``, ``/batches``, file content.

Plain routes (``/v1/files``, ``/v1/batches``) and Azure's (``/openai/files?api-version=``,
``/openai/batches``) for the real ``openai`` SDK over HTTP. A created batch stays
``in_progress`` until the test calls :meth:`BatchServer.finish`, which answers its input
lines with ``answer_records`` (as a model would), fails the ``failing`` custom ids into
the error file, and leaves ``unanswered`` ones out (an expired or cancelled batch).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlparse

from tests.deployment_server import (
    CHARS_PER_TOKEN,
    AnswerRecords,
    admission_tokens,
    request_records,
    simple_answers,
)
from tests.loopback import LoopbackServer, send_json


class BatchServer(LoopbackServer):
    def __init__(self, answer_records: AnswerRecords = simple_answers) -> None:
        self.answer_records = answer_records
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self.batches: dict[str, dict[str, Any]] = {}
        self.paths: list[str] = []
        super().__init__()

    def _new_file(self, purpose: str, content: bytes, name: str) -> dict[str, Any]:
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = (purpose, content)
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": name,
            "purpose": purpose,
            "status": "processed",
        }

    def input_lines(self, batch_id: str) -> list[dict[str, Any]]:
        _, content = self.files[self.batches[batch_id]["input_file_id"]]
        return [json.loads(line) for line in content.splitlines() if line.strip()]

    def finish(
        self,
        batch_id: str,
        *,
        status: str = "completed",
        failing: Iterable[str] = (),
        unanswered: Iterable[str] = (),
    ) -> None:
        """End a batch: answer its lines, except ``failing`` (error file) and ``unanswered``."""
        failing, unanswered = set(failing), set(unanswered)
        output, errors = [], []
        for line in self.input_lines(batch_id):
            custom_id = line["custom_id"]
            if custom_id in unanswered:
                continue
            if custom_id in failing:
                errors.append(
                    {
                        "id": f"req-{custom_id}",
                        "custom_id": custom_id,
                        "response": {"status_code": 400, "body": {"error": {"code": "bad"}}},
                        "error": None,
                    }
                )
                continue
            body = line["body"]
            content = json.dumps({"results": self.answer_records(request_records(body))})
            # Counted as the loopback deployment counts them, so costs compare.
            prompt = admission_tokens(body) - int(body.get("max_tokens") or 0)
            completion = -(-len(content) // CHARS_PER_TOKEN)
            output.append(
                {
                    "id": f"req-{custom_id}",
                    "custom_id": custom_id,
                    "response": {
                        "status_code": 200,
                        "body": {
                            "id": "chatcmpl-batch",
                            "object": "chat.completion",
                            "model": body["model"],
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
                    },
                    "error": None,
                }
            )
        with self._lock:
            batch = self.batches[batch_id]
            batch["status"] = status
            if output:
                batch["output_file_id"] = self._new_file(
                    "batch_output", _jsonl(output), "output.jsonl"
                )["id"]
            if errors:
                batch["error_file_id"] = self._new_file("batch_output", _jsonl(errors), "err")["id"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _route(self) -> list[str]:
                path = urlparse(self.path).path
                with server._lock:
                    server.paths.append(self.path)
                parts = [p for p in path.split("/") if p]
                # /v1/files..., /openai/files...: the prefix does not matter here.
                return parts[1:] if parts and parts[0] in ("v1", "openai") else parts

            def do_POST(self) -> None:
                route = self._route()
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if route == ["files"]:
                    fields = _multipart(raw, self.headers.get("content-type", ""))
                    name, content = fields["file"]
                    with server._lock:
                        created = server._new_file(fields["purpose"][1].decode(), content, name)
                    self._send(200, created)
                elif route == ["batches"]:
                    body = json.loads(raw)
                    with server._lock:
                        batch_id = f"batch-{len(server.batches) + 1}"
                        server.batches[batch_id] = {
                            "id": batch_id,
                            "object": "batch",
                            "endpoint": body["endpoint"],
                            "input_file_id": body["input_file_id"],
                            "completion_window": body["completion_window"],
                            "created_at": int(time.time()),
                            "status": "in_progress",
                        }
                    self._send(200, server.batches[batch_id])
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_GET(self) -> None:
                route = self._route()
                if len(route) == 2 and route[0] == "batches" and route[1] in server.batches:
                    self._send(200, server.batches[route[1]])
                elif len(route) == 3 and route[0] == "files" and route[2] == "content":
                    _, content = server.files[route[1]]
                    self.send_response(200)
                    self.send_header("content-type", "application/octet-stream")
                    self.send_header("content-length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                send_json(self, status, payload)

        return Handler


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def _multipart(raw: bytes, content_type: str) -> dict[str, tuple[str, bytes]]:
    """name -> (filename, value) of a multipart/form-data body."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields = {}
    for part in raw.split(b"--" + boundary):
        if b"\r\n\r\n" not in part:
            continue
        head, _, value = part.partition(b"\r\n\r\n")
        disposition = head.decode("latin-1")
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        filename = (
            disposition.split('filename="', 1)[1].split('"', 1)[0]
            if "filename=" in disposition
            else ""
        )
        fields[name] = (filename, value.removesuffix(b"\r\n"))
    return fields


__all__ = ["BatchServer"]
