"""Routing: each insight of an export to its owner's tickets and channels, exactly once.

The ``route_insights`` blob trigger hands over ``exports/insights/<run_id>.json`` (an
:class:`~shared.insights.InsightExport`). For every insight:

1. ``prompts/routing.yaml`` decides: the first rule whose ``match`` fits names the owner
   team and the destinations (Jira, ServiceNow, Slack, Teams); no match is the default
   route, at a lower priority. Low confidence, low volume or no evidence sends a
   not-yet-routed insight to the human-review queue (``landing/routing_review/``) instead.
2. The routing ledger ``ledger/routing/<insight_key>.json`` is taken under a short lease
   (ETag compare-and-swap), so one invocation at a time works on an insight.
3. Per destination: the first export creates the ticket or message, a later export with
   changed facts updates it (comment, work note, edited message, follow-up card), an
   unchanged one does nothing. A failure leaves the destination ``pending`` (outage) or
   ``failed`` (refused) in the ledger, and the next export of the insight retries it.
   A ticket created at the sink whose ledger write was lost is found again by its marker
   (Jira label / ServiceNow correlation_id ``insightloop-<insight key>``).
4. Every action lands an event at
   ``landing/routing_events/ingest_date=YYYY-MM-DD/routing_action-<event_id>.jsonl``.

Each insight's summary comes from :mod:`shared.act.synthesis` and is cached in the ledger,
so a replayed export costs no model tokens. Sinks without endpoint settings write to the
local outbox (:class:`~shared.act.sinks.OutboxSink`).
"""

from shared.act.routing.events import (
    EVENT_KIND,
    EVENTS_DATASET,
    REVIEW_DATASET,
    Action,
    ReviewItem,
    RoutingActionEvent,
    RoutingReport,
    event_id,
)
from shared.act.routing.ledger import (
    LEASE_SECONDS,
    LEDGER_PREFIX,
    DestinationState,
    Lease,
    LeasedState,
    ReviewMark,
    RoutingLedger,
    RoutingState,
    Status,
    utc_now,
)
from shared.act.routing.rules import (
    ROUTING_CONFIG,
    SEVERITY_ORDER,
    TARGET_MODELS,
    DefaultRoute,
    Destinations,
    Match,
    ReviewThresholds,
    RouteDecision,
    RoutingConfig,
    Rule,
    SynthesisConfig,
    UpdatePolicy,
    get_routing_config,
    load_routing_config,
    velocity_of,
)
from shared.act.routing.service import (
    Router,
    facts_fingerprint,
    get_router,
    route_export,
    synthesizer_from_settings,
)

__all__ = [
    "EVENTS_DATASET",
    "EVENT_KIND",
    "LEASE_SECONDS",
    "LEDGER_PREFIX",
    "REVIEW_DATASET",
    "ROUTING_CONFIG",
    "SEVERITY_ORDER",
    "TARGET_MODELS",
    "Action",
    "DefaultRoute",
    "DestinationState",
    "Destinations",
    "Lease",
    "LeasedState",
    "Match",
    "ReviewItem",
    "ReviewMark",
    "ReviewThresholds",
    "RouteDecision",
    "Router",
    "RoutingActionEvent",
    "RoutingConfig",
    "RoutingLedger",
    "RoutingReport",
    "RoutingState",
    "Rule",
    "Status",
    "SynthesisConfig",
    "UpdatePolicy",
    "event_id",
    "facts_fingerprint",
    "get_router",
    "get_routing_config",
    "load_routing_config",
    "route_export",
    "synthesizer_from_settings",
    "utc_now",
    "velocity_of",
]
