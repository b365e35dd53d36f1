"""Callback triggers: Jira webhooks, Slack interactivity and review decisions over HTTP.

Each route takes the raw body and headers to ``shared.act.callbacks`` and encodes the result:
202 when accepted (recorded, a duplicate delivery, or ignored), 401 on a bad or stale
signature, 400 on a malformed body, 413 on an oversized one, 404 for an unknown record,
503 when a secret is not configured or storage is down (senders retry). Answers carry a
short JSON error at most, never internal detail. All routes also need a function key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import azure.functions as func
import orjson

from shared.act import (
    CallbackOutcome,
    CallbackRefusedError,
    CallbackService,
    get_callbacks,
)
from shared.errors import ConfigError, TransientError
from shared.telemetry import record_callback

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("receive_jira_webhook")
@bp.route(
    route="callbacks/jira", methods=[func.HttpMethod.POST], auth_level=func.AuthLevel.FUNCTION
)
def receive_jira_webhook(req: func.HttpRequest) -> func.HttpResponse:
    """Fires on ``POST /api/callbacks/jira`` (a Jira webhook); an insight's issue moving to
    done lands a ``fix_recorded`` event in ``landing/routing_events/``."""
    return _answer("jira", req, lambda service: service.jira(req.get_body(), req.headers))


@bp.function_name("receive_slack_action")
@bp.route(
    route="callbacks/slack", methods=[func.HttpMethod.POST], auth_level=func.AuthLevel.FUNCTION
)
def receive_slack_action(req: func.HttpRequest) -> func.HttpResponse:
    """Fires on ``POST /api/callbacks/slack`` (Slack interactivity); Confirm / Reject /
    Reassign on an insight message lands an ``insight_decision`` event.

    Slack retries after 3 seconds, so this only verifies and lands; it answers an empty
    200, as Slack's interactivity contract asks.
    """
    return _answer(
        "slack", req, lambda service: service.slack(req.get_body(), req.headers), echo=False
    )


@bp.function_name("review_classification")
@bp.route(route="review", methods=[func.HttpMethod.POST], auth_level=func.AuthLevel.FUNCTION)
def review_classification(req: func.HttpRequest) -> func.HttpResponse:
    """Fires on ``POST /api/review``; approve / correct / reject lands a human override of
    the record's classification, its audit row and a ``review_decision`` event."""
    return _answer("review", req, lambda service: service.review(req.get_body(), req.headers))


def _answer(
    route: str,
    req: func.HttpRequest,
    handle: Callable[[CallbackService], CallbackOutcome],
    *,
    echo: bool = True,
) -> func.HttpResponse:
    retry = req.headers.get("x-slack-retry-num") or req.headers.get("x-atlassian-webhook-retry")
    try:
        outcome = handle(get_callbacks())
    except CallbackRefusedError as exc:
        logger.warning("callback %s: refused %d: %s", route, exc.status, exc.message)
        record_callback(route, "refused", status_code=exc.status)
        return _json(exc.status, {"error": exc.message})
    except ConfigError as exc:
        logger.error("callback %s: not configured: %s", route, exc)
        record_callback(route, "not_configured", status_code=503)
        return _json(503, {"error": "not configured"})
    except TransientError as exc:
        logger.warning("callback %s: storage unavailable: %s", route, exc)
        record_callback(route, "unavailable", status_code=503)
        return _json(503, {"error": "temporarily unavailable"}, {"Retry-After": "30"})
    except Exception:
        # Logged with its traceback; the sender only learns that it failed.
        logger.exception("callback %s: failed", route)
        record_callback(route, "error", status_code=500)
        return _json(500, {"error": "internal error"})
    event_ids = [event.event_id for event in outcome.events]
    logger.info(
        "callback %s: %s events=%s retry=%s reason=%s",
        route,
        outcome.status,
        ",".join(event_ids) or "-",
        retry or "-",
        outcome.reason or "-",
    )
    record_callback(route, outcome.status, status_code=202 if echo else 200, events=len(event_ids))
    if not echo:
        return func.HttpResponse(status_code=200)
    body: dict = {"status": outcome.status, "events": event_ids}
    if outcome.reason:
        body["reason"] = outcome.reason
    return _json(202, body)


def _json(status: int, body: dict, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        orjson.dumps(body), status_code=status, mimetype="application/json", headers=headers
    )
