"""Ingest: read export files and Service Bus messages as rows, map them to records, drop replays.

Reads inbox blobs (CSV, JSON, JSON Lines, gzip) and sources.yaml; lands nothing itself: the
pipeline (shared.pipeline) lands what ingest, enrich and decide make of each batch.
"""
