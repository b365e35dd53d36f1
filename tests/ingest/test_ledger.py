"""The idempotency ledger: file claims, record claims in shards, and races between runs."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.ingest.ledger import IdempotencyLedger
from shared.models import make_record_id
from shared.settings import Settings
from shared.storage import BlobStorage, LocalStorage, ObjectStorage
from tests.helpers import IsolatedContainers

CREATED = datetime(2026, 11, 20, tzinfo=UTC)


def _ids(n: int, salt: str = "") -> list[str]:
    return [make_record_id("reviews", f"{salt}{i}") for i in range(n)]


@pytest.fixture(params=["local", pytest.param("blob", marks=pytest.mark.azurite)])
def storage(request: pytest.FixtureRequest) -> ObjectStorage:
    """Each backend; blob tests get containers of their own (see blob_settings)."""
    if request.param == "local":
        return request.getfixturevalue("local_storage")
    return IsolatedContainers(request.getfixturevalue("blob_storage"), uuid.uuid4().hex[:8])


def test_unclaimed_ids_are_unseen_and_claimed_ids_are_not(storage: ObjectStorage) -> None:
    ledger = IdempotencyLedger(storage, "ledger", shards=8)
    keys = [ledger.key("reviews", rid, CREATED) for rid in _ids(100)]
    assert ledger.unseen(keys) == {rid for _, rid in keys}
    assert ledger.claim(keys[:60]) == {rid for _, rid in keys[:60]}
    fresh_ledger = IdempotencyLedger(storage, "ledger", shards=8)  # no cache: reads storage
    assert fresh_ledger.unseen(keys) == {rid for _, rid in keys[60:]}
    assert fresh_ledger.claim(keys) == {rid for _, rid in keys[60:]}
    assert fresh_ledger.claim(keys) == set()


def test_claims_cost_one_write_per_touched_shard_not_per_record(tmp_path: Path) -> None:
    class CountingStorage(LocalStorage):
        writes = 0

        def write(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            CountingStorage.writes += 1
            return super().write(*args, **kwargs)

    ledger = IdempotencyLedger(CountingStorage(tmp_path), "ledger", shards=16)
    keys = [ledger.key("reviews", rid, CREATED) for rid in _ids(5_000)]
    ledger.claim(keys)
    assert CountingStorage.writes == 16


def test_shards_are_partitioned_by_created_month(storage: ObjectStorage) -> None:
    ledger = IdempotencyLedger(storage, "ledger", shards=4)
    rid = _ids(1)[0]
    november = ledger.key("reviews", rid, CREATED)
    december = ledger.key("reviews", rid, datetime(2026, 12, 1, tzinfo=UTC))
    assert "/2026-11/" in november[0] and "/2026-12/" in december[0]
    ledger.claim([november])
    assert ledger.unseen([december]) == {rid}


def test_file_claim_is_recorded_once(storage: ObjectStorage) -> None:
    ledger = IdempotencyLedger(storage, "ledger")
    assert ledger.file_claim("reviews", "ab" * 32, "f" * 64) is None
    assert ledger.claim_file("reviews", "ab" * 32, "f" * 64, {"run_id": "r1", "records_in": 3})
    assert not ledger.claim_file("reviews", "ab" * 32, "f" * 64, {"run_id": "r2"})
    assert ledger.file_claim("reviews", "ab" * 32, "f" * 64) == {"run_id": "r1", "records_in": 3}
    assert ledger.file_claim("reviews", "ab" * 32, "0" * 64) is None  # another mapping version


def test_concurrent_threads_each_id_is_won_exactly_once(storage: ObjectStorage) -> None:
    shared_ids = _ids(300, "shared")
    results: list[set[str]] = []
    barrier = threading.Barrier(4)

    def contender(worker: int) -> None:
        ledger = IdempotencyLedger(storage, "ledger", shards=4, max_attempts=50)
        own = _ids(50, f"own{worker}-")
        keys = [ledger.key("reviews", rid, CREATED) for rid in shared_ids + own]
        ledger.unseen(keys)  # warm the cache with the same stale view every contender has
        barrier.wait()
        results.append(ledger.claim(keys))

    threads = [threading.Thread(target=contender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    won_shared = [rid for result in results for rid in result if rid in set(shared_ids)]
    assert sorted(won_shared) == sorted(shared_ids)  # every shared id won by exactly one
    for worker, result in enumerate(results):
        assert len(result - set(shared_ids)) == 50, f"worker {worker} lost its own ids"
    final = IdempotencyLedger(storage, "ledger", shards=4)
    all_keys = [final.key("reviews", rid, CREATED) for rid in shared_ids]
    assert final.unseen(all_keys) == set()


def _claim_in_process(
    backend: str, where: str, ids: list[str], queue: multiprocessing.Queue
) -> None:
    if backend == "local":
        storage: ObjectStorage = LocalStorage(Path(where))
    else:
        storage = BlobStorage.from_settings(
            Settings(storage_backend="blob", storage_connection_string=where)
        )
    ledger = IdempotencyLedger(storage, "ledger-procs", shards=2, max_attempts=100)
    queue.put(sorted(ledger.claim(ledger.key("reviews", rid, CREATED) for rid in ids)))


@pytest.mark.parametrize("backend", ["local", pytest.param("blob", marks=pytest.mark.azurite)])
def test_concurrent_processes_each_id_is_won_exactly_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = str(tmp_path) if backend == "local" else request.getfixturevalue("azurite")
    ids = _ids(200, uuid.uuid4().hex)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_claim_in_process, args=(backend, where, ids, queue))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    won = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(rid for result in won for rid in result) == sorted(ids)
