"""Sinks: where routed insights go. Jira Cloud, ServiceNow, Slack, Teams, or the local outbox.

Each sink is a small client over ``httpx`` with two operations: ``create`` (a new ticket
or message for an insight) and ``update`` (the same insight exported again: a comment, a
work note, an edited message, a follow-up card). What they send is rendered here from
one :class:`TicketContent`: title, synthesized summary with cited evidence, trend,
evidence quotes with record ids, suggested owner and links back.

* Jira Cloud REST v3: ``POST /rest/api/3/issue`` with an Atlassian Document Format
  description and the label ``insightloop-<insight key>``; ``POST .../comment`` on update;
  ``POST /rest/api/3/search/jql`` finds an issue by that label before creating one.
* ServiceNow Table API: ``POST /api/now/table/incident`` with
  ``correlation_id=insightloop-<insight key>`` (looked up first);
  ``PATCH /api/now/table/incident/<sys_id>`` with a work note on update.
* Slack Web API: ``chat.postMessage`` with Block Kit (Confirm / Reject / Reassign buttons
  whose ``value`` is the insight key, a team select for Reassign); ``chat.update``.
* Microsoft Teams: an Adaptive Card POSTed to a Workflows webhook URL; a webhook cannot
  edit a card, so an update posts a follow-up card.
* Outbox: ``outbox/<destination>/<insight key>.json`` (the exact payload that would be
  sent) and ``.md`` (readable), for the demo and any destination without endpoint settings.

Retries: 429 and 5xx (and connection failures) are retried with exponential backoff,
honouring ``Retry-After``, within a bounded number of attempts and seconds; what is
left is a :class:`~shared.errors.TransientError` (the destination stays pending). A
create whose outcome is unknown (a 5xx or a timeout after the request went out) is not
blindly repeated: the marker lookup runs first. Refused credentials (401/403, Slack
``invalid_auth``...) are a :class:`~shared.errors.ConfigError`; any other rejection is a
:class:`~shared.errors.PermanentInputError`. Error messages carry the method, path and
status only: never a URL (Teams webhook URLs embed a signature) nor feedback text.
"""

from __future__ import annotations

import email.utils
import logging
import math
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import ConfigError, PermanentInputError, TransientError
from shared.insights import EvidenceQuote, Insight
from shared.settings import KEY_VAULT_REFERENCE, Settings
from shared.storage import ObjectStorage
from shared.synthesis import InsightSummary, scope_phrase, theme_label

logger = logging.getLogger(__name__)

DestinationKind = Literal["jira", "servicenow", "slack", "teams"]
# Tickets first, so that chat messages can link to them.
DESTINATION_ORDER: tuple[DestinationKind, ...] = ("jira", "servicenow", "slack", "teams")
MARKER_PREFIX = "insightloop-"
USER_AGENT = "insightloop-routing/0.1"
SLACK_AUTH_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
    }
)
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"  # what Teams renders on every client (1.5 is desktop/web only)
_SLACK_ACTION_BLOCK = "insightloop_actions"
_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_.-]")


def marker(insight_key: str) -> str:
    """The idempotency marker at the sink: Jira label, ServiceNow correlation_id."""
    return f"{MARKER_PREFIX}{insight_key}"


# ------------------------------------------------------------------ targets (routing.yaml)


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JiraTarget(_Target):
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,9}$", description="project key")
    issue_type: str = Field(default="Task", min_length=1)
    priority: str | None = Field(default=None, description="a priority name, e.g. High")
    labels: tuple[str, ...] = Field(default=(), description="extra labels (no spaces)")

    @field_validator("labels")
    @classmethod
    def _plain_labels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [label for label in value if not label or _UNSAFE_LABEL.search(label)]
        if bad:
            raise ValueError(f"Jira labels take letters, digits, '_', '.', '-': {bad}")
        return value


class ServiceNowTarget(_Target):
    assignment_group: str = Field(min_length=1, description="group sys_id or unique name")
    urgency: int = Field(default=3, ge=1, le=3, description="1 high, 2 medium, 3 low")
    impact: int = Field(default=3, ge=1, le=3, description="1 high, 2 medium, 3 low")
    category: str | None = None


class SlackTarget(_Target):
    channel: str = Field(pattern=r"^(#[a-z0-9][a-z0-9_-]{0,79}|[CGD][A-Z0-9]{6,20})$")


