"""insightloop's domain library: everything the Functions handlers and the CLI share.

No ``azure.functions`` import lives here, so it runs and tests offline. The public names
load on first use, so importing one module (``shared.decide.local_classifier``) does not
load the ingest pipeline and every stage behind it.
"""

from shared.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "models": ("FeedbackRecord", "IngestReport", "QuarantinedRow", "make_record_id"),
        "pipeline": ("EventMessage", "IngestPipeline", "get_pipeline"),
        "settings": ("Settings", "get_settings"),
    },
)
