"""The classify stage's trigger: one work item per Service Bus message.

The message names a range of a landing file (never text); ``shared.decide.classify_stage``
classifies those records and lands their rows under names derived from the item, so a
redelivery lands nothing twice. On the queue's last delivery a failure sends the
records to review before the message dead-letters.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.decide import (
    ServiceBusWorkSender,
    backfill_from_settings,
    get_classify_stage,
    parse_work_item,
)
from shared.settings import get_settings
from shared.telemetry import record_batch_poll, record_classify_item

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("classify_batches")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name="%INSIGHTLOOP_CLASSIFY_QUEUE%",
    connection="ServiceBusConnection",
)
def classify_batches(message: func.ServiceBusMessage) -> None:
    """Classifies one work item; raises so Service Bus redelivers (then dead-letters)."""
    item = parse_work_item(message.get_body())
    stage = get_classify_stage()
    result = stage.handle(
        item,
        delivery_count=message.delivery_count or 1,
        max_deliveries=get_settings().classify_max_deliveries,
    )
    record_classify_item(result, trigger="servicebus", quota=stage.quota_gauges())


@bp.function_name("poll_classify_batches")
@bp.timer_trigger(arg_name="timer", schedule="%INSIGHTLOOP_CLASSIFY_BATCH_SCHEDULE%")
def poll_classify_batches(timer: func.TimerRequest) -> None:
    """Collects ended Batch API jobs: answers to the cache, their items back on the queue."""
    stage = get_classify_stage()
    settings = get_settings()
    sink = stage.run_items  # without a namespace (a laptop): classified right here
    if settings.service_bus_namespace:
        sink = ServiceBusWorkSender.from_settings(settings).send
    backfill = backfill_from_settings(stage, requeue=sink)
    for result in backfill.poll():
        record_batch_poll(result, model=backfill.model)
