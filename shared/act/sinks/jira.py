"""Jira Cloud REST v3: an issue with an Atlassian Document Format description; comments."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.act.sinks.content import (
    TicketContent,
    _is_url,
    change_rows,
    citation,
    fact_rows,
    owner_line,
    ticket_title,
)
from shared.act.sinks.delivery import Delivery
from shared.act.sinks.http import (
    HttpSender,
    _json,
    basic_auth_sender,
)
from shared.act.sinks.targets import DestinationKind, JiraTarget, marker
from shared.insights import EvidenceQuote
from shared.retry import RetryBudget, RetryPolicy
from shared.settings import Settings


def _text(text: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = list(marks)
    return node


def _paragraph(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": [n for n in nodes if n.get("text", "x")]}


def _heading(text: str, level: int = 3) -> dict[str, Any]:
    return {"type": "heading", "attrs": {"level": level}, "content": [_text(text)]}


def _bullets(items: list[list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "type": "bulletList",
        "content": [{"type": "listItem", "content": [_paragraph(*item)]} for item in items],
    }


_STRONG = {"type": "strong"}


_CODE = {"type": "code"}


_EM = {"type": "em"}


def _adf_link(label: str, target: str) -> list[dict[str, Any]]:
    if _is_url(target):
        return [_text(label, {"type": "link", "attrs": {"href": target}})]
    return [_text(f"{label}: "), _text(target, _CODE)]


def _adf_summary(content: TicketContent) -> list[dict[str, Any]]:
    refs = content.refs
    return [
        _paragraph(_text(f"{s.text} "), _text(citation(s.record_ids, refs), _CODE))
        for s in content.summary.sentences
    ]


def _adf_evidence(content: TicketContent, quotes: list[EvidenceQuote]) -> dict[str, Any]:
    refs = content.refs
    return _bullets(
        [
            [
                _text(f"{refs[q.record_id]} ", _STRONG),
                _text(f"“{q.quote}”", _EM),
                _text(" record "),
                _text(q.record_id, _CODE),
            ]
            for q in quotes
        ]
    )


def jira_description(content: TicketContent) -> dict[str, Any]:
    """The issue description as an Atlassian Document Format document."""
    nodes = [
        _heading("Summary"),
        *_adf_summary(content),
        _heading("Trend"),
        _bullets(
            [
                [_text(f"{name}: ", _STRONG), _text(value)]
                for name, value in fact_rows(content.insight)
            ]
        ),
        _heading("Evidence"),
        _adf_evidence(content, list(content.insight.evidence)),
        _heading("Suggested owner"),
        _paragraph(_text(owner_line(content))),
        _heading("Links"),
        _bullets([_adf_link(label, target) for label, target in content.links()]),
        _paragraph(_text("insightloop insight key "), _text(content.key, _CODE)),
    ]
    return {"type": "doc", "version": 1, "content": nodes}


def jira_comment(content: TicketContent) -> dict[str, Any]:
    """An update comment: what changed, the current summary, fresh evidence."""
    nodes = [
        _heading(f"Update from export {content.run_id}"),
        _bullets(
            [[_text(f"{name}: ", _STRONG), _text(value)] for name, value in change_rows(content)]
        ),
        _heading("Summary"),
        *_adf_summary(content),
        _heading("New evidence"),
        _adf_evidence(content, content.fresh_evidence()),
    ]
    return {"type": "doc", "version": 1, "content": nodes}


def jira_issue_fields(content: TicketContent, target: JiraTarget) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project": {"key": target.project},
        "issuetype": {"name": target.issue_type},
        "summary": ticket_title(content)[:255],
        "description": jira_description(content),
        "labels": [marker(content.key), "insightloop", *target.labels],
    }
    if target.priority:
        fields["priority"] = {"name": target.priority}
    return fields


class JiraSink:
    """Jira Cloud REST v3 with basic auth (account e-mail + API token)."""

    kind: DestinationKind = "jira"
    name = "jira"

    def __init__(self, base_url: str, http: HttpSender) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    @classmethod
    def from_settings(cls, settings: Settings, policy: RetryPolicy) -> JiraSink:
        return cls(
            *basic_auth_sender(
                "jira",
                settings,
                policy,
                settings.jira_base_url,
                settings.jira_email,
                settings.jira_api_token,
                "INSIGHTLOOP_JIRA_BASE_URL is set but INSIGHTLOOP_JIRA_EMAIL or "
                "INSIGHTLOOP_JIRA_API_TOKEN is not",
            )
        )

    def create(self, content: TicketContent, target: JiraTarget) -> Delivery:
        found, response = self.http.find_or_create(
            lambda budget: self._find(marker(content.key), budget),
            "/rest/api/3/issue",
            what="POST /rest/api/3/issue",
            json={"fields": jira_issue_fields(content, target)},
        )
        if found is not None:
            return self._delivery(found, adopted=True)
        return self._delivery(str(_json(response, "jira create")["key"]))

    def update(self, content: TicketContent, target: JiraTarget, delivered: Delivery) -> Delivery:
        issue = quote(delivered.external_id or "", safe="")
        self.http.request(
            "POST",
            f"/rest/api/3/issue/{issue}/comment",
            what="POST /rest/api/3/issue/{key}/comment",
            json={"body": jira_comment(content)},
        )
        return delivered

    def _find(self, label: str, budget: RetryBudget) -> str | None:
        response = self.http.request(
            "POST",
            "/rest/api/3/search/jql",
            what="POST /rest/api/3/search/jql",
            budget=budget,
            json={
                "jql": f'labels = "{label}" ORDER BY created ASC',
                "fields": ["key"],
                "maxResults": 1,
            },
        )
        issues = _json(response, "jira search").get("issues") or []
        return str(issues[0]["key"]) if issues else None

    def _delivery(self, key: str, *, adopted: bool = False) -> Delivery:
        return Delivery(key, f"{self.base_url}/browse/{key}", adopted=adopted)

    def close(self) -> None:
        self.http.close()
