"""Where a rule sends an insight: the destination kinds and each one's target in routing.yaml."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DestinationKind = Literal["jira", "servicenow", "slack", "teams"]


# Tickets first, so that chat messages can link to them.
DESTINATION_ORDER: tuple[DestinationKind, ...] = ("jira", "servicenow", "slack", "teams")


MARKER_PREFIX = "insightloop-"


_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_.-]")


def marker(insight_key: str) -> str:
    """The idempotency marker at the sink: Jira label, ServiceNow correlation_id."""
    return f"{MARKER_PREFIX}{insight_key}"


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
