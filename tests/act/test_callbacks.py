"""Callbacks: Jira webhooks, Slack actions and review decisions, called like the worker does.

Requests carry raw bodies and headers signed the way Jira and Slack sign them (computed
here, independently of ``shared.act.callbacks``); events land in a LocalStorage.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
import orjson
import pytest

from functions import callbacks
from shared.act.callbacks import (
    CallbackRefusedError,
    CallbackService,
    get_callbacks,
    slack_action_name,
    verify_timestamped_signature,
)
from shared.decide.classification import Classification, ThemeClaim
from shared.errors import TransientError
from shared.models import FeedbackRecord
from shared.settings import Settings, get_settings
from shared.storage import LocalStorage

JIRA_SECRET = "jira-webhook-secret-for-tests"  # noqa: S105 - a test value
SLACK_SECRET = "slack-signing-secret-for-tests"  # noqa: S105
REVIEW_SECRET = "review-signing-secret-for-tests"  # noqa: S105
WRONG_SECRET = "a-guessed-secret"  # noqa: S105
INSIGHT = "0123456789abcdef0123456789abcdef"
RECORD = "fedcba9876543210fedcba9876543210"
TEXT = "The strap broke after a week and the parcel came late."


@pytest.fixture
def app_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """App settings as the host passes them: local storage of the test, three secrets."""
    monkeypatch.setenv("INSIGHTLOOP_STORAGE_BACKEND", "local")
    monkeypatch.setenv("INSIGHTLOOP_LOCAL_STORAGE_ROOT", str(settings.local_storage_root))
    monkeypatch.setenv("INSIGHTLOOP_CALLBACKS_JIRA_WEBHOOK_SECRET", JIRA_SECRET)
    monkeypatch.setenv("INSIGHTLOOP_CALLBACKS_SLACK_SIGNING_SECRET", SLACK_SECRET)
    monkeypatch.setenv("INSIGHTLOOP_CALLBACKS_REVIEW_SIGNING_SECRET", REVIEW_SECRET)
    yield from _fresh()


def _fresh() -> Iterator[Settings]:
    get_settings.cache_clear()
    get_callbacks.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    get_callbacks.cache_clear()


def events(storage: LocalStorage) -> list[dict]:
    return [
        orjson.loads(storage.read("landing", path)[0])  # type: ignore[index]
        for path in storage.list("landing", "routing_events/")
    ]


def response_json(response: func.HttpResponse) -> dict:
    return orjson.loads(response.get_body())


# ------------------------------------------------------------------ registration


@pytest.fixture(scope="module")
def registered() -> dict:
    app = func.FunctionApp()
    app.register_functions(callbacks.bp)
    return {fn.get_function_name(): fn for fn in app.get_functions()}


@pytest.mark.parametrize(
    ("name", "route"),
    [
        ("receive_jira_webhook", "callbacks/jira"),
        ("receive_slack_action", "callbacks/slack"),
        ("review_classification", "review"),
    ],
)
def test_each_callback_is_a_post_route_behind_a_function_key(
    registered: dict, name: str, route: str
) -> None:
    trigger, output = [b.get_dict_repr() for b in registered[name].get_bindings()]
    assert trigger["type"] == "httpTrigger" and trigger["route"] == route
    assert [str(m.value) for m in trigger["methods"]] == ["POST"]
    assert str(trigger["authLevel"].value) == "function"
    assert output["type"] == "http"
    assert sorted(registered) == [
        "receive_jira_webhook",
        "receive_slack_action",
        "review_classification",
    ]


# ------------------------------------------------------------------ Jira


def jira_payload(
    *, status: str = "Done", category: str | None = "done", label: str = INSIGHT
) -> dict[str, Any]:
    return {
        "timestamp": 1767609000000,
        "webhookEvent": "jira:issue_updated",
        "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Alex"},
        "issue": {
            "id": "10042",
            "key": "OPS-12",
            "fields": {
                "status": {
                    "name": status,
                    **({"statusCategory": {"key": category}} if category else {}),
                },
                "resolution": {"name": "Done"} if category == "done" else None,
                "resolutiondate": "2026-01-05T10:30:00.000+0000",
                "labels": ["customer-feedback", f"insightloop-{label}"],
                "description": "Customers say the strap broke.",
            },
        },
        "changelog": {
            "id": "20077",
            "items": [{"field": "status", "fromString": "In Progress", "toString": status}],
        },
    }


def jira_request(
    payload: dict | bytes,
    *,
    identifier: str = "4f2a-delivery-1",
    secret: str = JIRA_SECRET,
    signature: str | None = None,
) -> func.HttpRequest:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Atlassian-Webhook-Identifier": identifier,
        "X-Hub-Signature": signature if signature is not None else f"sha256={digest}",
    }
    return func.HttpRequest("POST", "/api/callbacks/jira", headers=headers, body=body)


def test_a_signed_done_transition_lands_one_fix_recorded_event(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    response = callbacks.receive_jira_webhook(jira_request(jira_payload()))

    assert response.status_code == 202
    assert response_json(response)["status"] == "recorded"
    (event,) = events(local_storage)
    assert event["kind"] == "fix_recorded" and event["source"] == "jira"
    assert event["action"] == "resolved" and event["insight_key"] == INSIGHT
    assert event["occurred_at"] == "2026-01-05T10:30:00Z"
    assert event["actor"] == "5b10ac8d82e05b22cc7d4ef5"
    assert event["external_ids"]["issue_key"] == "OPS-12"
    assert event["external_ids"]["webhook_identifier"] == "4f2a-delivery-1"
    (path,) = local_storage.list("landing", "routing_events/")
    assert path.startswith("routing_events/ingest_date=")
    assert path.endswith(f"/fix_recorded-{event['event_id']}.jsonl")
    assert "strap" not in json.dumps(event)  # issue text never lands


def test_a_retried_jira_delivery_is_a_202_no_op(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    first = callbacks.receive_jira_webhook(jira_request(jira_payload()))
    again = callbacks.receive_jira_webhook(jira_request(jira_payload()))

    assert (first.status_code, again.status_code) == (202, 202)
    assert response_json(again)["status"] == "duplicate"
    assert len(events(local_storage)) == 1


def test_deliveries_without_an_identifier_dedupe_on_the_issue_change(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    # A Jira Automation web request sends no X-Atlassian-Webhook-Identifier.
    for _ in range(2):
        request = jira_request(jira_payload(), identifier="")
        assert callbacks.receive_jira_webhook(request).status_code == 202

    (event,) = events(local_storage)
    assert event["idempotency_key"] == "change:10042:20077"


def test_an_identifier_too_long_for_the_contract_is_400(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    response = callbacks.receive_jira_webhook(jira_request(jira_payload(), identifier="x" * 500))

    assert response.status_code == 400
    assert response_json(response)["error"].startswith("not a jira event: idempotency_key")
    assert events(local_storage) == []


@pytest.mark.parametrize(
    "signature",
    ["sha256=" + "0" * 64, "", "sha1=abc", "sha256=" + "é" * 64],
    ids=["forged", "missing", "other-scheme", "non-ascii"],
)
def test_a_jira_delivery_with_a_bad_signature_is_401_and_lands_nothing(
    app_settings: Settings, local_storage: LocalStorage, signature: str
) -> None:
    response = callbacks.receive_jira_webhook(jira_request(jira_payload(), signature=signature))

    assert response.status_code == 401
    assert response_json(response) == {"error": "invalid signature"}
    assert events(local_storage) == []


def test_a_jira_delivery_signed_with_another_secret_is_401(app_settings: Settings) -> None:
    request = jira_request(jira_payload(), secret=WRONG_SECRET)
    assert callbacks.receive_jira_webhook(request).status_code == 401


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (jira_payload(status="In Review", category="indeterminate"), "not a done status"),
        (jira_payload(label="not-a-key"), "not an insightloop issue"),
        ({**jira_payload(), "changelog": {"id": "1", "items": []}}, "no status transition"),
        ({"webhookEvent": "sprint_started"}, "no issue in the payload"),
    ],
    ids=["not-done", "no-label", "no-transition", "no-issue"],
)
def test_jira_deliveries_that_record_no_fix_are_ignored_with_202(
    app_settings: Settings, local_storage: LocalStorage, payload: dict, reason: str
) -> None:
    response = callbacks.receive_jira_webhook(jira_request(payload))

    assert response.status_code == 202
    body = response_json(response)
    assert body["status"] == "ignored" and body["reason"].startswith(reason)
    assert events(local_storage) == []


def test_a_done_status_without_a_category_is_read_from_the_changelog(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    response = callbacks.receive_jira_webhook(
        jira_request(jira_payload(status="Resolved", category=None))
    )
    assert response_json(response)["status"] == "recorded"
    assert len(events(local_storage)) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"issue": {"key": "OPS-1"', "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'{"issue": {"fields": {"labels": "x"}}}', "not a Jira webhook: issue.fields.labels"),
    ],
    ids=["truncated", "array", "wrong-type"],
)
def test_a_signed_malformed_jira_body_is_400_with_a_short_json_error(
    app_settings: Settings, body: bytes, error: str
) -> None:
    response = callbacks.receive_jira_webhook(jira_request(body))

    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response_json(response)["error"].startswith(error)


def test_an_unset_jira_secret_answers_503_unless_signatures_are_optional(
    settings: Settings, local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INSIGHTLOOP_LOCAL_STORAGE_ROOT", str(settings.local_storage_root))
    monkeypatch.delenv("INSIGHTLOOP_CALLBACKS_JIRA_WEBHOOK_SECRET", raising=False)
    unsigned = jira_request(jira_payload(), signature="")
    for _ in _fresh():
        response = callbacks.receive_jira_webhook(unsigned)
        assert response.status_code == 503
        assert response_json(response) == {"error": "not configured"}
    monkeypatch.setenv("INSIGHTLOOP_CALLBACKS_REQUIRE_SIGNATURES", "false")
    for _ in _fresh():
        assert callbacks.receive_jira_webhook(unsigned).status_code == 202
    assert len(events(local_storage)) == 1


# ------------------------------------------------------------------ Slack


def slack_payload(
    action_id: str = "insightloop_confirm",
    value: str = INSIGHT,
    *,
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T9TK3CUKW", "domain": "example"},
        "user": {"id": "UA8RXUSPL", "username": "jtorrance", "team_id": "T9TK3CUKW"},
        "api_app_id": "AABA1ABCD",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1548261231.000200", "channel_id": "C1"},
        "trigger_id": trigger_id,
        "channel": {"id": "C1", "name": "insights"},
        "response_url": "https://hooks.slack.com/actions/T9TK3CUKW/1/secret",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "insightloop_actions",
                "type": "button",
                "value": value,
                "action_ts": "1548426417.840180",
            }
        ],
        **extra,
    }


def slack_request(
    payload: dict | bytes,
    *,
    timestamp: int | None = None,
    secret: str = SLACK_SECRET,
    signature: str | None = None,
    retry: int | None = None,
) -> func.HttpRequest:
    body = (
        payload
        if isinstance(payload, bytes)
        else urlencode({"payload": json.dumps(payload)}).encode()
    )
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature
        or "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest(),
    }
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return func.HttpRequest("POST", "/api/callbacks/slack", headers=headers, body=body)


def test_a_signed_slack_confirm_lands_one_insight_decision(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    started = time.perf_counter()
    response = callbacks.receive_slack_action(slack_request(slack_payload()))

    assert time.perf_counter() - started < 1.0  # far inside Slack's 3 s
    assert response.status_code == 200 and response.get_body() == b""
    (event,) = events(local_storage)
    assert event["kind"] == "insight_decision" and event["source"] == "slack"
    assert event["action"] == "confirm" and event["insight_key"] == INSIGHT
    assert event["actor"] == "UA8RXUSPL" and event["new_owner"] is None
    assert event["external_ids"]["trigger_id"].startswith("13345224609")
    assert event["occurred_at"].startswith("2019-01-25T14:26:57")
    assert "hooks.slack.com" not in json.dumps(event)  # the response_url is a capability


def test_a_slack_retry_is_a_no_op(app_settings: Settings, local_storage: LocalStorage) -> None:
    callbacks.receive_slack_action(slack_request(slack_payload()))
    # Slack re-signs a retry with a fresh timestamp and says which attempt it is.
    again = callbacks.receive_slack_action(
        slack_request(slack_payload(), timestamp=int(time.time()) + 2, retry=1)
    )

    assert again.status_code == 200
    assert len(events(local_storage)) == 1


@pytest.mark.parametrize("skew", [-301, -3600, 301], ids=["stale", "an-hour-old", "future"])
def test_a_slack_timestamp_outside_five_minutes_is_401(
    app_settings: Settings, local_storage: LocalStorage, skew: int
) -> None:
    # Correctly signed, but replayed: the timestamp is part of what is signed.
    response = callbacks.receive_slack_action(
        slack_request(slack_payload(), timestamp=int(time.time()) + skew)
    )

    assert response.status_code == 401
    assert response_json(response) == {"error": "request timestamp outside the replay window"}
    assert events(local_storage) == []


@pytest.mark.parametrize(
    "request_kwargs",
    [{"secret": WRONG_SECRET}, {"signature": "v0=" + "a" * 64}, {"timestamp": "soon"}],  # type: ignore[dict-item]
    ids=["other-secret", "forged-digest", "bad-timestamp"],
)
def test_a_forged_slack_request_is_401(
    app_settings: Settings, local_storage: LocalStorage, request_kwargs: dict
) -> None:
    response = callbacks.receive_slack_action(slack_request(slack_payload(), **request_kwargs))
    assert response.status_code == 401
    assert events(local_storage) == []


def test_a_slack_reassign_carries_the_new_owner_team(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    by_value = slack_payload("insightloop_reassign", f"{INSIGHT}:logistics", trigger_id="t-1")
    by_select = slack_payload(
        "insightloop_reassign",
        trigger_id="t-2",
        # routing's message: an "insightloop_owner" select beside the Reassign button
        state={
            "values": {
                "insightloop_actions": {
                    "insightloop_owner": {
                        "type": "static_select",
                        "selected_option": {"value": "billing"},
                    }
                }
            }
        },
    )
    for payload in (by_value, by_select):
        assert callbacks.receive_slack_action(slack_request(payload)).status_code == 200

    owners = sorted(e["new_owner"] for e in events(local_storage))
    assert owners == ["billing", "logistics"]
    assert {e["action"] for e in events(local_storage)} == {"reassign"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (urlencode({"payload": "{not json"}).encode(), "payload is not JSON"),
        (b"token=abc&text=hi", "body has no payload field"),
        (b"\xff\xfe", "body is not a form"),
        (urlencode({"payload": json.dumps({"actions": []})}).encode(), "not a Slack interaction"),
        (
            urlencode({"payload": json.dumps(slack_payload(value="OPS-12"))}).encode(),
            "the action value is not an insight key",
        ),
        (
            urlencode({"payload": json.dumps(slack_payload("insightloop_reassign"))}).encode(),
            "reassign needs the new owner team",
        ),
    ],
    ids=["not-json", "no-payload", "not-utf8", "no-type", "bad-key", "reassign-no-owner"],
)
def test_a_signed_malformed_slack_body_is_400(
    app_settings: Settings, local_storage: LocalStorage, body: bytes, error: str
) -> None:
    response = callbacks.receive_slack_action(slack_request(body))

    assert response.status_code == 400
    assert response_json(response)["error"].startswith(error)
    assert events(local_storage) == []


def test_other_slack_interactions_are_acknowledged_and_land_nothing(
    app_settings: Settings, local_storage: LocalStorage
) -> None:
    link_button = slack_payload("open_in_jira", "https://jira.example/OPS-12")
    modal = {**slack_payload(), "type": "view_submission"}
    for payload in (link_button, modal):
        assert callbacks.receive_slack_action(slack_request(payload)).status_code == 200
    assert events(local_storage) == []


@pytest.mark.parametrize(
    ("action_id", "name"),
    [
        ("insightloop_confirm", "confirm"),
        ("insightloop_reject", "reject"),
        ("insightloop_reassign", "reassign"),
        ("insightloop_owner", None),  # choosing a team in the select is not the decision
        ("insightloop.reject", "reject"),
        ("reassign-owner", "reassign"),
        ("open_in_jira", None),
        ("confirm_or_reject", None),
    ],
)
def test_slack_action_names_come_from_one_word_of_the_action_id(
    action_id: str, name: str | None
) -> None:
    assert slack_action_name(action_id) == name


def test_the_timestamped_signature_scheme_is_slacks_v0() -> None:
    # Slack's documented example: this secret, timestamp and body give this signature.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    verify_timestamped_signature(
        b"8f742231b10e8888abcd99yyyzzz85a5",
        body,
        "1531420618",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        now=datetime.fromtimestamp(1531420618 + 10, UTC),
        window_seconds=300,
    )
    with pytest.raises(CallbackRefusedError):
        verify_timestamped_signature(
            b"8f742231b10e8888abcd99yyyzzz85a5",
            body + b"&x=1",
            "1531420618",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            now=datetime.fromtimestamp(1531420618, UTC),
            window_seconds=300,
        )


# ------------------------------------------------------------------ review


@pytest.fixture
def landed(local_storage: LocalStorage) -> Classification:
    """A low-confidence classification in the review queue and its masked text."""
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    record = FeedbackRecord(
        record_id=RECORD,
        source="reviews",
        channel="review",
        created_at=now,
        received_at=now,
        text=TEXT,
    )
    start = TEXT.index("strap broke")
    current = Classification(
        record_id=RECORD,
        themes=[
            ThemeClaim(
                theme="product_quality",
                evidence="strap broke",
                start=start,
                end=start + len("strap broke"),
                method="local",
                sentiment="negative",
            )
        ],
        sentiment="negative",
        urgency="medium",
        recommended_owner="product",
        confidence=0.42,
        method="local",
        taxonomy_version="2026-11-27",
        needs_review=True,
        review_reasons=["low_confidence"],
        classified_at=now,
    )
    day = "ingest_date=2026-01-05"
    local_storage.write("landing", f"feedback/{day}/r1.jsonl", record.model_dump_json().encode())
    local_storage.write("landing", f"review/{day}/r1.jsonl", current.model_dump_json().encode())
    return current


def review_request(
    decision: dict | bytes, *, secret: str = REVIEW_SECRET, timestamp: int | None = None
) -> func.HttpRequest:
    body = decision if isinstance(decision, bytes) else json.dumps(decision).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    headers = {
        "Content-Type": "application/json",
        "X-Insightloop-Request-Timestamp": stamp,
        "X-Insightloop-Signature": "v0="
        + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest(),
    }
    return func.HttpRequest("POST", "/api/review", headers=headers, body=body)


def human_rows(storage: LocalStorage) -> tuple[list[dict], list[dict]]:
    def rows(dataset: str) -> list[dict]:
        return [
            orjson.loads(line)
            for path in storage.list("landing", f"{dataset}/")
            for line in storage.read("landing", path)[0].splitlines()  # type: ignore[index]
            if line.strip()
        ]

    classified = [r for r in rows("classified") if r["method"] == "human"]
    audit = [r for r in rows("audit") if r.get("kind") == "human_override"]
    return classified, audit


def test_approve_confirms_the_classification_as_human_with_an_audit_row(
    app_settings: Settings, local_storage: LocalStorage, landed: Classification
) -> None:
    response = callbacks.review_classification(
        review_request({"record_id": RECORD, "action": "approve", "reviewer": "agent-17"})
    )

    assert response.status_code == 202
    (after,), (audit,) = human_rows(local_storage)
    assert [t["theme"] for t in after["themes"]] == ["product_quality"]
    assert after["themes"][0]["evidence"] == "strap broke"
    assert not after["needs_review"] and after["reviewed_by"] == "agent-17"
    assert audit["before"]["method"] == "local" and audit["after"]["method"] == "human"
    (event,) = events(local_storage)
    assert (event["kind"], event["source"], event["action"]) == (
        "review_decision",
        "review",
        "approve",
    )
    assert event["record_id"] == RECORD and event["actor"] == "agent-17"
    assert event["external_ids"]["classified_path"].startswith("classified/")


def test_correct_applies_the_override_and_the_audit_keeps_before_and_after(
    app_settings: Settings, local_storage: LocalStorage, landed: Classification
) -> None:
    decision = {
        "record_id": RECORD,
        "action": "correct",
        "reviewer": "lead-2",
        "reason": "late parcel, not quality",
        "themes": [{"theme": "shipping", "evidence": "the parcel came late"}],
        "urgency": "high",
    }
    response = callbacks.review_classification(review_request(decision))

    assert response.status_code == 202
    (after,), (audit,) = human_rows(local_storage)
    assert [t["theme"] for t in after["themes"]] == ["shipping"]
    assert after["recommended_owner"] == "logistics" and after["urgency"] == "high"
    assert audit["reason"] == "late parcel, not quality"
    assert [t["theme"] for t in audit["before"]["themes"]] == ["product_quality"]
    assert [e["action"] for e in events(local_storage)] == ["correct"]


def test_reject_refiles_the_record_under_the_fallback_theme(
    app_settings: Settings, local_storage: LocalStorage, landed: Classification
) -> None:
    decision = {"record_id": RECORD, "action": "reject", "reviewer": "agent-17", "reason": "spam"}
    response = callbacks.review_classification(review_request(decision))

    assert response.status_code == 202
    (after,), (audit,) = human_rows(local_storage)
    (claim,) = after["themes"]
    assert claim["theme"] == "other" and claim["method"] == "human"
    assert TEXT[claim["start"] : claim["end"]] == claim["evidence"]
    assert not after["needs_review"] and after["confidence"] == 1.0
    assert audit["before"]["themes"][0]["theme"] == "product_quality"
    assert [e["action"] for e in events(local_storage)] == ["reject"]


def test_a_correction_quoting_words_not_in_the_text_is_400_with_the_reason(
    app_settings: Settings, local_storage: LocalStorage, landed: Classification
) -> None:
    decision = {
        "record_id": RECORD,
        "action": "correct",
        "reviewer": "lead-2",
        "themes": [{"theme": "shipping", "evidence": "never arrived"}],
    }
    response = callbacks.review_classification(review_request(decision))

    assert response.status_code == 400
    assert response_json(response) == {
        "error": "theme 'shipping': the evidence is not a quote of the text"
    }
    assert human_rows(local_storage) == ([], [])
    assert events(local_storage) == []


@pytest.mark.parametrize(
    ("decision", "status", "error"),
    [
        ({"record_id": "f" * 32, "action": "approve", "reviewer": "a"}, 404, "no classification"),
        ({"record_id": RECORD, "action": "correct", "reviewer": "a"}, 400, "not a review"),
        (
            {"record_id": RECORD, "action": "approve", "reviewer": "a", "urgency": "low"},
            400,
            "not a review decision: body: Value error, approve takes no urgency",
        ),
        ({"record_id": RECORD, "action": "delete", "reviewer": "a"}, 400, "not a review"),
        ({"record_id": RECORD, "action": "approve"}, 400, "not a review decision: reviewer"),
        (
            {"record_id": RECORD, "action": "correct", "reviewer": "a", "owner": "legal_team"},
            400,
            "owner 'legal_team' is not a team of the taxonomy",
        ),
    ],
    ids=[
        "unknown-record",
        "correct-nothing",
        "approve-with-fields",
        "bad-action",
        "no-reviewer",
        "unknown-owner",
    ],
)
def test_review_decisions_that_cannot_apply_say_why(
    app_settings: Settings,
    local_storage: LocalStorage,
    landed: Classification,
    decision: dict,
    status: int,
    error: str,
) -> None:
    response = callbacks.review_classification(review_request(decision))

    assert response.status_code == status
    assert response_json(response)["error"].startswith(error)
    assert events(local_storage) == []


def test_a_repeated_decision_id_lands_one_override_and_one_event(
    app_settings: Settings, local_storage: LocalStorage, landed: Classification
) -> None:
    decision = {
        "record_id": RECORD,
        "action": "approve",
        "reviewer": "agent-17",
        "decision_id": "ui-7f3a9c2e",
    }
    for _ in range(2):
        assert callbacks.review_classification(review_request(decision)).status_code == 202

    classified, audit = human_rows(local_storage)
    assert (len(classified), len(audit), len(events(local_storage))) == (1, 1, 1)


def test_a_review_with_a_bad_or_stale_signature_is_401(
    app_settings: Settings, local_storage: LocalStorage, landed: Classification
) -> None:
    decision = {"record_id": RECORD, "action": "approve", "reviewer": "agent-17"}
    forged = review_request(decision, secret=WRONG_SECRET)
    stale = review_request(decision, timestamp=int(time.time()) - 600)
    for request in (forged, stale):
        assert callbacks.review_classification(request).status_code == 401
    assert human_rows(local_storage) == ([], [])


# ------------------------------------------------------------------ all routes


@pytest.mark.parametrize(
    ("handler", "build"),
    [
        (callbacks.receive_jira_webhook, jira_request),
        (callbacks.receive_slack_action, slack_request),
        (callbacks.review_classification, review_request),
    ],
    ids=["jira", "slack", "review"],
)
def test_an_oversized_body_is_413_before_anything_else(
    app_settings: Settings, local_storage: LocalStorage, handler: Any, build: Any
) -> None:
    body = b"x" * (app_settings.callbacks_max_body_bytes + 1)
    response = handler(build(body))

    assert response.status_code == 413
    assert response_json(response)["error"].startswith("body larger than")


def test_failures_answer_without_internal_detail(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError(f"boom at /srv/secret/path with {JIRA_SECRET}")

    monkeypatch.setattr(CallbackService, "jira", broken)
    response = callbacks.receive_jira_webhook(jira_request(jira_payload()))
    assert response.status_code == 500
    assert response_json(response) == {"error": "internal error"}

    def storage_down(*_: Any) -> Any:
        raise TransientError("storage unreachable: connection refused to 10.0.0.4")

    monkeypatch.setattr(CallbackService, "jira", storage_down)
    response = callbacks.receive_jira_webhook(jira_request(jira_payload()))
    assert response.status_code == 503
    assert response_json(response) == {"error": "temporarily unavailable"}


def test_secrets_never_reach_the_logs(
    app_settings: Settings, local_storage: LocalStorage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    callbacks.receive_jira_webhook(jira_request(jira_payload()))
    callbacks.receive_jira_webhook(jira_request(jira_payload(), secret=WRONG_SECRET))
    callbacks.receive_slack_action(slack_request(slack_payload()))

    logged = caplog.text
    assert logged  # the handlers do log
    for secret in (JIRA_SECRET, SLACK_SECRET, "strap"):
        assert secret not in logged
