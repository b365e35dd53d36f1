"""The callback service: checks each request (size, signature, body), then lands its event once."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from shared.act.callbacks.events import (
    CallbackOutcome,
    Outcome,
    RoutingEvent,
    marker_path,
    routing_event_id,
)
from shared.act.callbacks.jira import JiraWebhook, _jira_time, jira_fix_or_reason
from shared.act.callbacks.payload import CallbackRefusedError, _json_object, _text, _validated
from shared.act.callbacks.review import REJECT_QUOTE_CHARS, ReviewDecision
from shared.act.callbacks.slack import (
    SlackPayload,
    _key_and_owner,
    _owner_from_state,
    _slack_time,
    _SlackAction,
    slack_action_name,
    slack_payload,
)
from shared.act.callbacks.verification import verify_hub_signature, verify_timestamped_signature
from shared.decide.classification import Classification
from shared.decide.overrides import (
    HumanOverride,
    OverrideTheme,
    latest_classifications,
    masked_texts,
    record_overrides,
)
from shared.decide.taxonomy import FALLBACK_THEME, Taxonomy, get_taxonomy
from shared.errors import AlreadyExistsError, ConfigError, TransientError
from shared.settings import Settings, get_settings
from shared.storage import ObjectStorage, storage_from_settings

# Routing offers teams as select options (values up to 150 characters).
_TEAM = re.compile(r"^[^\x00-\x1f\x7f]{1,150}$")


def utc_now() -> datetime:
    return datetime.now(UTC)


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
