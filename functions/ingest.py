"""Ingest triggers: export files dropped in the inbox, and feedback events on Service Bus.

Both decode their binding and hand over to the same ``shared`` pipeline. Permanent
input problems are quarantined inside the pipeline and the function returns; transient
ones (storage unavailable, a ledger race that kept losing) raise, so the runtime retries
the blob and Service Bus redelivers and eventually dead-letters the messages.
"""

from __future__ import annotations

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from shared.ingest import split_inbox_path
from shared.pipeline import EventMessage, get_pipeline
from shared.storage import open_blob
from shared.telemetry import record_ingest

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("ingest_blob")
@bp.blob_trigger(
    arg_name="client",
    path="%INSIGHTLOOP_INBOX_CONTAINER%/{source}/{name}",
    connection="InboxStorage",
    source=func.BlobSource.EVENT_GRID,
)
def ingest_blob(client: blob.BlobClient) -> None:
    """Fires on a new blob at ``inbox/<source>/<name>``; lands its records and a report.

    The SDK-type binding hands over a BlobClient, so the export is streamed in chunks
    instead of being loaded whole into the worker's memory.
    """
    source, name = split_inbox_path(client.blob_name)
    report = get_pipeline().ingest_file(source, name, lambda: open_blob(client))
    record_ingest(report, trigger="blob")  # one log line of counts, and the metrics


@bp.function_name("ingest_events")
@bp.service_bus_queue_trigger(
    arg_name="messages",
    queue_name="%INSIGHTLOOP_FEEDBACK_QUEUE%",
    connection="ServiceBusConnection",
    cardinality=func.Cardinality.MANY,
)
def ingest_events(messages: list[func.ServiceBusMessage]) -> None:
    """Fires on a batch of feedback events; each body is one record or a JSON array."""
    events = [
        EventMessage(
            body=message.get_body(),
            message_id=message.message_id,
            properties={
                **(message.user_properties or {}),
                **(message.application_properties or {}),
            },
        )
        for message in messages
    ]
    for report in get_pipeline().ingest_messages(events):
        record_ingest(report, trigger="servicebus")
