"""Callbacks: Jira webhooks, Slack actions and review decisions land as routing events.

Three senders close the loop (docs/callbacks.md):

* Jira: an insight's issue moves to a done status -> a ``fix_recorded`` event;
* Slack: Confirm / Reject / Reassign on an insight message -> an ``insight_decision``;
* reviewers: approve / correct / reject a classification -> a human override through
  :mod:`shared.overrides` and a ``review_decision``.

Every request is checked in one order: size (413), signature (401), body (400). An
accepted event lands once per idempotency key (Jira's webhook identifier, Slack's trigger
id, a review's ``decision_id``): a create-if-absent marker in the ledger holds the event,
then the event lands create-if-absent at
``landing/routing_events/ingest_date=YYYY-MM-DD/<kind>-<event_id>.jsonl``. A retried
delivery finds the marker and lands nothing new (it only completes a landing a crash cut
short). Nothing slow runs here, because Slack gives up after 3 seconds: later stages
read the landed events.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.classification import Classification
from shared.errors import AlreadyExistsError, ConfigError, PermanentInputError, TransientError
from shared.models import SCHEMA_VERSION, AwareDatetime
from shared.overrides import (
    HumanOverride,
    OverrideTheme,
    latest_classifications,
    masked_texts,
    record_overrides,
)
from shared.settings import Settings, get_settings
from shared.storage import ObjectStorage, storage_from_settings
from shared.taxonomy import FALLBACK_THEME, Sentiment, Taxonomy, Urgency, get_taxonomy

logger = logging.getLogger(__name__)

ROUTING_EVENTS_DATASET = "routing_events"
MARKERS_PREFIX = "callbacks"
INSIGHT_LABEL_PREFIX = "insightloop-"
DONE_STATUS_NAMES = frozenset({"done", "resolved", "closed"})
SLACK_ACTIONS = frozenset({"confirm", "reject", "reassign"})
# A reject re-files the record under the fallback theme, quoting the start of its text.
REJECT_QUOTE_CHARS = 200

_HEX_KEY = r"^[0-9a-f]{32}$"
_INSIGHT_KEY = re.compile(_HEX_KEY)
# Routing offers teams as select options (values up to 150 characters).
_TEAM = re.compile(r"^[^\x00-\x1f\x7f]{1,150}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_WORDS = re.compile(r"[^a-z]+")

EventKind = Literal["fix_recorded", "insight_decision", "review_decision"]
EventSource = Literal["jira", "slack", "review"]
EventAction = Literal["resolved", "confirm", "reject", "reassign", "approve", "correct"]
Outcome = Literal["recorded", "duplicate", "ignored"]

_KIND: dict[str, str] = {
    "jira": "fix_recorded",
    "slack": "insight_decision",
    "review": "review_decision",
}
_ACTIONS: dict[str, frozenset[str]] = {
    "jira": frozenset({"resolved"}),
    "slack": SLACK_ACTIONS,
    "review": frozenset({"approve", "correct", "reject"}),
}


class CallbackRefusedError(PermanentInputError):
    """A refused request: ``status`` is the HTTP answer, ``message`` is safe to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def utc_now() -> datetime:
    return datetime.now(UTC)


def routing_event_id(source: str, idempotency_key: str) -> str:
    """Stable per delivery: every retry of one delivery maps to the same event id."""
    return hashlib.sha256(f"{source}\x1f{idempotency_key}".encode()).hexdigest()[:32]


def marker_path(source: str, event_id: str) -> str:
    """The ledger object that claims an event id: create-if-absent, holds the event."""
    return f"{MARKERS_PREFIX}/{source}/{event_id}.json"


