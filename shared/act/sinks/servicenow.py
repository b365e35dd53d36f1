"""ServiceNow Table API: an incident, a work note on update."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.act.sinks.content import TicketContent, plain_text, ticket_title
from shared.act.sinks.delivery import Delivery
from shared.act.sinks.http import (
    HttpSender,
    _json,
    basic_auth_sender,
)
from shared.act.sinks.targets import DestinationKind, ServiceNowTarget, marker
from shared.errors import TransientError
from shared.retry import RetryBudget, RetryPolicy
from shared.settings import Settings


def servicenow_incident(content: TicketContent, target: ServiceNowTarget) -> dict[str, Any]:
    incident: dict[str, Any] = {
        "short_description": ticket_title(content)[:160],
        "description": plain_text(content),
        "assignment_group": target.assignment_group,
        "urgency": str(target.urgency),
        "impact": str(target.impact),
        "correlation_id": marker(content.key),
        "correlation_display": "insightloop",
    }
    if target.category:
        incident["category"] = target.category
    return incident


class ServiceNowSink:
    """ServiceNow Table API on ``incident`` with basic auth."""

    kind: DestinationKind = "servicenow"
    name = "servicenow"
    table = "/api/now/table/incident"

    def __init__(self, instance_url: str, http: HttpSender) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.http = http

    @classmethod
    def from_settings(cls, settings: Settings, policy: RetryPolicy) -> ServiceNowSink:
        return cls(
            *basic_auth_sender(
                "servicenow",
                settings,
                policy,
                settings.servicenow_instance_url,
                settings.servicenow_username,
                settings.servicenow_password,
                "INSIGHTLOOP_SERVICENOW_INSTANCE_URL is set but INSIGHTLOOP_SERVICENOW_USERNAME "
                "or INSIGHTLOOP_SERVICENOW_PASSWORD is not",
            )
        )

    def create(self, content: TicketContent, target: ServiceNowTarget) -> Delivery:
        found, response = self.http.find_or_create(
            lambda budget: self._find(marker(content.key), budget),
            self.table,
            what=f"POST {self.table}",
            json=servicenow_incident(content, target),
        )
        if found is not None:
            return self._delivery(found, adopted=True)
        return self._delivery(_json(response, "servicenow create").get("result") or {})

    def update(
        self, content: TicketContent, target: ServiceNowTarget, delivered: Delivery
    ) -> Delivery:
        sys_id = quote(delivered.ref.get("sys_id", ""), safe="")
        # A work note is a journal entry: PATCH adds one, it never overwrites history.
        self.http.request(
            "PATCH",
            f"{self.table}/{sys_id}",
            what=f"PATCH {self.table}/{{sys_id}}",
            json={"work_notes": plain_text(content, update=True)},
        )
        return delivered

    def _find(self, correlation_id: str, budget: RetryBudget) -> dict[str, Any] | None:
        response = self.http.request(
            "GET",
            self.table,
            what=f"GET {self.table}",
            budget=budget,
            params={
                "sysparm_query": f"correlation_id={correlation_id}",
                "sysparm_fields": "sys_id,number",
                "sysparm_limit": "1",
            },
        )
        results = _json(response, "servicenow lookup").get("result") or []
        return results[0] if results else None

    def _delivery(self, record: dict[str, Any], *, adopted: bool = False) -> Delivery:
        sys_id = str(record.get("sys_id") or "")
        if not sys_id:
            raise TransientError("servicenow create: the answer has no sys_id")
        url = f"{self.instance_url}/nav_to.do?uri=incident.do%3Fsys_id%3D{sys_id}"
        return Delivery(str(record.get("number") or sys_id), url, {"sys_id": sys_id}, adopted)

    def close(self) -> None:
        self.http.close()
