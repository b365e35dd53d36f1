"""Callbacks: Jira webhooks, Slack actions and review decisions land as routing events.

Three senders close the loop (docs/callbacks.md):

* Jira: an insight's issue moves to a done status -> a ``fix_recorded`` event;
* Slack: Confirm / Reject / Reassign on an insight message -> an ``insight_decision``;
* reviewers: approve / correct / reject a classification -> a human override through
  :mod:`shared.decide.overrides` and a ``review_decision``.

Every request is checked in one order: size (413), signature (401), body (400). An
accepted event lands once per idempotency key (Jira's webhook identifier, Slack's trigger
id, a review's ``decision_id``): a create-if-absent marker in the ledger holds the event,
then the event lands create-if-absent at
``landing/routing_events/ingest_date=YYYY-MM-DD/<kind>-<event_id>.jsonl``. A retried
delivery finds the marker and lands nothing new (it only completes a landing a crash cut
short). Nothing slow runs here, because Slack gives up after 3 seconds: later stages
read the landed events.
"""

from shared.act.callbacks.events import (
    MARKERS_PREFIX,
    ROUTING_EVENTS_DATASET,
    SLACK_ACTIONS,
    CallbackOutcome,
    EventAction,
    EventKind,
    EventSource,
    Outcome,
    RoutingEvent,
    marker_path,
    routing_event_id,
)
from shared.act.callbacks.jira import (
    DONE_STATUS_NAMES,
    INSIGHT_LABEL_PREFIX,
    JiraWebhook,
    insight_key_of,
    jira_fix_or_reason,
)
from shared.act.callbacks.payload import CallbackRefusedError
from shared.act.callbacks.review import REJECT_QUOTE_CHARS, ReviewDecision
from shared.act.callbacks.service import CallbackService, get_callbacks, utc_now
from shared.act.callbacks.slack import SlackPayload, slack_action_name, slack_payload
from shared.act.callbacks.verification import (
    hub_signature,
    timestamped_signature,
    verify_hub_signature,
    verify_timestamped_signature,
)

__all__ = [
    "DONE_STATUS_NAMES",
    "INSIGHT_LABEL_PREFIX",
    "MARKERS_PREFIX",
    "REJECT_QUOTE_CHARS",
    "ROUTING_EVENTS_DATASET",
    "SLACK_ACTIONS",
    "CallbackOutcome",
    "CallbackRefusedError",
    "CallbackService",
    "EventAction",
    "EventKind",
    "EventSource",
    "JiraWebhook",
    "Outcome",
    "ReviewDecision",
    "RoutingEvent",
    "SlackPayload",
    "get_callbacks",
    "hub_signature",
    "insight_key_of",
    "jira_fix_or_reason",
    "marker_path",
    "routing_event_id",
    "slack_action_name",
    "slack_payload",
    "timestamped_signature",
    "utc_now",
    "verify_hub_signature",
    "verify_timestamped_signature",
]
