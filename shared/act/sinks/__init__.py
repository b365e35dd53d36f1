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
"""

from shared.act.sinks.content import (
    FactsSnapshot,
    TicketContent,
    change_rows,
    citation,
    fact_rows,
    markdown,
    owner_line,
    plain_text,
    ticket_title,
    trend_short,
)
from shared.act.sinks.delivery import Delivery, Sink
from shared.act.sinks.http import (
    USER_AGENT,
    HttpSender,
    policy_from_settings,
)
from shared.act.sinks.jira import JiraSink, jira_comment, jira_description, jira_issue_fields
from shared.act.sinks.outbox import OutboxSink, payload_for
from shared.act.sinks.servicenow import ServiceNowSink, servicenow_incident
from shared.act.sinks.sinkset import SinkSet
from shared.act.sinks.slack import SLACK_AUTH_ERRORS, SlackSink, slack_message
from shared.act.sinks.targets import (
    DESTINATION_ORDER,
    MARKER_PREFIX,
    DestinationKind,
    JiraTarget,
    ServiceNowTarget,
    SlackTarget,
    Target,
    TeamsTarget,
    marker,
)
from shared.act.sinks.teams import (
    ADAPTIVE_CARD_SCHEMA,
    ADAPTIVE_CARD_VERSION,
    TeamsSink,
    teams_card,
)
from shared.retry import RetryBudget, RetryPolicy, retry_after_seconds

__all__ = [
    "ADAPTIVE_CARD_SCHEMA",
    "ADAPTIVE_CARD_VERSION",
    "DESTINATION_ORDER",
    "MARKER_PREFIX",
    "SLACK_AUTH_ERRORS",
    "USER_AGENT",
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
    "Target",
    "TeamsSink",
    "TeamsTarget",
    "TicketContent",
    "change_rows",
    "citation",
    "fact_rows",
    "jira_comment",
    "jira_description",
    "jira_issue_fields",
    "markdown",
    "marker",
    "owner_line",
    "payload_for",
    "plain_text",
    "policy_from_settings",
    "retry_after_seconds",
    "servicenow_incident",
    "slack_message",
    "teams_card",
    "ticket_title",
    "trend_short",
]
