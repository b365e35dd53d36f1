"""Classify work items onto the Service Bus queue the ``classify_batches`` function reads.

The Python Service Bus output binding sends one message per invocation, and ingest
queues many, so the sender is the ``azure-servicebus`` SDK with the app's identity
(``DefaultAzureCredential``; ``AZURE_CLIENT_ID`` names the user-assigned one). Each
message is one :class:`~shared.models.ClassifyWorkItem` as JSON (paths and ranges, never
text) with the item id as ``message_id``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from shared.errors import ConfigError, TransientError
from shared.models import ClassifyWorkItem
from shared.settings import Settings

logger = logging.getLogger(__name__)


class ServiceBusWorkSender:
    """Sends work items in as few batches as fit; thread-safe, one client per process."""

    def __init__(self, namespace: str, queue: str) -> None:
        self.namespace = namespace
        self.queue = queue
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceBusWorkSender:
        if not settings.service_bus_namespace:
            raise ConfigError(
                "INSIGHTLOOP_SERVICE_BUS_NAMESPACE is unset: the classify queue has no namespace"
            )
        return cls(settings.service_bus_namespace, settings.classify_queue)

    def _sender(self) -> Any:
        from azure.identity import DefaultAzureCredential
        from azure.servicebus import ServiceBusClient

        with self._lock:
            if self._client is None:
                self._client = ServiceBusClient(self.namespace, DefaultAzureCredential())
            return self._client.get_queue_sender(self.queue)

    def send(self, items: Sequence[ClassifyWorkItem]) -> None:
        if not items:
            return
        from azure.servicebus import ServiceBusMessage
        from azure.servicebus.exceptions import ServiceBusError

        messages = [
            ServiceBusMessage(
                item.model_dump_json(), message_id=item.item_id, content_type="application/json"
            )
            for item in items
        ]
        try:
            with self._sender() as sender:
                batch = sender.create_message_batch()
                for message in messages:
                    try:
                        batch.add_message(message)
                    except ValueError:  # the batch is full: send it, start the next
                        sender.send_messages(batch)
                        batch = sender.create_message_batch()
                        batch.add_message(message)
                sender.send_messages(batch)
        except ServiceBusError as exc:
            raise TransientError(f"classify queue unavailable: {type(exc).__name__}") from None
        logger.info("queued %d classify work item(s)", len(items))


__all__ = ["ServiceBusWorkSender"]
