"""Slack Web API: a Block Kit message with Confirm / Reject / Reassign, edited on update."""

from __future__ import annotations

from typing import Any

import orjson

from shared.act.sinks.content import (
    TicketContent,
    _is_url,
    change_rows,
    citation,
    fact_rows,
    owner_line,
    trend_short,
)
from shared.act.sinks.delivery import Delivery
from shared.act.sinks.http import HttpSender, _client, _json
from shared.act.sinks.targets import DestinationKind, SlackTarget
from shared.act.synthesis import scope_phrase, theme_label
from shared.errors import ConfigError, PermanentInputError, TransientError
from shared.retry import RetryPolicy
from shared.settings import Settings

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


_SLACK_ACTION_BLOCK = "insightloop_actions"


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
