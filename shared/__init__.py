"""insightloop's domain library: everything the Functions handlers and the CLI share.

No ``azure.functions`` import lives here, so it runs and tests offline.
"""

from shared.models import FeedbackRecord, IngestReport, QuarantinedRow, make_record_id
from shared.pipeline import EventMessage, IngestPipeline, get_pipeline
from shared.settings import Settings, get_settings

__all__ = [
    "EventMessage",
    "FeedbackRecord",
    "IngestPipeline",
    "IngestReport",
    "QuarantinedRow",
    "Settings",
    "get_pipeline",
    "get_settings",
    "make_record_id",
]