class TeamsTarget(_Target):
    webhook_setting: str = Field(
        pattern=r"^INSIGHTLOOP_TEAMS_WEBHOOK_[A-Z0-9_]{1,60}$",
        description="the app setting holding the Workflows webhook URL",
    )


Target = JiraTarget | ServiceNowTarget | SlackTarget | TeamsTarget


# ------------------------------------------------------------------ content


class FactsSnapshot(BaseModel):
    """What a destination was last told about an insight (the baseline of an update)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    volume: int
    previous_volume: int
    velocity: float
    negative_share: float
    severity: str
    urgency_high: int
    confidence: float
    evidence_ids: tuple[str, ...]
    run_id: str

    @classmethod
    def of(cls, insight: Insight, run_id: str) -> FactsSnapshot:
        return cls(
            volume=insight.volume,
            previous_volume=insight.previous_volume,
            velocity=insight.finite_velocity,
            negative_share=insight.negative_share,
            severity=insight.severity,
            urgency_high=insight.urgency_high,
            confidence=insight.confidence,
            evidence_ids=tuple(q.record_id for q in insight.evidence),
            run_id=run_id,
        )


@dataclass(frozen=True, slots=True)
class TicketContent:
    """Everything a sink renders for one insight."""

    insight: Insight
    summary: InsightSummary
    owner: str
    rule: str | None  # None: no rule matched, the default route
    run_id: str
    export_location: str
    insight_url: str | None = None
    related: tuple[tuple[str, str], ...] = ()  # (label, url) of this insight's tickets
    previous: FactsSnapshot | None = None  # set for an update
    teams: tuple[str, ...] = ()  # owner teams offered by Reassign

    @property
    def key(self) -> str:
        return self.insight.insight_key

    @property
    def refs(self) -> dict[str, str]:
        """record id -> ``E<n>``, the evidence numbering every rendering uses."""
        return {q.record_id: f"E{n}" for n, q in enumerate(self.insight.evidence, 1)}

    def fresh_evidence(self, limit: int = 3) -> list[EvidenceQuote]:
        """Quotes this destination has not been shown yet (else the first few)."""
        seen = set(self.previous.evidence_ids) if self.previous else set()
        fresh = [q for q in self.insight.evidence if q.record_id not in seen]
        return (fresh or list(self.insight.evidence))[:limit]

    def links(self) -> list[tuple[str, str]]:
        found = list(self.related)
        if self.insight_url:
            found.append(("Insight", self.insight_url))
        found.append((f"Export {self.run_id}", self.export_location))
        return found


def ticket_title(content: TicketContent) -> str:
    insight = content.insight
    return (
        f"[insightloop] {theme_label(insight.theme)}{scope_phrase(insight)} "
        f"({insight.window_start.isoformat()} to {insight.window_end.isoformat()})"
    )


def trend_short(insight: Insight | FactsSnapshot) -> str:
    if insight.previous_volume == 0:
        return "new"
    velocity = insight.velocity
    return f"{velocity if velocity is not None and math.isfinite(velocity) else 0.0:+.0%}"


def fact_rows(insight: Insight) -> list[tuple[str, str]]:
    return [
        ("Volume", f"{insight.volume} (previous window {insight.previous_volume})"),
        ("Trend", trend_short(insight)),
        ("Negative share", f"{insight.negative_share:.0%}"),
        ("Severity", insight.severity),
        ("High urgency", f"{insight.urgency_high} records"),
        ("Confidence", f"{insight.confidence:.2f}"),
        ("Window", f"{insight.window_start.isoformat()} to {insight.window_end.isoformat()}"),
    ]


def change_rows(content: TicketContent) -> list[tuple[str, str]]:
    """Now versus what this destination saw last."""
    now, before = content.insight, content.previous
    if before is None:
        return fact_rows(now)

    def pair(old: str, new: str) -> str:
        return new if old == new else f"{old} → {new}"

    return [
        ("Volume", pair(str(before.volume), str(now.volume))),
        ("Trend", pair(trend_short(before), trend_short(now))),
        ("Negative share", pair(f"{before.negative_share:.0%}", f"{now.negative_share:.0%}")),
        ("Severity", pair(before.severity, now.severity)),
        ("High urgency", pair(str(before.urgency_high), str(now.urgency_high)) + " records"),
    ]


def owner_line(content: TicketContent) -> str:
    if content.rule is None:
        return f"{content.owner} (no routing rule matched: default route, lower priority)"
    return f"{content.owner} (routing rule {content.rule})"


def citation(record_ids: tuple[str, ...], refs: dict[str, str]) -> str:
    return "[" + ", ".join(refs.get(record_id, record_id) for record_id in record_ids) + "]"


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


# ------------------------------------------------------------------ Jira (ADF)


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


# ------------------------------------------------------------------ plain text and Markdown


def plain_text(content: TicketContent, *, update: bool = False) -> str:
    """ServiceNow description / work note: plain text with the same sections."""
    refs = content.refs
    lines: list[str] = []
    if update:
        lines += [f"Update from export {content.run_id}", ""]
        lines += [f"- {name}: {value}" for name, value in change_rows(content)]
    else:
        lines += [f"- {name}: {value}" for name, value in fact_rows(content.insight)]
    lines += ["", "Summary:"]
    lines += [f"{s.text} {citation(s.record_ids, refs)}" for s in content.summary.sentences]
    quotes = content.fresh_evidence() if update else list(content.insight.evidence)
    lines += ["", "New evidence:" if update else "Evidence:"]
    lines += [f'{refs[q.record_id]} "{q.quote}" (record {q.record_id})' for q in quotes]
    if not update:
        lines += ["", f"Suggested owner: {owner_line(content)}", "", "Links:"]
        lines += [f"- {label}: {target}" for label, target in content.links()]
        lines += ["", f"insightloop insight key {content.key}"]
    return "\n".join(lines)


def markdown(content: TicketContent, destination: str, where: str, note: str) -> str:
    """The outbox's readable copy of a ticket or message."""
    refs = content.refs
    out = [
        f"# {ticket_title(content)}",
        "",
        f"**Destination:** {destination} ({where}). {note}",
        "",
        "## Summary",
        "",
    ]
    out += [f"- {s.text} `{citation(s.record_ids, refs)}`" for s in content.summary.sentences]
    out += ["", "## Trend", "", "| | |", "| --- | --- |"]
    out += [f"| {name} | {value} |" for name, value in fact_rows(content.insight)]
    out += ["", "## Evidence", ""]
    out += [
        f"- **{refs[q.record_id]}** “{q.quote}” (record `{q.record_id}`)"
        for q in content.insight.evidence
    ]
    out += ["", "## Suggested owner", "", owner_line(content), "", "## Links", ""]
    out += [f"- {label}: {target}" for label, target in content.links()]
    out += ["", f"Insight key `{content.key}`", ""]
    return "\n".join(out)


