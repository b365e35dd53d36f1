"""Act: route each exported insight to its owner's Jira, ServiceNow, Slack or Teams; take answers.

Reads exports/insights/ and routing.yaml, and callbacks from Jira, Slack and reviewers; lands
routing events, the routing ledger, the review queue and the outbox.
"""

from shared.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "callbacks": (
            "CallbackOutcome",
            "CallbackRefusedError",
            "CallbackService",
            "get_callbacks",
        ),
        "routing": ("Router", "RoutingReport", "route_export"),
        "sinks": ("SinkSet",),
        "synthesis": ("Synthesizer",),
    },
)
