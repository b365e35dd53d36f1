"""Decide: classify each masked record (themes with evidence, sentiment, urgency) and audit how.

Reads masked records, taxonomy.yaml and the classify prompts; lands classifications, model-call
audits, the review queue and reviewers' overrides.
"""