class RoutingEvent(BaseModel):
    """One accepted callback, as landed at ``landing/routing_events/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    event_id: str = Field(pattern=_HEX_KEY, description="sha256(source, idempotency_key)")
    kind: EventKind
    source: EventSource
    action: EventAction
    insight_key: str | None = Field(default=None, pattern=_HEX_KEY)
    record_id: str | None = Field(default=None, pattern=_HEX_KEY)
    actor: str | None = Field(
        default=None, max_length=200, description="Jira account id, Slack user id, reviewer"
    )
    new_owner: str | None = Field(default=None, description="the team of a reassign")
    occurred_at: AwareDatetime | None = Field(default=None, description="as the sender says")
    received_at: AwareDatetime
    idempotency_key: str = Field(min_length=1, max_length=400)
    external_ids: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> RoutingEvent:
        if self.kind != _KIND[self.source] or self.action not in _ACTIONS[self.source]:
            raise ValueError(
                f"{self.source} events are {_KIND[self.source]} with an action in "
                f"{sorted(_ACTIONS[self.source])}"
            )
        if self.source == "review" and self.record_id is None:
            raise ValueError("a review decision names its record_id")
        if self.source != "review" and self.insight_key is None:
            raise ValueError(f"a {self.source} event names its insight_key")
        if (self.action == "reassign") != (self.new_owner is not None):
            raise ValueError("new_owner is given exactly for a reassign")
        if self.event_id != routing_event_id(self.source, self.idempotency_key):
            raise ValueError("event_id does not match the idempotency key")
        return self

    @classmethod
    def create(cls, source: EventSource, idempotency_key: str, **fields: Any) -> RoutingEvent:
        """The event of one delivery; ids too long or odd for the contract are a 400."""
        values = {
            "event_id": routing_event_id(source, idempotency_key),
            "kind": _KIND[source],
            "source": source,
            "idempotency_key": idempotency_key,
            **fields,
        }
        return _validated(cls, values, f"{source} event")

    @property
    def landing_path(self) -> str:
        day = self.received_at.astimezone(UTC)
        return (
            f"{ROUTING_EVENTS_DATASET}/ingest_date={day:%Y-%m-%d}/{self.kind}-{self.event_id}.jsonl"
        )

    @property
    def marker_path(self) -> str:
        return marker_path(self.source, self.event_id)


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    """What one accepted request did; every outcome is answered with 202."""

    status: Outcome
    events: tuple[RoutingEvent, ...] = ()
    reason: str | None = None  # why nothing was recorded, for an ignored delivery


# ------------------------------------------------------------------ signatures


def hub_signature(secret: bytes, body: bytes) -> str:
    """Jira's ``X-Hub-Signature`` (WebSub): ``sha256=`` + HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def timestamped_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """Slack's v0 scheme: ``v0=`` + HMAC-SHA256 of ``v0:<timestamp>:<raw body>``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    if not given:
        return False
    # compare_digest is constant-time; senders may upper-case the hex digits.
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace"))


def verify_hub_signature(secret: bytes, body: bytes, header: str | None) -> None:
    if not _same(hub_signature(secret, body), header):
        raise CallbackRefusedError(401, "invalid signature")


def verify_timestamped_signature(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: datetime,
    window_seconds: int,
) -> None:
    """Refuse a stale or future timestamp (a replay) before checking the signature."""
    timestamp = (timestamp or "").strip()
    if not _TIMESTAMP.match(timestamp):
        raise CallbackRefusedError(401, "missing or invalid request timestamp")
    if abs(now.timestamp() - int(timestamp)) > window_seconds:
        raise CallbackRefusedError(401, "request timestamp outside the replay window")
    if not _same(timestamped_signature(secret, timestamp, body), signature):
        raise CallbackRefusedError(401, "invalid signature")


# ------------------------------------------------------------------ payloads

_Model = TypeVar("_Model", bound=BaseModel)


class _Lenient(BaseModel):
    # Senders add fields freely; only what is read here is checked.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _validated(model: type[_Model], value: Any, what: str) -> _Model:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        # Only the location and pydantic's message: never the input value itself.
        raise CallbackRefusedError(400, f"not a {what}: {where}: {first['msg']}") from None


def _json_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise CallbackRefusedError(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise CallbackRefusedError(400, f"{what} is not a JSON object")
    return value


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


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


class _SlackId(_Lenient):
    id: str | None = None


class _SlackOption(_Lenient):
    value: str | None = None


class _SlackAction(_Lenient):
    action_id: str = ""
    block_id: str | None = None
    type: str | None = None
    value: str | None = None
    selected_option: _SlackOption | None = None
    action_ts: str | None = None


class _SlackContainer(_Lenient):
    channel_id: str | None = None
    message_ts: str | None = None


class _SlackState(_Lenient):
    # block_id -> action_id -> element state
    values: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)


class SlackPayload(_Lenient):
    """The parts of a Slack interaction payload (``block_actions``) this module reads."""

    type: str
    user: _SlackId | None = None
    team: _SlackId | None = None
    api_app_id: str | None = None
    trigger_id: str | None = None
    container: _SlackContainer | None = None
    channel: _SlackId | None = None
    actions: list[_SlackAction] = Field(default_factory=list)
    state: _SlackState | None = None


def slack_action_name(action_id: str) -> str | None:
    """confirm / reject / reassign when exactly one of them is a word of the action id."""
    found = SLACK_ACTIONS.intersection(_WORDS.split(action_id.lower()))
    return next(iter(found)) if len(found) == 1 else None


