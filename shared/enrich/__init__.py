"""Enrich: detect each record's language, mask its PII and gate each batch on data quality.

Reads the ingested records, pii.yaml and quality.yaml; lands quality events, baselines and
whole quarantined batches (records themselves land masked, through the pipeline).
"""
