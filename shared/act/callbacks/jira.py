"""Jira webhooks: an insight's issue moved to a done status is a fix recorded."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import Field

from shared.act.callbacks.events import _HEX_KEY
from shared.act.callbacks.payload import _Lenient

INSIGHT_LABEL_PREFIX = "insightloop-"


DONE_STATUS_NAMES = frozenset({"done", "resolved", "closed"})


_INSIGHT_KEY = re.compile(_HEX_KEY)


class _JiraNamed(_Lenient):
    name: str | None = None


class _JiraStatusCategory(_Lenient):
    key: str | None = None


class _JiraStatus(_Lenient):
    name: str | None = None
    category: _JiraStatusCategory | None = Field(default=None, alias="statusCategory")


class _JiraFields(_Lenient):
    status: _JiraStatus | None = None
    resolution: _JiraNamed | None = None
    resolution_date: str | None = Field(default=None, alias="resolutiondate")
    labels: list[str] = Field(default_factory=list)


class _JiraIssue(_Lenient):
    id: str | int | None = None
    key: str | None = None
    fields: _JiraFields = Field(default_factory=_JiraFields)


class _JiraChange(_Lenient):
    field: str | None = None
    from_string: str | None = Field(default=None, alias="fromString")
    to_string: str | None = Field(default=None, alias="toString")


class _JiraChangelog(_Lenient):
    id: str | int | None = None
    items: list[_JiraChange] = Field(default_factory=list)


class _JiraUser(_Lenient):
    account_id: str | None = Field(default=None, alias="accountId")


class JiraWebhook(_Lenient):
    """The parts of a Jira Cloud issue webhook this module reads."""

    timestamp: int | None = None
    webhook_event: str | None = Field(default=None, alias="webhookEvent")
    user: _JiraUser | None = None
    issue: _JiraIssue | None = None
    changelog: _JiraChangelog | None = None


def insight_key_of(labels: list[str]) -> str | None:
    """The insight key of the first ``insightloop-<key>`` label routing put on the issue."""
    for label in labels:
        key = label[len(INSIGHT_LABEL_PREFIX) :] if label.startswith(INSIGHT_LABEL_PREFIX) else ""
        if _INSIGHT_KEY.match(key):
            return key
    return None


def _change(webhook: JiraWebhook, name: str) -> _JiraChange | None:
    items = webhook.changelog.items if webhook.changelog else []
    return next((i for i in items if (i.field or "").lower() == name), None)


def jira_fix_or_reason(webhook: JiraWebhook) -> tuple[_JiraIssue, str] | str:
    """The issue and insight key of a transition into a done status, or why it is not one.

    Transitioned: the changelog changes the status, or sets a resolution that was empty.
    Done: the issue's status category is ``done``; without a category, the new status
    is named Done/Resolved/Closed or a resolution was set.
    """
    issue = webhook.issue
    if issue is None:
        return "no issue in the payload"
    insight_key = insight_key_of(issue.fields.labels)
    if insight_key is None:
        return "not an insightloop issue (no insightloop-<insight key> label)"
    status = _change(webhook, "status")
    resolution = _change(webhook, "resolution")
    resolved_now = (
        resolution is not None and bool(resolution.to_string) and not (resolution.from_string)
    )
    if status is None and not resolved_now:
        return "no status transition"
    current = issue.fields.status
    category = current.category.key if current and current.category else None
    if category:
        done = category.lower() == "done"
    else:
        done = resolved_now or (
            status is not None and (status.to_string or "").strip().lower() in DONE_STATUS_NAMES
        )
    if not done:
        return "not a done status"
    return issue, insight_key


def _jira_time(webhook: JiraWebhook) -> datetime | None:
    raw = webhook.issue.fields.resolution_date if webhook.issue else None
    if raw:
        try:
            found = datetime.fromisoformat(raw)  # Jira: 2026-01-05T10:30:00.000+0000
        except ValueError:
            found = None
        if found is not None:
            return found if found.tzinfo else found.replace(tzinfo=UTC)
    if webhook.timestamp is not None:
        try:
            return datetime.fromtimestamp(webhook.timestamp / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None