# ------------------------------------------------------------------ Slack (Block Kit)


def _slack_escape(text: str) -> str:
    # mrkdwn control characters: keeps data from forming links or @channel mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": False}


def slack_message(content: TicketContent, target: SlackTarget, *, update: bool) -> dict[str, Any]:
    """A ``chat.postMessage`` / ``chat.update`` body (``channel``, ``ts`` added by the sink)."""
    insight, refs = content.insight, content.refs
    title = f"{theme_label(insight.theme)}{scope_phrase(insight)}"
    summary = " ".join(
        f"{s.text} {citation(s.record_ids, refs)}" for s in content.summary.sentences
    )
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)}"}
        for name, value in fact_rows(insight)[:6]
    ]
    quotes = "\n".join(
        f"{refs[q.record_id]} “{q.quote}”" for q in content.fresh_evidence() if q.quote
    )
    context = [f"Owner: *{_slack_escape(owner_line(content))}*"]
    context += [
        f"<{target_url}|{_slack_escape(label)}>"
        for label, target_url in content.links()
        if _is_url(target_url)
    ]
    context.append(f"Insight `{content.key}`")
    if update and content.previous is not None:
        changes = "; ".join(f"{n} {v}" for n, v in change_rows(content) if "→" in v)
        context.insert(
            0,
            f"Updated from export {_slack_escape(content.run_id)}: "
            f"{_slack_escape(changes) or 'new evidence'}",
        )
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": "insightloop_confirm",
            "text": _plain("Confirm", 75),
            "style": "primary",
            "value": content.key,
        },
        {
            "type": "button",
            "action_id": "insightloop_reject",
            "text": _plain("Reject", 75),
            "style": "danger",
            "value": content.key,
            "confirm": {
                "title": _plain("Reject this insight?", 100),
                "text": _plain("It will be recorded as not actionable.", 300),
                "confirm": _plain("Reject", 30),
                "deny": _plain("Cancel", 30),
            },
        },
    ]
    teams = [team for team in content.teams if team != content.owner][:100]
    if teams:
        elements.append(
            {
                "type": "static_select",
                "action_id": "insightloop_owner",
                "placeholder": _plain("New owner team", 150),
                "options": [{"text": _plain(t, 75), "value": t[:150]} for t in teams],
            }
        )
    elements.append(
        {
            "type": "button",
            "action_id": "insightloop_reassign",
            "text": _plain("Reassign", 75),
            "value": content.key,
        }
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, 150)},
        {"type": "section", "text": _plain(summary)},
        {"type": "section", "fields": fields},
    ]
    if quotes:
        blocks.append({"type": "section", "text": _plain(quotes)})
    blocks += [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": c[:3000]} for c in context][:10],
        },
        {"type": "actions", "block_id": _SLACK_ACTION_BLOCK, "elements": elements},
    ]
    return {
        "channel": target.channel,
        "text": _slack_escape(f"{title}: {insight.volume} records ({trend_short(insight)})")[:3000],
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {
            "event_type": "insightloop_insight",
            "event_payload": {"insight_key": content.key},
        },
    }


