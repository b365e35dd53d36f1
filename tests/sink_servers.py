"""Loopback servers that speak the parts of Jira, ServiceNow, Slack and Teams routing uses.

Real HTTP on 127.0.0.1 (port 0), one server per service, for ``httpx`` in
``shared/act/sinks/``. Each server checks credentials the way the service does, validates
the payload shape it would reject (Atlassian Document Format, Block Kit limits, an
Adaptive Card attachment), keeps what was created, and records every request. Tests
can queue replies per route (a 429 with Retry-After, a 500...) or make a route fail
until cleared; a scripted reply is answered before anything is created.

* :class:`JiraServer`: ``POST /rest/api/3/issue``, ``POST /rest/api/3/issue/{key}/comment``,
  ``POST /rest/api/3/search/jql`` (``labels = "..."``); basic auth (e-mail, API token).
* :class:`ServiceNowServer`: ``POST``/``GET /api/now/table/incident`` (``correlation_id=``
  queries), ``PATCH /api/now/table/incident/{sys_id}`` (``work_notes`` journal); basic auth.
* :class:`SlackServer`: ``POST /api/chat.postMessage``, ``POST /api/chat.update``; a bearer
  token, and Slack's ``{"ok": false, "error": ...}`` answers.
* :class:`TeamsServer`: a Workflows webhook, ``POST /workflows/<id>/triggers/manual/paths/
  invoke?...&sig=<sig>``, answering 202 like Power Automate.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.loopback import ScriptedRoutes


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None  # None with a status >= 400: the service's error shape
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SeenRequest:
    method: str
    path: str
    route: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class SinkServer(ScriptedRoutes[Reply]):
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is the base URL."""

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        super().__init__()

    def seen(self, route: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    # ------------------------------------------------------------ per service

    def route_of(self, method: str, path: str) -> str:
        raise NotImplementedError

    def authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        return True

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "unauthorized"})

    def error(self, status: int) -> Reply:
        return Reply(status, {"error": f"scripted {status}"})

    def answer(
        self, route: str, path: str, query: dict[str, list[str]], body: Any
    ) -> Reply:  # called under the lock
        raise NotImplementedError

    # ------------------------------------------------------------ HTTP

    def _reply_for(self, seen: SeenRequest) -> Reply:
        with self._lock:
            self.requests.append(seen)
        reply = self.scripted_reply(seen.route)
        if reply is not None:
            return reply if reply.body is not None or reply.status < 400 else self._error(reply)
        if not self.authorized(seen.headers, seen.query):
            return self.unauthorized()
        with self._lock:
            return self.answer(seen.route, seen.path, seen.query, seen.body)

    def _error(self, reply: Reply) -> Reply:
        shaped = self.error(reply.status)
        return Reply(reply.status, shaped.body, {**shaped.headers, **reply.headers})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                parsed = urlparse(self.path)
                seen = SeenRequest(
                    method,
                    parsed.path,
                    server.route_of(method, parsed.path),
                    parse_qs(parsed.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                self._send(server._reply_for(seen))

            def _send(self, reply: Reply) -> None:
                data = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                if reply.body is not None:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _basic(headers: dict[str, str], user: str, secret: str) -> bool:
    expected = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return headers.get("authorization") == f"Basic {expected}"


# ------------------------------------------------------------------ Jira Cloud

ADF_BLOCKS = {
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "blockquote",
    "codeBlock",
    "rule",
}
ADF_INLINES = {"text", "hardBreak"}
ADF_MARKS = {"strong", "em", "code", "link", "underline", "strike"}


def adf_problems(doc: Any) -> list[str]:
    """What Jira would refuse in an Atlassian Document Format document (a useful subset)."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return ["not an ADF doc (type doc, version 1)"]
    problems: list[str] = []

    def walk(node: Any, parent: str) -> None:
        if not isinstance(node, dict) or "type" not in node:
            problems.append(f"a node in {parent} has no type")
            return
        kind = node["type"]
        if kind == "text":
            if parent not in ("paragraph", "heading"):
                problems.append(f"text directly in {parent}")
            if not isinstance(node.get("text"), str) or not node["text"]:
                problems.append("empty text node")
            for mark in node.get("marks", []):
                if mark.get("type") not in ADF_MARKS:
                    problems.append(f"unknown mark {mark.get('type')}")
                if mark.get("type") == "link" and not mark.get("attrs", {}).get("href"):
                    problems.append("link without href")
            return
        if kind not in ADF_BLOCKS | ADF_INLINES:
            problems.append(f"unknown node {kind}")
            return
        if kind == "heading" and node.get("attrs", {}).get("level") not in range(1, 7):
            problems.append("heading without level 1-6")
        children = node.get("content", [])
        lists = kind in ("bulletList", "orderedList")
        if lists and (not children or any(c.get("type") != "listItem" for c in children)):
            problems.append(f"{kind} must hold listItems")
        if kind == "listItem" and (not children or children[0].get("type") != "paragraph"):
            problems.append("listItem must start with a paragraph")
        for child in children:
            walk(child, kind)

    for block in doc.get("content", []):
        if isinstance(block, dict) and block.get("type") in ADF_INLINES | {"text", "listItem"}:
            problems.append(f"{block.get('type')} at the top level")
        walk(block, "doc")
    return problems


class JiraServer(SinkServer):
    def __init__(self, email: str, token: str) -> None:
        super().__init__()
        self.email = email
        self.token = token
        self.issues: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(10001)
        self._numbers: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))

    def route_of(self, method: str, path: str) -> str:
        if method == "POST" and path == "/rest/api/3/issue":
            return "create"
        if method == "POST" and re.fullmatch(r"/rest/api/3/issue/[^/]+/comment", path):
            return "comment"
        if method == "POST" and path == "/rest/api/3/search/jql":
            return "search"
        return f"{method} {path}"

    def authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        return _basic(headers, self.email, self.token)

    def unauthorized(self) -> Reply:
        return Reply(401, {"errorMessages": ["Client must be authenticated"], "errors": {}})

    def error(self, status: int) -> Reply:
        return Reply(status, {"errorMessages": [f"scripted {status}"], "errors": {}})

    def answer(self, route: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        if route == "create":
            return self._create(body or {})
        if route == "comment":
            key = path.split("/")[5]
            issue = self.issues.get(key)
            if issue is None:
                return Reply(404, {"errorMessages": ["Issue does not exist"], "errors": {}})
            problems = adf_problems((body or {}).get("body"))
            if problems:
                return Reply(400, {"errorMessages": [], "errors": {"comment": problems[0]}})
            comment = {"id": str(next(self._ids)), "body": body["body"]}
            issue["comments"].append(comment)
            return Reply(201, comment)
        if route == "search":
            found = re.search(r'labels\s*=\s*"([^"]+)"', (body or {}).get("jql", ""))
            label = found.group(1) if found else None
            issues = [
                {"id": i["id"], "key": i["key"]}
                for i in self.issues.values()
                if label in i["fields"].get("labels", [])
            ][: int((body or {}).get("maxResults", 50))]
            return Reply(200, {"issues": issues, "isLast": True})
        return Reply(404, {"errorMessages": ["not found"], "errors": {}})

    def _create(self, body: dict[str, Any]) -> Reply:
        fields = body.get("fields") or {}
        errors: dict[str, str] = {}
        project = (fields.get("project") or {}).get("key")
        if not project:
            errors["project"] = "Specify a valid project ID or key"
        if not (fields.get("issuetype") or {}).get("name"):
            errors["issuetype"] = "Specify an issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 255:
            errors["summary"] = "Summary must be 1-255 characters"
        if any(" " in label for label in fields.get("labels", [])):
            errors["labels"] = "Labels cannot contain spaces"
        problems = adf_problems(fields.get("description"))
        if problems:
            errors["description"] = problems[0]
        if errors:
            return Reply(400, {"errorMessages": [], "errors": errors})
        issue_id = str(next(self._ids))
        key = f"{project}-{next(self._numbers[project])}"
        self.issues[key] = {"id": issue_id, "key": key, "fields": fields, "comments": []}
        return Reply(
            201, {"id": issue_id, "key": key, "self": f"{self.url}/rest/api/3/issue/{issue_id}"}
        )


# ------------------------------------------------------------------ ServiceNow

TABLE = "/api/now/table/incident"


class ServiceNowServer(SinkServer):
    def __init__(self, user: str, password: str) -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.incidents: dict[str, dict[str, Any]] = {}
        self._numbers = itertools.count(10001)

    def route_of(self, method: str, path: str) -> str:
        if path == TABLE and method in ("POST", "GET"):
            return "create" if method == "POST" else "lookup"
        if method == "PATCH" and path.startswith(f"{TABLE}/"):
            return "patch"
        return f"{method} {path}"

    def authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        return _basic(headers, self.user, self.password)

    def unauthorized(self) -> Reply:
        return Reply(
            401,
            {
                "error": {"message": "User Not Authenticated", "detail": "Required"},
                "status": "failure",
            },
        )

    def error(self, status: int) -> Reply:
        return Reply(status, {"error": {"message": f"scripted {status}"}, "status": "failure"})

    def answer(self, route: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        if route == "create":
            body = body or {}
            if not body.get("short_description") or body.get("urgency") not in ("1", "2", "3"):
                return Reply(400, {"error": {"message": "Invalid incident"}, "status": "failure"})
            sys_id = uuid.uuid4().hex
            record = {
                **body,
                "sys_id": sys_id,
                "number": f"INC{next(self._numbers):07d}",
                "work_notes": [],
            }
            self.incidents[sys_id] = record
            return Reply(201, {"result": {k: v for k, v in record.items() if k != "work_notes"}})
        if route == "lookup":
            wanted = dict(
                part.split("=", 1)
                for part in query.get("sysparm_query", [""])[0].split("^")
                if "=" in part
            )
            limit = int(query.get("sysparm_limit", ["10000"])[0])
            fields = [f for f in query.get("sysparm_fields", [""])[0].split(",") if f]
            found = [
                {k: v for k, v in r.items() if not fields or k in fields}
                for r in self.incidents.values()
                if all(r.get(k) == v for k, v in wanted.items())
            ]
            return Reply(200, {"result": found[:limit]})
        if route == "patch":
            record = self.incidents.get(path.rsplit("/", 1)[-1])
            if record is None:
                return Reply(404, {"error": {"message": "No Record found"}, "status": "failure"})
            for name, value in (body or {}).items():
                if name == "work_notes":
                    record["work_notes"].append(value)
                else:
                    record[name] = value
            return Reply(200, {"result": {k: v for k, v in record.items() if k != "work_notes"}})
        return Reply(400, {"error": {"message": "Invalid table"}, "status": "failure"})


# ------------------------------------------------------------------ Slack

BLOCK_TYPES = {"header", "section", "context", "actions", "divider"}


def block_problems(blocks: Any) -> list[str]:
    """What Slack answers ``invalid_blocks`` for (the limits of the Block Kit reference)."""
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return ["blocks must be a list of 1-50"]
    problems: list[str] = []

    def text_ok(obj: Any, limit: int, plain_only: bool = False) -> bool:
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            return False
        if plain_only and obj["type"] != "plain_text":
            return False
        return isinstance(obj.get("text"), str) and 0 < len(obj["text"]) <= limit

    for block in blocks:
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            problems.append(f"unknown block {kind}")
        elif kind == "header" and not text_ok(block.get("text"), 150, plain_only=True):
            problems.append("header needs plain_text of at most 150")
        elif kind == "section":
            fields = block.get("fields")
            if "text" not in block and not fields:
                problems.append("section needs text or fields")
            if "text" in block and not text_ok(block["text"], 3000):
                problems.append("section text of at most 3000")
            if fields and (len(fields) > 10 or not all(text_ok(f, 2000) for f in fields)):
                problems.append("section fields: at most 10 of 2000")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10 or not all(text_ok(e, 3000) for e in elements):
                problems.append("context: 1-10 text elements")
        elif kind == "actions":
            elements = block.get("elements") or []
            action_ids = [e.get("action_id") for e in elements]
            if not 0 < len(elements) <= 25 or len(set(action_ids)) != len(action_ids):
                problems.append("actions: 1-25 elements with unique action_ids")
            for element in elements:
                if element.get("type") == "button":
                    if not text_ok(element.get("text"), 75, plain_only=True):
                        problems.append("button text: plain_text of at most 75")
                    if len(element.get("value", "")) > 2000:
                        problems.append("button value of at most 2000")
                elif element.get("type") == "static_select":
                    options = element.get("options") or []
                    if not 0 < len(options) <= 100:
                        problems.append("static_select: 1-100 options")
                    for option in options:
                        if not text_ok(option.get("text"), 75, plain_only=True):
                            problems.append("option text: plain_text of at most 75")
                        if not 0 < len(option.get("value", "")) <= 150:
                            problems.append("option value of at most 150")
                else:
                    problems.append(f"unsupported element {element.get('type')}")
    return problems


class SlackServer(SinkServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.history: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._ts = itertools.count(1)

    def route_of(self, method: str, path: str) -> str:
        return path.removeprefix("/api/") if method == "POST" else f"{method} {path}"

    def authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        return headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> Reply:
        return Reply(200, {"ok": False, "error": "invalid_auth"})

    def error(self, status: int) -> Reply:
        return Reply(status, {"ok": False, "error": "internal_error"})

    @staticmethod
    def channel_id(channel: str) -> str:
        if not channel.startswith("#"):
            return channel
        return "C" + uuid.uuid5(uuid.NAMESPACE_URL, channel).hex[:10].upper()

    def answer(self, route: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        body = body or {}
        if route not in ("chat.postMessage", "chat.update"):
            return Reply(200, {"ok": False, "error": "unknown_method"})
        if not body.get("channel"):
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        if block_problems(body.get("blocks")):
            return Reply(200, {"ok": False, "error": "invalid_blocks"})
        channel = self.channel_id(body["channel"])
        if route == "chat.postMessage":
            ts = f"1767225600.{next(self._ts):06d}"
            self.messages[(channel, ts)] = body
            self.history[(channel, ts)].append(body)
            return Reply(200, {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}})
        ts = str(body.get("ts") or "")
        if (channel, ts) not in self.messages:
            return Reply(200, {"ok": False, "error": "message_not_found"})
        self.messages[(channel, ts)] = body
        self.history[(channel, ts)].append(body)
        return Reply(200, {"ok": True, "channel": channel, "ts": ts, "text": body.get("text")})


# ------------------------------------------------------------------ Teams (Workflows)


class TeamsServer(SinkServer):
    def __init__(self, sig: str) -> None:
        super().__init__()
        self.sig = sig
        self.cards: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def webhook_url(self, flow: str) -> str:
        """A URL shaped like a Workflows "When a Teams webhook request is received" trigger."""
        return (
            f"{self.url}/workflows/{flow}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}"
        )

    def route_of(self, method: str, path: str) -> str:
        if method == "POST" and re.fullmatch(
            r"/workflows/[^/]+/triggers/manual/paths/invoke", path
        ):
            return "webhook"
        return f"{method} {path}"

    def authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        return query.get("sig") == [self.sig]

    def unauthorized(self) -> Reply:
        return Reply(
            401,
            {"error": {"code": "DirectApiAuthorizationRequired", "message": "invalid signature"}},
        )

    def error(self, status: int) -> Reply:
        return Reply(status, {"error": {"code": "ServiceUnavailable", "message": "scripted"}})

    def answer(self, route: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        if route != "webhook":
            return Reply(404, {"error": {"code": "NotFound", "message": "no such flow"}})
        attachments = (body or {}).get("attachments") or []
        card = attachments[0].get("content") if attachments else None
        if (
            (body or {}).get("type") != "message"
            or len(attachments) != 1
            or attachments[0].get("contentType") != "application/vnd.microsoft.card.adaptive"
            or not isinstance(card, dict)
            or card.get("type") != "AdaptiveCard"
            or not isinstance(card.get("version"), str)
            or not isinstance(card.get("body"), list)
        ):
            return Reply(400, {"error": {"code": "InvalidTemplate", "message": "not a card"}})
        self.cards[path.split("/")[2]].append(card)
        return Reply(202, None)
