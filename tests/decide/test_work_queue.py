"""Sending classify work items: the SDK's message batches, a fake sender at the seam.

No Service Bus emulator runs here; the sender's own logic (one message per item, the
item id as message id, never text, a new batch when one is full, errors as transient)
is checked against the real ``azure-servicebus`` message and batch types.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from azure.servicebus import ServiceBusMessageBatch
from azure.servicebus.exceptions import ServiceBusConnectionError

from shared.decide.classify_stage import work_items
from shared.decide.work_queue import ServiceBusWorkSender
from shared.errors import ConfigError, TransientError
from shared.settings import Settings


class FakeSender:
    def __init__(self, max_bytes: int, fail: bool = False) -> None:
        self.max_bytes = max_bytes
        self.fail = fail
        self.sent: list[list[Any]] = []

    def __enter__(self) -> FakeSender:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def create_message_batch(self) -> ServiceBusMessageBatch:
        return ServiceBusMessageBatch(max_size_in_bytes=self.max_bytes)

    def send_messages(self, batch: ServiceBusMessageBatch) -> None:
        if self.fail:
            raise ServiceBusConnectionError(message="namespace unreachable")
        self.sent.append(list(batch._messages))


def sender_with(monkeypatch: pytest.MonkeyPatch, fake: FakeSender) -> ServiceBusWorkSender:
    sender = ServiceBusWorkSender("ns.servicebus.windows.net", "classify")
    monkeypatch.setattr(sender, "_sender", lambda: fake)
    return sender


ITEMS = work_items(
    "feedback/ingest_date=2026-12-07/run-00001.jsonl",
    1_000,
    run_id="run",
    ingest_date="2026-12-07",
    per_item=100,
)


def test_one_message_per_item_with_its_id_split_into_batches_that_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeSender(max_bytes=1_000)
    sender_with(monkeypatch, fake).send(ITEMS)
    messages = [message for batch in fake.sent for message in batch]
    assert len(fake.sent) > 1  # the batch filled up: a second one was started
    assert [m.message_id for m in messages] == [item.item_id for item in ITEMS]
    bodies = [orjson.loads(b"".join(m.body)) for m in messages]
    assert [(b["start"], b["stop"]) for b in bodies] == [(i.start, i.stop) for i in ITEMS]
    assert all(
        set(b) == {"schema_version", "path", "start", "stop", "run_id", "ingest_date"}
        for b in bodies
    )


def test_an_unreachable_namespace_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TransientError, match="classify queue unavailable"):
        sender_with(monkeypatch, FakeSender(max_bytes=100_000, fail=True)).send(ITEMS)


def test_no_namespace_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="INSIGHTLOOP_SERVICE_BUS_NAMESPACE"):
        ServiceBusWorkSender.from_settings(Settings())
