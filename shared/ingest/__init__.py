"""Ingest: read export files and Service Bus messages as rows, map them to records, drop replays.

Reads inbox blobs (CSV, JSON, JSON Lines, gzip) and sources.yaml; lands nothing itself: the
pipeline (shared.pipeline) lands what ingest, enrich and decide make of each batch.
"""

from shared.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "inbox": ("split_inbox_path",),
        "ledger": ("IdempotencyLedger", "RecordKey"),
        "parsing": ("BadRow", "CountingReader", "ParsedRow", "read_rows"),
        "sources": ("RecordMapper", "SourceMapping", "load_mappings", "resolve_mapping"),
    },
)
