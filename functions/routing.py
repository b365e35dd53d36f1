"""Routing trigger: an insight export lands, each insight goes to its owner's destinations.

Sink outages and refusals are recorded per destination in the routing ledger (pending or
failed) and retried by the next export of the insight, so they do not fail the function.
A broken routing config is logged and the function returns (the next export routes the
same insights again once it is fixed). Storage failures, and insights another invocation
is still routing, raise: the runtime retries the blob, and the ledger makes that safe.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.act import route_export
from shared.errors import ConfigError, TransientError
from shared.telemetry import record_routing

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("route_insights")
@bp.blob_trigger(
    arg_name="export",
    path="%INSIGHTLOOP_EXPORTS_CONTAINER%/insights/{name}",
    connection="ExportsStorage",
    source=func.BlobSource.EVENT_GRID,
)
def route_insights(export: func.InputStream) -> None:
    """Fires on a new ``exports/insights/<run_id>.json``; creates or updates tickets and
    messages per insight, queues unsure ones for review, and lands routing events.

    An export is small (insights x up to 10 quotes), so it is read whole.
    """
    name = export.name or ""
    try:
        report = route_export(export.read(), name)
    except ConfigError as exc:
        logger.error("route_insights %s: not routed: %s", name, exc)
        return
    record_routing(report)
    if report.rejected:
        logger.error("route_insights %s: quarantined: %s", name, report.rejected)
        return
    logger.info(
        "route_insights %s run=%s: insights=%d routed=%d review=%d unchanged=%d created=%d "
        "updated=%d pending=%d failed=%d busy=%d llm_summaries=%d dropped_sentences=%d",
        name,
        report.run_id,
        report.insights,
        report.routed,
        report.in_review,
        report.unchanged,
        report.created,
        report.updated,
        report.pending,
        report.failed,
        report.busy,
        report.llm_summaries,
        report.dropped_sentences,
    )
    if report.busy:
        raise TransientError(
            f"{report.busy} insight(s) of {name} are being routed by another invocation"
        )
