"""The demo's owner side: signed requests through the real callback service, on time."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from shared.act.callbacks.payload import CallbackRefusedError
from shared.demo import OwnerDesk, load_timeline, routed_insights, with_demo_secrets
from shared.settings import PROJECT_ROOT, Settings
from shared.storage import LocalStorage

TIMELINE = load_timeline(PROJECT_ROOT / "samples")


def _routed(storage: LocalStorage) -> None:
    events = []
    for number, ref in enumerate((TIMELINE.expected.worked, TIMELINE.expected.failed)):
        key = f"{number:032x}"
        for destination in ("jira", "slack"):
            events.append(
                {
                    "kind": "routing_action",
                    "action": "created",
                    "insight_key": key,
                    **ref.model_dump(),
                    "destination": destination,
                    "external_id": f"outbox/{destination}/{key}",
                }
            )
    data = b"\n".join(orjson.dumps(e) for e in events) + b"\n"
    storage.write("landing", "routing_events/ingest_date=2026-10-26/routing.jsonl", data)


def test_the_owners_act_through_signed_callbacks_at_the_timelines_moments(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    settings = with_demo_secrets(Settings(local_storage_root=tmp_path))
    _routed(storage)
    routed = routed_insights(storage, settings)
    assert set(routed) == {TIMELINE.expected.worked, TIMELINE.expected.failed}
    actions = [a for a in TIMELINE.owners if a.via != "review"]  # no landed record here
    played = OwnerDesk(storage, settings).play(actions, routed)
    assert [p.outcome.status for p in played] == ["recorded"] * len(actions)
    landed = [
        orjson.loads(line)
        for path in storage.list("landing", "routing_events/")
        if "routing.jsonl" not in path
        for line in storage.read("landing", path)[0].splitlines()  # type: ignore[index]
    ]
    by_action = {(e["kind"], e["action"]): e for e in landed}
    fix = by_action[("fix_recorded", "resolved")]
    assert fix["occurred_at"].startswith("2026-10-2")  # Jira's resolutiondate, not today
    reassign = by_action[("insight_decision", "reassign")]
    assert reassign["new_owner"] == "merchandising"
    assert reassign["insight_key"] == routed[TIMELINE.expected.failed].insight_key
    # A redelivery of the same requests lands nothing new.
    again = OwnerDesk(storage, settings).play(actions, routed)
    assert {p.outcome.status for p in again} == {"duplicate"}


def test_a_request_signed_with_another_secret_is_refused(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    _routed(storage)
    settings = with_demo_secrets(Settings(local_storage_root=tmp_path))
    desk = OwnerDesk(storage, settings)
    desk._secret = lambda name: b"not-the-secret"  # type: ignore[method-assign]
    jira = next(a for a in TIMELINE.owners if a.via == "jira")
    with pytest.raises(CallbackRefusedError, match="invalid signature"):
        desk.play([jira], routed_insights(storage, settings))
    assert not list(storage.list("ledger", "callbacks/"))  # nothing recorded
