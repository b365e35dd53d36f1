"""A loopback server that speaks the Databricks Jobs API 2.2, scripted per test.

Answers what the real ``databricks-sdk`` (0.162) sends when the Gold job is started,
over real HTTP on 127.0.0.1: ``GET /.well-known/databricks-config`` (404 unless a test
sets host metadata), ``GET /api/2.2/jobs/runs/list``, ``POST /api/2.2/jobs/run-now``
(a reused ``idempotency_token`` returns the run it started before) and
``GET /api/2.2/jobs/runs/get``, and the SQL Statement Execution API
(``POST /api/2.0/sql/statements``: a test sets :attr:`DatabricksServer.sql`, which runs the
statement with its bound parameters, e.g. on DuckDB; results come back inline as JSON
arrays of strings, cut at ``row_limit`` as a warehouse does). It also answers an App
Service managed identity token request (``GET /msi/token``, what ``IDENTITY_ENDPOINT``
names in App Service and Functions) so the keyless path can be tested end to end.

Each test can queue replies per route (a 429 with Retry-After, a 500, a 401...), mark a
run as active, and read back every request the SDK sent.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.loopback import ScriptedRoutes

RUNS_LIST = "/api/2.2/jobs/runs/list"
RUN_NOW = "/api/2.2/jobs/run-now"
RUNS_GET = "/api/2.2/jobs/runs/get"
HOST_METADATA = "/.well-known/databricks-config"
MSI_PATH = "/msi/token"
STATEMENTS = "/api/2.0/sql/statements"
ACTIVE_STATES = ("QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY")


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None  # None: a Databricks-shaped error for the status
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]


class DatabricksServer(ScriptedRoutes[Reply]):
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is the workspace host."""

    def __init__(self, *, token: str | None = None, jobs: tuple[int, ...] = (42,)) -> None:
        # The bearer token every Jobs API request must carry (401 otherwise).
        self.token = token
        self.jobs = set(jobs)
        self.host_metadata: dict[str, Any] | None = None
        self.msi_token = fake_jwt({"appid": "insightloop-identity", "tid": "tenant"})
        self.runs: dict[int, dict[str, Any]] = {}
        self.requests: list[SeenRequest] = []
        # Runs a statement: (sql, parameters as sent, warehouse id) -> (columns as
        # (name, Databricks type_name), rows of JSON-ready values).
        self.sql: (
            Callable[
                [str, list[dict[str, Any]], str], tuple[list[tuple[str, str]], list[list[Any]]]
            ]
            | None
        ) = None
        self.warehouses: set[str] = {"wh-1"}
        self._statement_ids = itertools.count(1)
        self._tokens: dict[str, int] = {}
        self._run_ids = itertools.count(1001)
        super().__init__()

    def finish(self, run_id: int) -> None:
        with self._lock:
            self.runs[run_id]["state"] = {
                "life_cycle_state": "TERMINATED",
                "result_state": "SUCCESS",
                "state_message": "",
            }

    def add_run(self, job_id: int, state: str = "RUNNING") -> int:
        """A run that exists already (started elsewhere, e.g. by the previous slot)."""
        with self._lock:
            return self._new_run(job_id, state, None)

    def seen(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _new_run(self, job_id: int, state: str, token: str | None) -> int:
        run_id = next(self._run_ids)
        self.runs[run_id] = {
            "job_id": job_id,
            "run_id": run_id,
            "number_in_job": run_id,
            "start_time": int(time.time() * 1000),
            "state": {"life_cycle_state": state, "state_message": ""},
            "run_page_url": f"{self.url}/jobs/{job_id}/runs/{run_id}",
            "trigger": "ONE_TIME",
        }
        if token is not None:
            self._tokens[token] = run_id
        return run_id

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> Reply:
        if path == HOST_METADATA:
            if self.host_metadata is None:
                return Reply(404, {"error_code": "NOT_FOUND", "message": "not found"})
            return Reply(200, self.host_metadata)
        with self._lock:
            if method == "GET" and path == RUNS_LIST:
                return self._runs_list(query)
            if method == "POST" and path == RUN_NOW:
                return self._run_now(body)
            if method == "POST" and path == STATEMENTS:
                return self._statement(body)
            if method == "GET" and path == RUNS_GET:
                run = self.runs.get(int(query.get("run_id", ["0"])[0]))
                if run is None:
                    return _error(400, "INVALID_PARAMETER_VALUE", "Run does not exist.")
                return Reply(200, run)
        return _error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    def _runs_list(self, query: dict[str, list[str]]) -> Reply:
        job_id = int(query.get("job_id", ["0"])[0])
        if job_id not in self.jobs:
            return _error(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
        runs = [r for r in self.runs.values() if r["job_id"] == job_id]
        if query.get("active_only") == ["true"]:
            runs = [r for r in runs if r["state"]["life_cycle_state"] in ACTIVE_STATES]
        limit = int(query.get("limit", ["20"])[0]) or 25
        runs = sorted(runs, key=lambda r: -r["run_id"])
        # One page: the starter never asks for a second.
        payload: dict[str, Any] = {"has_more": len(runs) > limit}
        if runs:
            payload["runs"] = runs[:limit]
        return Reply(200, payload)

    def _run_now(self, body: dict[str, Any]) -> Reply:
        job_id = body.get("job_id")
        if job_id not in self.jobs:
            return _error(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
        token = body.get("idempotency_token")
        if token is not None and token in self._tokens:
            run_id = self._tokens[token]  # same token: the run it started before
        else:
            run_id = self._new_run(job_id, "PENDING", token)
        return Reply(200, {"run_id": run_id, "number_in_job": run_id})

    def _statement(self, body: dict[str, Any]) -> Reply:
        if body.get("warehouse_id") not in self.warehouses:
            return _error(404, "RESOURCE_DOES_NOT_EXIST", "No warehouse found with the given id.")
        if self.sql is None:
            return _error(501, "NOT_IMPLEMENTED", "no SQL engine in this test")
        statement_id = f"stmt-{next(self._statement_ids)}"
        try:
            columns, rows = self.sql(
                body["statement"], body.get("parameters", []), body["warehouse_id"]
            )
        except Exception as exc:  # the warehouse's answer to a bad statement
            return Reply(
                200,
                {
                    "statement_id": statement_id,
                    "status": {
                        "state": "FAILED",
                        "error": {"error_code": "BAD_REQUEST", "message": str(exc)},
                    },
                },
            )
        limit = body.get("row_limit")
        kept = rows[:limit] if limit is not None else rows
        return Reply(
            200,
            {
                "statement_id": statement_id,
                "status": {"state": "SUCCEEDED"},
                "manifest": {
                    "format": body.get("format", "JSON_ARRAY"),
                    "schema": {
                        "column_count": len(columns),
                        "columns": [
                            {"name": name, "type_name": kind, "type_text": kind, "position": i}
                            for i, (name, kind) in enumerate(columns)
                        ],
                    },
                    "total_row_count": len(kept),
                    "total_chunk_count": 1,
                    "truncated": len(kept) < len(rows),
                },
                "result": {
                    "chunk_index": 0,
                    "row_offset": 0,
                    "row_count": len(kept),
                    "data_array": [[_cell(value) for value in row] for row in kept],
                },
            },
        )

    def _authorized(self, path: str, headers: dict[str, str]) -> bool:
        if path == HOST_METADATA or self.token is None:
            return True  # the SDK asks for host metadata before it authenticates
        return headers.get("authorization") == f"Bearer {self.token}"

    def _msi_token(self, query: dict[str, list[str]], headers: dict[str, str]) -> Reply:
        if not headers.get("x-identity-header"):
            return Reply(400, {"error": "invalid_request", "error_description": "no header"})
        return Reply(
            200,
            {
                "access_token": self.msi_token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": query.get("resource", [""])[0],
                "token_type": "Bearer",
                "client_id": query.get("client_id", ["system"])[0],
            },
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's requests session expects

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                parsed = urlparse(self.path)
                query = parse_qs(parsed.query)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append(SeenRequest(method, parsed.path, query, headers, body))
                if parsed.path == MSI_PATH:
                    self._send(server._msi_token(query, headers))
                    return
                reply = server.scripted_reply(parsed.path)
                if reply is None and not server._authorized(parsed.path, headers):
                    reply = _error(401, "UNAUTHENTICATED", "Invalid access token.")
                if reply is None:
                    reply = server._answer(method, parsed.path, query, body)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                payload = reply.body
                if payload is None:
                    payload = _error(reply.status, None, f"scripted {reply.status}").body
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _cell(value: Any) -> str | None:
    """A JSON_ARRAY cell: every value as a string, timestamps in UTC with a Z."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    return str(value)


def fake_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT: azure-identity decodes its claims for logging, nobody verifies it."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


_ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def _error(status: int, code: str | None, message: str) -> Reply:
    """The error body the Databricks REST API sends: ``error_code`` plus ``message``."""
    return Reply(
        status, {"error_code": code or _ERROR_CODES.get(status, "UNKNOWN"), "message": message}
    )
