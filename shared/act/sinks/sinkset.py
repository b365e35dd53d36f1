"""The sink for each destination: live where its settings are set, else the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.act.sinks.delivery import Sink
from shared.act.sinks.http import policy_from_settings
from shared.act.sinks.jira import JiraSink
from shared.act.sinks.outbox import OutboxSink
from shared.act.sinks.servicenow import ServiceNowSink
from shared.act.sinks.slack import SlackSink
from shared.act.sinks.targets import DestinationKind
from shared.act.sinks.teams import TeamsSink
from shared.errors import ConfigError
from shared.settings import Settings
from shared.storage import ObjectStorage


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