# ------------------------------------------------------------------ Teams (Adaptive Card)


def _rich(text: str, **run: Any) -> dict[str, Any]:
    # TextRun is never parsed as Markdown, so data cannot inject links or formatting.
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **run}]}


def teams_card(content: TicketContent, *, update: bool) -> dict[str, Any]:
    """A Workflows webhook body: one message with an Adaptive Card attachment."""
    insight, refs = content.insight, content.refs
    title = f"{theme_label(insight.theme)}{scope_phrase(insight)}"
    rows = change_rows(content) if update else fact_rows(insight)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": "Update" if update else "New insight",
            "size": "Small",
            "weight": "Bolder",
            "color": "Accent",
        },
        {**_rich(title, size="Large", weight="Bolder"), "spacing": "Small"},
        {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in rows]},
        *[_rich(f"{s.text} {citation(s.record_ids, refs)}") for s in content.summary.sentences],
        {
            "type": "Container",
            "style": "emphasis",
            "items": [
                _rich(f"{refs[q.record_id]} “{q.quote}”", italic=True)
                for q in content.fresh_evidence()
            ],
        },
        {"type": "TextBlock", "text": f"Suggested owner: {owner_line(content)}", "wrap": True},
        {"type": "TextBlock", "text": f"Insight {content.key}", "isSubtle": True, "size": "Small"},
    ]
    actions = [
        {"type": "Action.OpenUrl", "title": label[:40], "url": url}
        for label, url in content.links()
        if _is_url(url)
    ]
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


# ------------------------------------------------------------------ HTTP with retries


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per operation: at most ``max_attempts`` requests and ``budget_seconds`` of waiting."""

    max_attempts: int = 4
    budget_seconds: float = 30.0
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0


def retry_after_seconds(
    value: str | None, now: Callable[[], datetime] | None = None
) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


class RetryBudget:
    """The attempts and seconds one operation (e.g. find-or-create) may still spend."""

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + policy.budget_seconds
        self.attempts = 1

    def backoff(self) -> float:
        base = min(
            self.policy.max_backoff_seconds, self.policy.backoff_seconds * 2 ** (self.attempts - 1)
        )
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security

    def wait(self, delay: float, why: str) -> None:
        """Sleep before the next attempt, or raise TransientError when the budget is spent."""
        if self.attempts >= self.policy.max_attempts:
            raise TransientError(f"{why}; gave up after {self.attempts} attempts")
        if self.clock() + delay > self.deadline:
            raise TransientError(
                f"{why}; a {delay:.1f}s wait would exceed the {self.policy.budget_seconds:g}s "
                "retry budget"
            )
        self.attempts += 1
        self.sleep(delay)


def _error_detail(response: httpx.Response) -> str:
    """A short, text-free reason from an error body: field names or an error code."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("errors"), dict) and body["errors"]:
        return " (fields: " + ", ".join(sorted(map(str, body["errors"])))[:200] + ")"
    error = body.get("error")
    if isinstance(error, str) and re.fullmatch(r"[a-z_]{1,60}", error):
        return f" ({error})"
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f" ({error['message'][:100]})"
    return ""


