"""Slack interactivity: Confirm / Reject / Reassign on an insight message is an insight decision."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from pydantic import Field

from shared.act.callbacks.events import SLACK_ACTIONS
from shared.act.callbacks.jira import _INSIGHT_KEY
from shared.act.callbacks.payload import CallbackRefusedError, _json_object, _Lenient, _validated

_WORDS = re.compile(r"[^a-z]+")


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