def _key_and_owner(value: str | None) -> tuple[str | None, str | None]:
    """``<insight key>`` or ``<insight key>:<owner team>``."""
    key, _, owner = (value or "").strip().partition(":")
    return (key if _INSIGHT_KEY.match(key) else None), (owner.strip() or None)


def _owner_from_state(state: _SlackState | None) -> str | None:
    # A select beside the Reassign button: Slack sends its current choice in the state.
    for elements in (state.values if state else {}).values():
        for action_id, element in elements.items():
            words = set(_WORDS.split(action_id.lower()))
            option = element.get("selected_option") if isinstance(element, dict) else None
            if words & {"owner", "team"} and isinstance(option, dict):
                value = str(option.get("value") or "")
                key, owner = _key_and_owner(value)
                return owner if key else (value.strip() or None)
    return None


def _slack_time(action_ts: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(action_ts), UTC) if action_ts else None
    except (OverflowError, OSError, ValueError):
        return None


def slack_payload(body: bytes) -> SlackPayload:
    """The ``payload`` field of Slack's form-encoded body, parsed."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise CallbackRefusedError(400, "body is not a form") from None
    values = form.get("payload", [])
    if len(values) != 1:
        raise CallbackRefusedError(400, "body has no payload field")
    return _validated(SlackPayload, _json_object(values[0], "payload"), "Slack interaction")


class ReviewDecision(BaseModel):
    """``POST /api/review``: a reviewer's verdict on one record's classification."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: str = Field(pattern=_HEX_KEY)
    action: Literal["approve", "correct", "reject"]
    reviewer: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)
    themes: list[OverrideTheme] | None = Field(default=None, min_length=1)
    sentiment: Sentiment | None = None
    urgency: Urgency | None = None
    owner: str | None = None
    decision_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{8,128}$",
        description="the client's idempotency key: a repeat of one decision lands once",
    )

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> ReviewDecision:
        corrected = [
            name for name in ("themes", "sentiment", "urgency", "owner") if getattr(self, name)
        ]
        if self.action == "correct" and not corrected:
            raise ValueError("correct needs themes, sentiment, urgency or owner")
        if self.action != "correct" and corrected:
            raise ValueError(f"{self.action} takes no {', '.join(corrected)}: use correct")
        return self


# ------------------------------------------------------------------ the service