class HttpSender:
    """One sink's HTTP client with the retry rules of the module docstring."""

    def __init__(
        self,
        name: str,
        client: httpx.Client,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.client = client
        self.policy = policy
        self.clock = clock
        self.sleep = sleep

    def budget(self) -> RetryBudget:
        return RetryBudget(self.policy, self.clock, self.sleep)

    def request(
        self, method: str, url: str, *, what: str, budget: RetryBudget | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send, retrying 429, 5xx and transport failures (for requests safe to repeat)."""
        response = self._send(method, url, what, budget or self.budget(), True, kwargs)
        assert response is not None  # retry_unknown=True never returns None
        return response

    def attempt(
        self, method: str, url: str, *, what: str, budget: RetryBudget, **kwargs: Any
    ) -> httpx.Response | None:
        """Send a create: None when its outcome is unknown (the caller looks it up first)."""
        return self._send(method, url, what, budget, False, kwargs)

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        budget: RetryBudget,
        retry_unknown: bool,
        kwargs: dict[str, Any],
    ) -> httpx.Response | None:
        label = f"{self.name} {what}"
        while True:
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise ConfigError(f"{label}: the endpoint setting is not a usable URL") from exc
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the server: always safe to try again.
                budget.wait(budget.backoff(), f"{label}: unreachable ({type(exc).__name__})")
                continue
            except httpx.TransportError as exc:
                budget.wait(budget.backoff(), f"{label}: no answer ({type(exc).__name__})")
                if not retry_unknown:
                    return None
                continue
            status = response.status_code
            if status < 300:
                return response
            if status in (401, 403):
                raise ConfigError(
                    f"{label} was refused (HTTP {status}): check the {self.name} credentials "
                    "and their permissions"
                )
            delay = retry_after_seconds(response.headers.get("retry-after"))
            if status == 429:
                # A throttled request was not processed: repeating it cannot duplicate.
                budget.wait(delay if delay is not None else budget.backoff(), f"{label}: HTTP 429")
                continue
            if status == 408 or status >= 500:
                budget.wait(
                    delay if delay is not None else budget.backoff(), f"{label}: HTTP {status}"
                )
                if not retry_unknown:
                    return None
                continue
            raise PermanentInputError(
                f"{label} was rejected: HTTP {status}{_error_detail(response)}"
            )

    def close(self) -> None:
        self.client.close()


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise TransientError(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise TransientError(f"{what}: the answer is not a JSON object")
    return body


def _client(
    settings: Settings, headers: Mapping[str, str] | None = None, **kwargs: Any
) -> httpx.Client:
    return httpx.Client(
        timeout=settings.routing_http_timeout_seconds,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        follow_redirects=False,
        **kwargs,
    )


def policy_from_settings(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.routing_max_attempts,
        budget_seconds=settings.routing_retry_budget_seconds,
    )


# ------------------------------------------------------------------ sinks


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an insight landed at a sink."""

    external_id: str | None
    external_url: str | None = None
    ref: dict[str, str] = field(default_factory=dict)  # what an update needs (sys_id, channel)
    adopted: bool = False  # found by its marker: created earlier, its state write was lost


class Sink(Protocol):
    kind: DestinationKind
    name: str  # the kind for a live sink, "outbox" for the outbox

    def create(self, content: TicketContent, target: Any) -> Delivery: ...

    def update(self, content: TicketContent, target: Any, delivered: Delivery) -> Delivery: ...


class JiraSink:
    """Jira Cloud REST v3 with basic auth (account e-mail + API token)."""

    kind: DestinationKind = "jira"
    name = "jira"

    def __init__(self, base_url: str, http: HttpSender) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    @classmethod
    def from_settings(cls, settings: Settings, policy: RetryPolicy) -> JiraSink:
        if not (settings.jira_email and settings.jira_api_token):
            raise ConfigError(
                "INSIGHTLOOP_JIRA_BASE_URL is set but INSIGHTLOOP_JIRA_EMAIL or "
                "INSIGHTLOOP_JIRA_API_TOKEN is not"
            )
        base = (settings.jira_base_url or "").rstrip("/")
        auth = (settings.jira_email, settings.jira_api_token.get_secret_value())
        return cls(base, HttpSender("jira", _client(settings, base_url=base, auth=auth), policy))

    def create(self, content: TicketContent, target: JiraTarget) -> Delivery:
        fields = jira_issue_fields(content, target)
        budget = self.http.budget()
        while True:
            found = self._find(marker(content.key), budget)
            if found is not None:
                return self._delivery(found, adopted=True)
            response = self.http.attempt(
                "POST",
                "/rest/api/3/issue",
                what="POST /rest/api/3/issue",
                budget=budget,
                json={"fields": fields},
            )
            if response is not None:
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
        if not (settings.servicenow_username and settings.servicenow_password):
            raise ConfigError(
                "INSIGHTLOOP_SERVICENOW_INSTANCE_URL is set but INSIGHTLOOP_SERVICENOW_USERNAME "
                "or INSIGHTLOOP_SERVICENOW_PASSWORD is not"
            )
        base = (settings.servicenow_instance_url or "").rstrip("/")
        auth = (settings.servicenow_username, settings.servicenow_password.get_secret_value())
        client = _client(settings, base_url=base, auth=auth)
        return cls(base, HttpSender("servicenow", client, policy))

    def create(self, content: TicketContent, target: ServiceNowTarget) -> Delivery:
        incident = servicenow_incident(content, target)
        budget = self.http.budget()
        while True:
            found = self._find(marker(content.key), budget)
            if found is not None:
                return self._delivery(found, adopted=True)
            response = self.http.attempt(
                "POST", self.table, what=f"POST {self.table}", budget=budget, json=incident
            )
            if response is not None:
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


class SlackSink:
    """Slack Web API with a bot token (scope ``chat:write``)."""

    kind: DestinationKind = "slack"
    name = "slack"

    def __init__(self, http: HttpSender) -> None:
        self.http = http

    @classmethod
    def from_settings(cls, settings: Settings, policy: RetryPolicy) -> SlackSink:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        client = _client(
            settings,
            base_url=settings.slack_api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        return cls(HttpSender("slack", client, policy))

    def create(self, content: TicketContent, target: SlackTarget) -> Delivery:
        body = self._call("chat.postMessage", slack_message(content, target, update=False))
        channel, ts = str(body.get("channel") or target.channel), str(body.get("ts") or "")
        if not ts:
            raise TransientError("slack chat.postMessage: the answer has no ts")
        return Delivery(ts, None, {"channel": channel})

    def update(self, content: TicketContent, target: SlackTarget, delivered: Delivery) -> Delivery:
        message = slack_message(content, target, update=True)
        message.pop("unfurl_links")
        message.pop("unfurl_media")
        message.update(
            channel=delivered.ref.get("channel", target.channel), ts=delivered.external_id
        )
        self._call("chat.update", message)
        return delivered

    def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.http.request(
            "POST", f"/{method}", what=method, content=orjson.dumps(payload)
        )
        body = _json(response, f"slack {method}")
        if body.get("ok"):
            return body
        error = str(body.get("error") or "unknown_error")[:60]
        if error in SLACK_AUTH_ERRORS:
            raise ConfigError(
                f"slack {method} was refused ({error}): check INSIGHTLOOP_SLACK_BOT_TOKEN"
            )
        if error in {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}:
            raise TransientError(f"slack {method} failed ({error})")
        raise PermanentInputError(f"slack {method} was rejected ({error})")

    def close(self) -> None:
        self.http.close()


class TeamsSink:
    """Adaptive Cards to Teams Workflows webhooks; the URL is read from the named setting."""

    kind: DestinationKind = "teams"
    name = "teams"

    def __init__(self, http: HttpSender, environ: Mapping[str, str]) -> None:
        self.http = http
        self.environ = environ

    @classmethod
    def from_settings(
        cls, settings: Settings, policy: RetryPolicy, environ: Mapping[str, str]
    ) -> TeamsSink:
        return cls(HttpSender("teams", _client(settings), policy), environ)

    def configured(self, target: TeamsTarget) -> bool:
        value = self.environ.get(target.webhook_setting, "").strip()
        # An unresolved Key Vault reference arrives as its literal text: not configured.
        return bool(value) and not value.startswith(KEY_VAULT_REFERENCE)

    def create(self, content: TicketContent, target: TeamsTarget) -> Delivery:
        self._post(target, teams_card(content, update=False))
        return Delivery(None)

    def update(self, content: TicketContent, target: TeamsTarget, delivered: Delivery) -> Delivery:
        self._post(target, teams_card(content, update=True))
        return delivered

    def _post(self, target: TeamsTarget, card: dict[str, Any]) -> None:
        url = self.environ.get(target.webhook_setting, "").strip()
        if not url:
            raise ConfigError(f"{target.webhook_setting} is not set")
        self.http.request("POST", url, what=f"POST webhook {target.webhook_setting}", json=card)

    def close(self) -> None:
        self.http.close()


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


class SinkSet:
    """The sink for each destination: live where its settings are set, else the outbox."""

    def __init__(
        self,
        live: Mapping[str, Sink],
        outbox: Callable[[DestinationKind, str], OutboxSink],
        *,
        unconfigured: Mapping[str, str] | None = None,
        broken: Mapping[str, ConfigError] | None = None,
        teams: TeamsSink | None = None,
    ) -> None:
        self.live = dict(live)
        self.outbox = outbox
        self.unconfigured = dict(unconfigured or {})
        self.broken = dict(broken or {})
        self.teams = teams

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        storage: ObjectStorage,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> SinkSet:
        policy = policy_from_settings(settings)
        live: dict[str, Sink] = {}
        unconfigured: dict[str, str] = {}
        broken: dict[str, ConfigError] = {}
        builders: dict[str, tuple[str | None, str, Callable[[], Sink]]] = {
            "jira": (
                settings.jira_base_url,
                "INSIGHTLOOP_JIRA_BASE_URL is not set",
                lambda: JiraSink.from_settings(settings, policy),
            ),
            "servicenow": (
                settings.servicenow_instance_url,
                "INSIGHTLOOP_SERVICENOW_INSTANCE_URL is not set",
                lambda: ServiceNowSink.from_settings(settings, policy),
            ),
            "slack": (
                settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
                "INSIGHTLOOP_SLACK_BOT_TOKEN is not set",
                lambda: SlackSink.from_settings(settings, policy),
            ),
        }
        for kind, (setting, reason, build) in builders.items():
            if not setting:
                unconfigured[kind] = reason
                continue
            try:
                live[kind] = build()
            except ConfigError as exc:
                broken[kind] = exc
        now = clock or (lambda: datetime.now(UTC))
        # App settings are environment variables; the webhook's setting is named per rule.
        teams = TeamsSink.from_settings(
            settings, policy, environ if environ is not None else os.environ
        )

        def outbox(kind: DestinationKind, reason: str) -> OutboxSink:
            return OutboxSink(kind, storage, settings.outbox_container, reason, now)

        return cls(live, outbox, unconfigured=unconfigured, broken=broken, teams=teams)

    def for_target(self, kind: DestinationKind, target: Any) -> Sink:
        """The sink for one destination; ConfigError if its settings are half set."""
        if kind in self.broken:
            raise self.broken[kind]
        if kind == "teams":
            if self.teams is not None and self.teams.configured(target):
                return self.teams
            return self.outbox(kind, f"{target.webhook_setting} is not set")
        if kind in self.live:
            return self.live[kind]
        return self.outbox(kind, self.unconfigured.get(kind, "no endpoint configured"))

    def close(self) -> None:
        for sink in [*self.live.values(), self.teams]:
            close = getattr(sink, "close", None)
            if close is not None:
                close()


__all__ = [
    "DESTINATION_ORDER",
    "Delivery",
    "DestinationKind",
    "FactsSnapshot",
    "HttpSender",
    "JiraSink",
    "JiraTarget",
    "OutboxSink",
    "RetryBudget",
    "RetryPolicy",
    "ServiceNowSink",
    "ServiceNowTarget",
    "Sink",
    "SinkSet",
    "SlackSink",
    "SlackTarget",
    "TeamsSink",
    "TeamsTarget",
    "TicketContent",
    "jira_comment",
    "jira_description",
    "jira_issue_fields",
    "markdown",
    "marker",
    "payload_for",
    "plain_text",
    "retry_after_seconds",
    "servicenow_incident",
    "slack_message",
    "teams_card",
    "ticket_title",
]
