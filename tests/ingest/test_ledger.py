"""The idempotency ledger: file claims, record claims in shards, and races between runs."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import ConcurrencyConflictError
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


class CountingStorage(LocalStorage):
    """Counts reads, writes and bytes written."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = self.writes = self.bytes_written = self.id_bytes_written = 0

    def read(self, container, path):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().read(container, path)

    def write(self, container, path, data, **kwargs):  # type: ignore[no-untyped-def]
        self.writes += 1
        self.bytes_written += len(data)
        self.id_bytes_written += len(data) if path.endswith(".ids") else 0
        return super().write(container, path, data, **kwargs)


def test_claims_cost_two_writes_per_touched_shard_not_per_record(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    ledger = IdempotencyLedger(storage, "ledger", shards=16)
    keys = [ledger.key("reviews", rid, CREATED) for rid in _ids(5_000)]
    ledger.claim(keys)
    assert storage.writes == 2 * 16  # one segment and one manifest per shard


def test_rounds_write_each_id_about_once_per_level_not_the_whole_shard(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    ledger = IdempotencyLedger(storage, "ledger", shards=4, fan_in=4)
    rounds = 15  # 3 compactions at level 0, none at level 1: each id written at most twice
    for round_number in range(rounds):
        ids = _ids(400, f"round{round_number}-")
        assert len(ledger.claim([ledger.key("reviews", rid, CREATED) for rid in ids])) == 400
    id_bytes = rounds * 400 * 16
    assert storage.id_bytes_written == id_bytes + 12 * 400 * 16  # 12 of 15 rounds merged once
    assert storage.bytes_written - storage.id_bytes_written < 0.1 * id_bytes  # manifests
    # The earlier layout rewrote every shard whole each round: rounds / 2 = 7.5x its size.
    fresh = IdempotencyLedger(storage, "ledger", shards=4, fan_in=4)
    every = [
        fresh.key("reviews", rid, CREATED) for r in range(rounds) for rid in _ids(400, f"round{r}-")
    ]
    assert fresh.unseen(every) == set()


def test_a_cold_check_reads_a_bounded_number_of_objects_per_shard(tmp_path: Path) -> None:
    writer = IdempotencyLedger(LocalStorage(tmp_path), "ledger", shards=2, fan_in=3)
    for round_number in range(20):
        ids = _ids(30, f"round{round_number}-")
        writer.claim([writer.key("reviews", rid, CREATED) for rid in ids])
    storage = CountingStorage(tmp_path)
    reader = IdempotencyLedger(storage, "ledger", shards=2, fan_in=3)
    keys = [reader.key("reviews", rid, CREATED) for rid in _ids(200, "new")]
    assert reader.unseen(keys) == {rid for _, rid in keys}
    # 20 rounds with fan-in 3 = 2 level-2, 0 level-1, 2 level-0 segments per shard;
    # at most 1 manifest + (fan_in - 1) per level, whatever the number of rounds.
    assert storage.reads <= 2 * (1 + 2 * 3)
    assert reader.unseen(keys) == {rid for _, rid in keys}
    assert storage.reads <= 2 * (1 + 2 * 3)  # segments are immutable: cached, not re-read


def test_a_reader_that_finds_a_segment_compacted_away_reads_the_manifest_again(
    tmp_path: Path,
) -> None:
    writer = IdempotencyLedger(LocalStorage(tmp_path), "ledger", shards=1, fan_in=2)
    first = _ids(10, "first")
    writer.claim([writer.key("reviews", rid, CREATED) for rid in first])

    class CompactingUnderTheReader(CountingStorage):
        """The first manifest read is answered, then the writer compacts before the reader
        reads the segment that manifest lists."""

        compacted = False

        def read(self, container, path):  # type: ignore[no-untyped-def]
            found = super().read(container, path)
            if path.endswith(".json") and not self.compacted:
                self.compacted = True
                second = _ids(10, "second")  # the second level-0 segment: merged, first deleted
                writer.claim([writer.key("reviews", rid, CREATED) for rid in second])
            return found

    storage = CompactingUnderTheReader(tmp_path)
    reader = IdempotencyLedger(storage, "ledger", shards=1, fan_in=2)
    keys = [reader.key("reviews", rid, CREATED) for rid in first + _ids(10, "second")]
    assert reader.unseen(keys) == set()
    assert storage.reads == 4  # manifest, a deleted segment, manifest again, merged segment
    assert reader.claim(keys) == set()


def test_a_manifest_write_that_committed_but_reported_a_conflict_keeps_its_segment(
    tmp_path: Path,
) -> None:
    class LostResponse(LocalStorage):
        """The first manifest replace commits, then answers 412 (a client retry after a
        lost response)."""

        lost = False

        def write(self, container, path, data, **kwargs):  # type: ignore[no-untyped-def]
            etag = super().write(container, path, data, **kwargs)
            if path.endswith(".json") and kwargs.get("if_match") and not self.lost:
                self.lost = True
                raise ConcurrencyConflictError(container, path)
            return etag

    storage = LostResponse(tmp_path)
    ledger = IdempotencyLedger(storage, "ledger", shards=1)
    ledger.claim([ledger.key("reviews", rid, CREATED) for rid in _ids(5, "before")])
    ids = _ids(20)
    keys = [ledger.key("reviews", rid, CREATED) for rid in ids]
    assert ledger.claim(keys) == set()  # its own commit looks like another claimer's
    fresh = IdempotencyLedger(LocalStorage(tmp_path), "ledger", shards=1)
    assert fresh.unseen(keys) == set()  # the segment is listed and still there


def test_a_shard_of_the_earlier_layout_is_read_then_adopted(storage: ObjectStorage) -> None:
    old_ids, new_ids = _ids(50, "old"), _ids(50, "new")
    ledger = IdempotencyLedger(storage, "ledger", shards=1)
    shard = ledger.key("reviews", old_ids[0], CREATED)[0]
    legacy = sorted(bytes.fromhex(rid) for rid in old_ids)
    storage.write("ledger", shard + ".ids", b"".join(legacy))  # as the earlier version wrote it
    keys = [ledger.key("reviews", rid, CREATED) for rid in old_ids + new_ids]
    assert ledger.unseen(keys) == set(new_ids)
    assert ledger.claim(keys) == set(new_ids)
    fresh = IdempotencyLedger(storage, "ledger", shards=1)
    assert fresh.unseen(keys) == set()
    assert fresh.claim(keys) == set()
    assert storage.read("ledger", shard + ".ids")[0] == b"".join(legacy)  # type: ignore[index]


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
    # Small rounds and fan-in 2: the processes also race each other's compactions.
    ledger = IdempotencyLedger(storage, "ledger-procs", shards=2, max_attempts=100, fan_in=2)
    won: set[str] = set()
    for start in range(0, len(ids), 20):
        won |= ledger.claim(ledger.key("reviews", rid, CREATED) for rid in ids[start : start + 20])
    queue.put(sorted(won))


def test_concurrent_claims_across_compactions_lose_nothing(storage: ObjectStorage) -> None:
    """Threads claim many small rounds on the same shard while it compacts under them."""
    workers, rounds = 4, 12
    shared_rounds = [_ids(20, f"shared{r}-") for r in range(rounds)]
    results: list[set[str]] = []
    barrier = threading.Barrier(workers)

    def contender(worker: int) -> None:
        ledger = IdempotencyLedger(storage, "ledger", shards=1, fan_in=2, max_attempts=200)
        won: set[str] = set()
        barrier.wait()
        for r in range(rounds):
            own = _ids(5, f"own{worker}-{r}-")
            keys = [ledger.key("reviews", rid, CREATED) for rid in shared_rounds[r] + own]
            won |= ledger.claim(keys)
        results.append(won)

    threads = [threading.Thread(target=contender, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every_shared = [rid for ids in shared_rounds for rid in ids]
    won_shared = [rid for result in results for rid in result if rid in set(every_shared)]
    assert sorted(won_shared) == sorted(every_shared)  # every shared id won exactly once
    for worker, result in enumerate(results):
        assert len(result - set(every_shared)) == 5 * rounds, f"worker {worker} lost its ids"
    final = IdempotencyLedger(storage, "ledger", shards=1, fan_in=2)
    own_ids = [
        rid for w in range(workers) for r in range(rounds) for rid in _ids(5, f"own{w}-{r}-")
    ]
    all_keys = [final.key("reviews", rid, CREATED) for rid in every_shared + own_ids]
    assert final.unseen(all_keys) == set()
    assert final.claim(all_keys) == set()  # a replay lands nothing


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