class CallbackService:
    """Verifies, parses and lands callbacks; one per process (:func:`get_callbacks`)."""

    def __init__(
        self,
        storage: ObjectStorage,
        settings: Settings,
        *,
        taxonomy: Callable[[], Taxonomy] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self._taxonomy = taxonomy or (lambda: get_taxonomy(Path(settings.config_dir)))
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, storage: ObjectStorage | None = None
    ) -> CallbackService:
        return cls(storage if storage is not None else storage_from_settings(settings), settings)

    # ------------------------------------------------------------ Jira

    def jira(self, body: bytes, headers: Mapping[str, str]) -> CallbackOutcome:
        """A Jira webhook: a transition of an insight's issue into done records the fix."""
        headers = _lowercase(headers)
        self._check_size(body)
        secret = self.settings.callbacks_jira_webhook_secret
        if secret is not None:
            verify_hub_signature(
                secret.get_secret_value().encode(), body, headers.get("x-hub-signature")
            )
        elif self.settings.callbacks_require_signatures:
            raise ConfigError(
                "INSIGHTLOOP_CALLBACKS_JIRA_WEBHOOK_SECRET is not set (or set "
                "INSIGHTLOOP_CALLBACKS_REQUIRE_SIGNATURES=false to rely on the function key)"
            )
        webhook = _validated(JiraWebhook, _json_object(body, "body"), "Jira webhook")
        found = jira_fix_or_reason(webhook)
        if isinstance(found, str):
            return CallbackOutcome("ignored", reason=found)
        issue, insight_key = found
        delivery = headers.get("x-atlassian-webhook-identifier", "").strip()
        changelog_id = _text(webhook.changelog.id) if webhook.changelog else None
        if delivery:
            key = f"delivery:{delivery}"
        elif issue.id is not None and changelog_id:
            key = f"change:{issue.id}:{changelog_id}"  # Automation web requests send no id
        else:
            key = f"body:{hashlib.sha256(body).hexdigest()}"
        fields = issue.fields
        event = RoutingEvent.create(
            "jira",
            key,
            action="resolved",
            insight_key=insight_key,
            actor=webhook.user.account_id if webhook.user else None,
            occurred_at=_jira_time(webhook),
            received_at=self.clock(),
            external_ids=_present(
                issue_key=issue.key,
                issue_id=_text(issue.id),
                webhook_identifier=delivery or None,
                changelog_id=changelog_id,
                webhook_event=webhook.webhook_event,
                status=fields.status.name if fields.status else None,
                resolution=fields.resolution.name if fields.resolution else None,
            ),
        )
        return self._land([event])

    # ------------------------------------------------------------ Slack

    def slack(self, body: bytes, headers: Mapping[str, str]) -> CallbackOutcome:
        """A Slack interaction: Confirm / Reject / Reassign on an insight message."""
        headers = _lowercase(headers)
        self._check_size(body)
        secret = self.settings.callbacks_slack_signing_secret
        if secret is None:
            raise ConfigError("INSIGHTLOOP_CALLBACKS_SLACK_SIGNING_SECRET is not set")
        verify_timestamped_signature(
            secret.get_secret_value().encode(),
            body,
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            now=self.clock(),
            window_seconds=self.settings.callbacks_replay_window_seconds,
        )
        payload = slack_payload(body)
        if payload.type != "block_actions":
            return CallbackOutcome("ignored", reason=f"{payload.type} is not a block action")
        received = self.clock()
        events = []
        for action in payload.actions:
            name = slack_action_name(action.action_id)
            if name is None:
                continue  # a link button or another app control: Slack still wants a 2xx
            events.append(self._slack_event(payload, action, name, received))
        if not events:
            return CallbackOutcome("ignored", reason="no confirm, reject or reassign action")
        return self._land(events)

    def _slack_event(
        self, payload: SlackPayload, action: _SlackAction, name: str, received: datetime
    ) -> RoutingEvent:
        user = payload.user.id if payload.user else None
        if not user:
            raise CallbackRefusedError(400, "the interaction names no user")
        option = action.selected_option.value if action.selected_option else None
        insight_key, owner = _key_and_owner(action.value or option)
        if insight_key is None:
            raise CallbackRefusedError(400, "the action value is not an insight key")
        if name == "reassign":
            owner = owner or _owner_from_state(payload.state)
            if owner is None:
                raise CallbackRefusedError(400, "reassign needs the new owner team")
            if not _TEAM.match(owner):
                raise CallbackRefusedError(400, "the new owner is not a team name")
        else:
            owner = None
        if payload.trigger_id:
            key = f"trigger:{payload.trigger_id}:{action.action_id}"
        else:
            key = f"action:{user}:{action.action_ts}:{action.action_id}"
        container = payload.container
        return RoutingEvent.create(
            "slack",
            key,
            action=name,
            insight_key=insight_key,
            actor=user,
            new_owner=owner,
            occurred_at=_slack_time(action.action_ts),
            received_at=received,
            external_ids=_present(
                team_id=payload.team.id if payload.team else None,
                api_app_id=payload.api_app_id,
                channel_id=(container.channel_id if container else None)
                or (payload.channel.id if payload.channel else None),
                message_ts=container.message_ts if container else None,
                action_id=action.action_id,
                action_ts=action.action_ts,
                trigger_id=payload.trigger_id,
            ),
        )

    # ------------------------------------------------------------ review

    def review(self, body: bytes, headers: Mapping[str, str]) -> CallbackOutcome:
        """A reviewer's approve / correct / reject of a record's classification.

        The decision lands as a human override (Silver prefers it; the audit keeps the
        before and after), then as a ``review_decision`` event.
        """
        headers = _lowercase(headers)
        self._check_size(body)
        secret = self.settings.callbacks_review_signing_secret
        if secret is not None:
            verify_timestamped_signature(
                secret.get_secret_value().encode(),
                body,
                headers.get("x-insightloop-request-timestamp"),
                headers.get("x-insightloop-signature"),
                now=self.clock(),
                window_seconds=self.settings.callbacks_replay_window_seconds,
            )
        elif self.settings.callbacks_require_signatures:
            raise ConfigError(
                "INSIGHTLOOP_CALLBACKS_REVIEW_SIGNING_SECRET is not set (or set "
                "INSIGHTLOOP_CALLBACKS_REQUIRE_SIGNATURES=false to rely on the function key)"
            )
        decision = _validated(ReviewDecision, _json_object(body, "body"), "review decision")
        # Without a decision_id every request is a new decision (no dedupe across retries).
        key = f"decision:{decision.decision_id or uuid.uuid4().hex}"
        if decision.decision_id:
            # Checked before applying, so a repeated decision lands no second override.
            known = self._replay(marker_path("review", routing_event_id("review", key)))
            if known is not None:
                return CallbackOutcome("duplicate", (known,))
        now = self.clock()
        container = self.settings.landing_container
        current = latest_classifications(self.storage, container, {decision.record_id})
        before = current.get(decision.record_id)
        if before is None:
            raise CallbackRefusedError(404, f"no classification of record {decision.record_id}")
        override = self._override(decision, before, now)
        outcome = record_overrides(
            self.storage,
            container,
            self._taxonomy(),
            [override.model_dump_json().encode()],
            clock=lambda: now,
        )
        if outcome.refused:
            raise CallbackRefusedError(400, outcome.refused[0][1])
        paths = dict(zip(("classified_path", "audit_path"), outcome.landed_paths, strict=False))
        event = RoutingEvent.create(
            "review",
            key,
            action=decision.action,
            record_id=decision.record_id,
            actor=decision.reviewer,
            occurred_at=now,
            received_at=now,
            external_ids=_present(decision_id=decision.decision_id, **paths),
        )
        return self._land([event])

    def _override(
        self, decision: ReviewDecision, before: Classification, now: datetime
    ) -> HumanOverride:
        themes = decision.themes
        if decision.action == "reject":
            themes = [self._fallback_claim(decision.record_id, before)]
        return HumanOverride(
            record_id=decision.record_id,
            reviewer=decision.reviewer,
            reason=decision.reason,
            themes=themes,
            sentiment=decision.sentiment,
            urgency=decision.urgency,
            owner=decision.owner,
            decided_at=now,
        )

    def _fallback_claim(self, record_id: str, before: Classification) -> OverrideTheme:
        """A reject re-files the record under the fallback theme: no claim of it survives."""
        if any(claim.theme == FALLBACK_THEME for claim in before.themes):
            return OverrideTheme(theme=FALLBACK_THEME)
        text = masked_texts(self.storage, self.settings.landing_container, {record_id})
        quote = text.get(record_id, "").strip()[:REJECT_QUOTE_CHARS].strip()
        if not quote:
            raise CallbackRefusedError(
                400,
                f"record {record_id} has no text to quote under {FALLBACK_THEME!r}: use correct",
            )
        return OverrideTheme(theme=FALLBACK_THEME, evidence=quote)

    # ------------------------------------------------------------ landing

    def _check_size(self, body: bytes) -> None:
        if len(body) > self.settings.callbacks_max_body_bytes:
            raise CallbackRefusedError(
                413, f"body larger than {self.settings.callbacks_max_body_bytes} bytes"
            )

    def _land(self, events: list[RoutingEvent]) -> CallbackOutcome:
        landed = [self._land_once(event) for event in events]
        status: Outcome = "recorded" if any(new for new, _ in landed) else "duplicate"
        return CallbackOutcome(status, tuple(event for _, event in landed))

    def _land_once(self, event: RoutingEvent) -> tuple[bool, RoutingEvent]:
        """Claim the event's marker, then land it; a retry lands the first delivery's event."""
        data = event.model_dump_json().encode() + b"\n"
        try:
            self.storage.write(
                self.settings.ledger_container, event.marker_path, data, if_none_match=True
            )
        except AlreadyExistsError:
            known = self._replay(event.marker_path)
            if known is None:
                raise TransientError(f"callback marker {event.marker_path} vanished") from None
            return False, known
        self._write_event(event, data)
        return True, event

    def _replay(self, marker_path: str) -> RoutingEvent | None:
        """The event a marker holds, landed if an earlier delivery stopped short of it."""
        found = self.storage.read(self.settings.ledger_container, marker_path)
        if found is None:
            return None
        event = RoutingEvent.model_validate_json(found[0])
        self._write_event(event, found[0])
        return event

    def _write_event(self, event: RoutingEvent, data: bytes) -> None:
        # AlreadyExists: an earlier or concurrent delivery landed these same bytes.
        with contextlib.suppress(AlreadyExistsError):
            self.storage.write(
                self.settings.landing_container, event.landing_path, data, if_none_match=True
            )


def _lowercase(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _present(**values: str | None) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}


@functools.cache
def get_callbacks() -> CallbackService:
    """The process-wide callback service for the Functions handlers, built on first use."""
    return CallbackService.from_settings(get_settings())


__all__ = [
    "INSIGHT_LABEL_PREFIX",
    "ROUTING_EVENTS_DATASET",
    "CallbackOutcome",
    "CallbackRefusedError",
    "CallbackService",
    "JiraWebhook",
    "ReviewDecision",
    "RoutingEvent",
    "SlackPayload",
    "get_callbacks",
    "hub_signature",
    "insight_key_of",
    "jira_fix_or_reason",
    "routing_event_id",
    "slack_action_name",
    "slack_payload",
    "timestamped_signature",
    "verify_hub_signature",
    "verify_timestamped_signature",
]
