"""Microsoft Teams: an Adaptive Card POSTed to a Workflows webhook; updates post a new card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.act.sinks.content import (
    TicketContent,
    _is_url,
    change_rows,
    citation,
    fact_rows,
    owner_line,
)
from shared.act.sinks.delivery import Delivery
from shared.act.sinks.http import HttpSender, _client
from shared.act.sinks.targets import DestinationKind, TeamsTarget
from shared.act.synthesis import scope_phrase, theme_label
from shared.errors import ConfigError
from shared.retry import RetryPolicy
from shared.settings import KEY_VAULT_REFERENCE, Settings

ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


ADAPTIVE_CARD_VERSION = "1.4"  # what Teams renders on every client (1.5 is desktop/web only)


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
