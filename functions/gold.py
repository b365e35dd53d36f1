"""Gold trigger: a timer that starts the Databricks Gold job once per scheduled slot.

The slot's run record lands at ``landing/gold_runs/``. Configuration problems (no host or
job id, refused credentials, an unknown job) are recorded and logged and the function
returns, so the runtime does not retry what cannot work; throttling and outages that
outlast the SDK's retries raise, and the retry policy fires the same slot again (same
idempotency token, so still at most one run).
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.errors import ConfigError
from shared.gold import scheduled_slot, start_gold_job

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("refresh_gold")
@bp.timer_trigger(
    arg_name="timer",
    schedule="%INSIGHTLOOP_GOLD_SCHEDULE%",
    run_on_startup=False,
    use_monitor=True,
)
@bp.retry(
    strategy="exponential_backoff",
    max_retry_count="3",
    minimum_interval="00:00:30",
    maximum_interval="00:05:00",
)
def refresh_gold(timer: func.TimerRequest) -> None:
    """Fires on ``INSIGHTLOOP_GOLD_SCHEDULE``; starts the Gold job unless a run is active.

    Returns without waiting for the run; the run id is in the slot's run record.
    """
    slot = scheduled_slot(timer.schedule_status)
    try:
        start = start_gold_job(slot)
    except ConfigError as exc:
        logger.error("refresh_gold slot=%s: not started: %s", slot.isoformat(), exc)
        return
    record = start.record
    logger.info(
        "refresh_gold slot=%s job=%d outcome=%s run=%s past_due=%s recorded_before=%s",
        slot.isoformat(),
        record.job_id,
        record.outcome,
        record.run_id,
        timer.past_due,
        start.already_recorded,
    )
