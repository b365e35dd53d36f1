"""Act: route each exported insight to its owner's Jira, ServiceNow, Slack or Teams; take answers.

Reads exports/insights/ and routing.yaml, and callbacks from Jira, Slack and reviewers; lands
routing events, the routing ledger, the review queue and the outbox.
"""
