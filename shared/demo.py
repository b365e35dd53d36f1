"""The demo's loop after ingest: route as of a past day, the owners act, Gold measures.

``samples/demo-timeline.json`` (written by ``scripts/build_samples.py`` with the samples)
says when: Gold runs as of ``first_gold_as_of`` and its export is routed at
``routed_at``; then the owners answer through the real callback service, each request
signed the way its sender signs it (Jira's ``X-Hub-Signature``, Slack's ``v0`` scheme,
the review endpoint's timestamped signature) and dated inside the sample window; the
samples carry the feedback that follows. Gold then runs over everything and
``gold_outcomes`` measures each routed insight before and after its fix.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from pydantic import BaseModel, ConfigDict, SecretStr

from shared.act.callbacks.events import ROUTING_EVENTS_DATASET, CallbackOutcome
from shared.act.callbacks.service import CallbackService
from shared.act.callbacks.verification import hub_signature, timestamped_signature
from shared.errors import ConfigError
from shared.settings import Settings
from shared.storage import ObjectStorage

TIMELINE_FILE = "demo-timeline.json"


class InsightRef(BaseModel):
    """An insight by what it is about (its key also holds the week it was routed in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str
    product: str
    segment: str

    def __str__(self) -> str:
        return f"{self.theme} | {self.product} | {self.segment}"


class OwnerAction(BaseModel):
    """One thing an owner does after routing: a Slack button, a Jira transition, a review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    via: Literal["slack", "jira", "review"]
    action: str
    insight: InsightRef | None = None
    actor: str | None = None
    new_owner: str | None = None
    note: str | None = None
    # review: the record is the first landed one in this language quoting ``quote``.
    language: str | None = None
    quote: str | None = None
    theme: str | None = None
    reviewer: str | None = None


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: date
    version: str
    hotfix: date | None = None


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    worked: InsightRef
    failed: InsightRef


class DemoTimeline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shop: str
    window: dict[str, date]
    first_gold_as_of: date
    routed_at: datetime
    release: Release
    owners: list[OwnerAction]
    expected: Expected
    # column -> alias -> canonical value: the shop's spellings (insightloop.aliases.<column>)
    aliases: dict[str, dict[str, str]] = {}

    def gold_config(self) -> dict[str, str]:
        """Pipeline configuration keys for the shop's aliases."""
        return {
            f"insightloop.aliases.{column}": orjson.dumps(aliases).decode()
            for column, aliases in self.aliases.items()
        }


def load_timeline(samples_dir: Path) -> DemoTimeline:
    path = samples_dir / TIMELINE_FILE
    try:
        return DemoTimeline.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a demo timeline: {exc}") from exc


@dataclass(frozen=True, slots=True)
class RoutedInsight:
    insight_key: str
    destinations: Mapping[str, str]  # destination -> external id


@dataclass(frozen=True, slots=True)
class PlayedAction:
    action: OwnerAction
    outcome: CallbackOutcome
    target: str  # the insight key or record id acted on


def with_demo_secrets(settings: Settings) -> Settings:
    """Callback secrets for this run: the demo signs as Jira, Slack and a reviewer would."""
    return settings.model_copy(
        update={
            name: SecretStr(secrets.token_hex(16))
            for name in (
                "callbacks_jira_webhook_secret",
                "callbacks_slack_signing_secret",
                "callbacks_review_signing_secret",
            )
        }
    )


def routed_insights(storage: ObjectStorage, settings: Settings) -> dict[InsightRef, RoutedInsight]:
    """Each created insight's key and tickets/messages, from the landed routing events."""
    found: dict[InsightRef, dict[str, Any]] = {}
    for event in _routing_events(storage, settings):
        if event.get("kind") != "routing_action" or event.get("action") != "created":
            continue
        ref = InsightRef(theme=event["theme"], product=event["product"], segment=event["segment"])
        entry = found.setdefault(ref, {"key": event["insight_key"], "destinations": {}})
        entry["destinations"][event["destination"]] = event.get("external_id") or ""
    return {
        ref: RoutedInsight(entry["key"], dict(entry["destinations"]))
        for ref, entry in found.items()
    }


def _routing_events(storage: ObjectStorage, settings: Settings) -> Iterator[dict[str, Any]]:
    container = settings.landing_container
    for path in storage.list(container, f"{ROUTING_EVENTS_DATASET}/"):
        found = storage.read(container, path)
        if found is None:
            continue
        for line in found[0].splitlines():
            if line.strip():
                yield orjson.loads(line)


class OwnerDesk:
    """Plays the owners' side: builds each sender's request, signs it, posts it to the
    callback service (the same one the Functions routes call) at the action's time."""

    def __init__(self, storage: ObjectStorage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def play(
        self, actions: list[OwnerAction], routed: Mapping[InsightRef, RoutedInsight]
    ) -> list[PlayedAction]:
        played = []
        for action in sorted(actions, key=lambda a: a.at):
            if action.via == "review":
                played.append(self._review(action))
                continue
            if action.insight is None or action.insight not in routed:
                raise ConfigError(
                    f"the demo timeline acts on {action.insight}, which was not routed"
                )
            insight = routed[action.insight]
            handler = self._jira if action.via == "jira" else self._slack
            played.append(PlayedAction(action, handler(action, insight), insight.insight_key))
        return played

    def _service(self, at: datetime) -> CallbackService:
        # Delivered a few seconds after the click, inside the replay window.
        return CallbackService(self.storage, self.settings, clock=lambda: at + timedelta(seconds=2))

    def _secret(self, name: str) -> bytes:
        value: SecretStr | None = getattr(self.settings, name)
        if value is None:
            raise ConfigError(f"the demo needs {name} (with_demo_secrets)")
        return value.get_secret_value().encode()

    def _jira(self, action: OwnerAction, insight: RoutedInsight) -> CallbackOutcome:
        if action.action != "done":
            raise ConfigError(f"Jira actions are 'done', not {action.action!r}")
        number = int(insight.insight_key[:6], 16) % 900 + 100
        millis = int(action.at.timestamp() * 1000)
        body = orjson.dumps(
            {
                "timestamp": millis,
                "webhookEvent": "jira:issue_updated",
                "user": {"accountId": action.actor or "demo"},
                "issue": {
                    "id": str(10000 + number),
                    "key": f"INS-{number}",
                    "fields": {
                        "status": {"name": "Done", "statusCategory": {"key": "done"}},
                        "resolution": {"name": "Done"},
                        "resolutiondate": action.at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                        "labels": [f"insightloop-{insight.insight_key}", "insightloop"],
                    },
                },
                "changelog": {
                    "id": str(millis),
                    "items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}],
                },
            }
        )
        headers = {
            "X-Hub-Signature": hub_signature(self._secret("callbacks_jira_webhook_secret"), body),
            "X-Atlassian-Webhook-Identifier": hashlib.sha256(body).hexdigest()[:20],
            "Content-Type": "application/json",
        }
        return self._service(action.at).jira(body, headers)

    def _slack(self, action: OwnerAction, insight: RoutedInsight) -> CallbackOutcome:
        if action.action not in ("confirm", "reject", "reassign"):
            raise ConfigError(f"Slack actions are confirm/reject/reassign, not {action.action!r}")
        stamp = f"{action.at.timestamp():.6f}"
        state: dict[str, Any] = {}
        if action.action == "reassign":
            if not action.new_owner:
                raise ConfigError("a reassign in the demo timeline needs new_owner")
            state = {
                "insightloop_actions": {
                    "insightloop_owner": {
                        "type": "static_select",
                        "selected_option": {"value": action.new_owner},
                    }
                }
            }
        payload = {
            "type": "block_actions",
            "user": {"id": action.actor or "U_DEMO"},
            "team": {"id": "T_HEARTH"},
            "api_app_id": "A_INSIGHTLOOP",
            "trigger_id": f"{int(action.at.timestamp())}.{insight.insight_key[:8]}",
            "container": {"channel_id": "C_TRIAGE", "message_ts": stamp},
            "actions": [
                {
                    "action_id": f"insightloop_{action.action}",
                    "block_id": "insightloop_actions",
                    "type": "button",
                    "value": insight.insight_key,
                    "action_ts": stamp,
                }
            ],
            "state": {"values": state},
        }
        body = urlencode({"payload": orjson.dumps(payload).decode()}).encode()
        timestamp = str(int(action.at.timestamp()))
        secret = self._secret("callbacks_slack_signing_secret")
        headers = {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": timestamped_signature(secret, timestamp, body),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return self._service(action.at).slack(body, headers)

    def _review(self, action: OwnerAction) -> PlayedAction:
        if not (action.language and action.quote and action.theme):
            raise ConfigError("a review in the demo timeline needs language, quote and theme")
        record_id = self._record_quoting(action.language, action.quote, before=action.at)
        decision = {
            "record_id": record_id,
            "action": action.action,
            "reviewer": action.reviewer or "demo-reviewer",
            "reason": action.note or "the offline classifier reads English only",
            "themes": [{"theme": action.theme, "evidence": action.quote, "sentiment": "negative"}],
            "sentiment": "negative",
            "decision_id": f"demo-{record_id[:16]}",
        }
        body = orjson.dumps(decision)
        timestamp = str(int(action.at.timestamp()))
        secret = self._secret("callbacks_review_signing_secret")
        headers = {
            "X-Insightloop-Request-Timestamp": timestamp,
            "X-Insightloop-Signature": timestamped_signature(secret, timestamp, body),
            "Content-Type": "application/json",
        }
        return PlayedAction(action, self._service(action.at).review(body, headers), record_id)

    def _record_quoting(self, language: str, quote: str, *, before: datetime) -> str:
        """The earliest landed record in ``language`` whose masked text has ``quote``."""
        container = self.settings.landing_container
        best: tuple[str, str] | None = None
        for path in self.storage.list(container, "feedback/"):
            found = self.storage.read(container, path)
            for line in found[0].splitlines() if found else []:
                row = orjson.loads(line)
                created = row.get("created_at") or ""
                if (
                    row.get("language") == language
                    and quote in (row.get("text") or "")
                    and created < before.isoformat()
                    and (best is None or created < best[0])
                ):
                    best = (created, row["record_id"])
        if best is None:
            raise ConfigError(f"no landed {language} record quotes {quote!r} for the demo review")
        return best[1]


__all__ = [
    "DemoTimeline",
    "InsightRef",
    "OwnerAction",
    "OwnerDesk",
    "PlayedAction",
    "RoutedInsight",
    "load_timeline",
    "routed_insights",
    "with_demo_secrets",
]
