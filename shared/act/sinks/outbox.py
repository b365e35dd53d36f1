"""The local outbox: what a live sink would have sent, as JSON and readable Markdown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from shared.act.sinks.content import TicketContent, change_rows, markdown, plain_text
from shared.act.sinks.delivery import Delivery
from shared.act.sinks.jira import jira_comment, jira_issue_fields
from shared.act.sinks.servicenow import servicenow_incident
from shared.act.sinks.slack import slack_message
from shared.act.sinks.targets import DestinationKind
from shared.act.sinks.teams import teams_card
from shared.storage import ObjectStorage


def payload_for(kind: DestinationKind, content: TicketContent, target: Any, *, update: bool) -> Any:
    """The request body the live sink of ``kind`` sends (what the outbox records)."""
    if kind == "jira":
        return (
            {"body": jira_comment(content)}
            if update
            else {"fields": jira_issue_fields(content, target)}
        )
    if kind == "servicenow":
        if update:
            return {"work_notes": plain_text(content, update=True)}
        return servicenow_incident(content, target)
    if kind == "slack":
        return slack_message(content, target, update=update)
    return teams_card(content, update=update)


class OutboxSink:
    """Writes what would have been sent to ``outbox/<destination>/<insight key>.json|md``."""

    name = "outbox"

    def __init__(
        self,
        kind: DestinationKind,
        storage: ObjectStorage,
        container: str,
        reason: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.kind = kind
        self.storage = storage
        self.container = container
        self.reason = reason
        self.clock = clock

    def _paths(self, key: str) -> tuple[str, str]:
        return f"{self.kind}/{key}.json", f"{self.kind}/{key}.md"

    def create(self, content: TicketContent, target: Any) -> Delivery:
        now = self.clock().isoformat()
        document = {
            "destination": self.kind,
            "insight_key": content.key,
            "not_sent": self.reason,
            "target": target.model_dump(mode="json"),
            "created_at": now,
            "updated_at": now,
            "request": payload_for(self.kind, content, target, update=False),
            "updates": [],
        }
        return self._write(content, target, document)

    def update(self, content: TicketContent, target: Any, delivered: Delivery) -> Delivery:
        json_path, _ = self._paths(content.key)
        found = self.storage.read(self.container, json_path)
        if found is None:
            return self.create(content, target)
        document = orjson.loads(found[0])
        now = self.clock().isoformat()
        document["updated_at"] = now
        document["updates"].append(
            {
                "at": now,
                "run_id": content.run_id,
                "changes": dict(change_rows(content)),
                "request": payload_for(self.kind, content, target, update=True),
            }
        )
        return self._write(content, target, document)

    def _write(self, content: TicketContent, target: Any, document: dict[str, Any]) -> Delivery:
        json_path, md_path = self._paths(content.key)
        where = ", ".join(f"{k} {v}" for k, v in target.model_dump(exclude_none=True).items() if v)
        text = markdown(content, self.kind, where, f"Not sent: {self.reason}.")
        if document["updates"]:
            text += "\n## Updates\n\n"
            for entry in document["updates"]:
                changes = "; ".join(f"{k} {v}" for k, v in entry["changes"].items())
                text += f"- {entry['at']} (export {entry['run_id']}): {changes}\n"
        self.storage.write(self.container, md_path, text.encode())
        self.storage.write(
            self.container, json_path, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        )
        return Delivery(
            f"outbox/{self.kind}/{content.key}", self.storage.describe(self.container, md_path)
        )
