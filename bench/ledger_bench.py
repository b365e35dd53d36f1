#!/usr/bin/env python
"""Ledger benchmark: one month of record ids claimed in rounds, old layout vs new.

For each month size N, ids are claimed in rounds of INSIGHTLOOP_LEDGER_CLAIM_EVERY_RECORDS
(random 16-byte ids, all in one ``created_at`` month, local storage under ``--root``):

* ``rewrite``  the earlier layout (a faithful copy of its claim path, kept here as the
               reference): each shard is one sorted array rewritten whole, replace-if-ETag,
               on every round that touches it;
* ``segments`` :class:`shared.ingest.ledger.IdempotencyLedger`: one immutable segment per
               touched shard per round behind an ETag-guarded manifest, tiered compaction.

Printed per layout: bytes written by the ledger (every write call, orphans and deleted
segments included), the ledger's final size on disk, their ratio, write and read calls,
objects read per shard by a cold check of a 100,000-id batch (a new process's first
look), seconds for all rounds, and the ratio of bytes written against the rewrite
layout on the same N. Every run checks that each id was won exactly once and that a
replay of a round wins nothing, so a broken ledger fails the bench.

    .venv/bin/python bench/ledger_bench.py --records 1000000 3000000
    .venv/bin/python bench/ledger_bench.py --records 10000000 --layouts segments
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from shared.errors import ConcurrencyConflictError  # noqa: E402
from shared.ingest.ledger import ID_DTYPE, IdempotencyLedger, RecordKey  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.storage import LocalStorage  # noqa: E402

CONTAINER = "ledger"
SOURCE = "reviews"
MONTH = datetime(2026, 11, 15, tzinfo=UTC)
CHECK_BATCH = 100_000


class CountingStorage(LocalStorage):
    """LocalStorage that counts the calls and bytes the ledger makes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = self.writes = self.bytes_written = 0

    def read(self, container, path):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().read(container, path)

    def write(self, container, path, data, **kwargs):  # type: ignore[no-untyped-def]
        self.writes += 1
        self.bytes_written += len(data)
        return super().write(container, path, data, **kwargs)


class RewriteLedger(IdempotencyLedger):
    """The earlier layout's record claims: a shard is one sorted array rewritten whole."""

    def __init__(self, storage: LocalStorage, container: str, *, shards: int) -> None:
        super().__init__(storage, container, shards=shards)
        self._arrays: dict[str, tuple[np.ndarray, str | None]] = {}

    def unseen(self, keys):  # type: ignore[no-untyped-def]
        fresh: set[str] = set()
        for shard, ids in _group(keys).items():
            known, _ = self._array(shard)
            hits = _hits(known, _as_array(ids))
            fresh.update(rid for rid, hit in zip(ids, hits, strict=True) if not hit)
        return fresh

    def claim(self, keys):  # type: ignore[no-untyped-def]
        won: set[str] = set()
        for shard, ids in _group(keys).items():
            queries = _as_array(ids)
            known, etag = self._array(shard)
            hits = _hits(known, queries)
            fresh = np.unique(queries[~hits])
            merged = np.insert(known, np.searchsorted(known, fresh), fresh)
            try:
                etag = self.storage.write(
                    CONTAINER,
                    shard + ".ids",
                    merged.tobytes(),
                    if_match=etag,
                    if_none_match=etag is None,
                )
            except ConcurrencyConflictError:  # single writer here: cannot happen
                raise
            self._arrays[shard] = (merged, etag)
            won.update(rid for rid, hit in zip(ids, hits, strict=True) if not hit)
        return won

    def _array(self, shard: str) -> tuple[np.ndarray, str | None]:
        if shard not in self._arrays:
            found = self.storage.read(CONTAINER, shard + ".ids")
            self._arrays[shard] = (
                (np.empty(0, dtype=ID_DTYPE), None)
                if found is None
                else (np.frombuffer(found[0], dtype=ID_DTYPE), found[1])
            )
        return self._arrays[shard]


def _group(keys: list[RecordKey]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for shard, rid in keys:
        groups.setdefault(shard, []).append(rid)
    return groups


def _as_array(ids: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(ids)), dtype=ID_DTYPE)


def _hits(known: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if not len(known):
        return np.zeros(len(queries), dtype=bool)
    positions = np.minimum(np.searchsorted(known, queries), len(known) - 1)
    return known[positions] == queries


def _round_ids(n: int) -> list[str]:
    blob = os.urandom(16 * n).hex()
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


def _disk_bytes(root: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(root / CONTAINER):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    return total


def run(layout: str, records: int, round_size: int, shards: int, root: Path) -> dict:
    storage = CountingStorage(root)
    make = RewriteLedger if layout == "rewrite" else IdempotencyLedger
    ledger = make(storage, CONTAINER, shards=shards)
    won = 0
    last_round: list[RecordKey] = []
    started = time.perf_counter()
    for start in range(0, records, round_size):
        ids = _round_ids(min(round_size, records - start))
        last_round = [ledger.key(SOURCE, rid, MONTH) for rid in ids]
        won += len(ledger.claim(last_round))
    seconds = time.perf_counter() - started
    if won != records:
        raise SystemExit(f"{layout}: won {won} of {records} ids")
    written, writes, reads_claiming = storage.bytes_written, storage.writes, storage.reads

    cold = make(CountingStorage(root), CONTAINER, shards=shards)
    probe = [cold.key(SOURCE, rid, MONTH) for rid in _round_ids(CHECK_BATCH)]
    probe += last_round[: CHECK_BATCH // 10]
    unseen = cold.unseen(probe)
    check_reads = cold.storage.reads  # type: ignore[attr-defined]
    if len(unseen) != CHECK_BATCH or cold.claim(last_round):
        raise SystemExit(f"{layout}: a replay of claimed ids was not recognised")
    touched = len({shard for shard, _ in probe})
    return {
        "layout": layout,
        "records": records,
        "written": written,
        "final": _disk_bytes(root),
        "writes": writes,
        "reads": reads_claiming,
        "reads_per_shard": check_reads / touched,
        "seconds": seconds,
    }


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--round", type=int, default=settings.ledger_claim_every_records)
    parser.add_argument("--shards", type=int, default=settings.ledger_shards)
    parser.add_argument("--layouts", nargs="+", default=["rewrite", "segments"])
    parser.add_argument("--root", type=Path, default=None, help="storage root (temp dir)")
    args = parser.parse_args()

    mib = 1024 * 1024
    print(f"rounds of {args.round:,} ids, {args.shards} shards, one month, local storage\n")
    print(
        "| records | layout | written MiB | final MiB | written / final | writes | reads "
        "while claiming | reads per shard, cold check | seconds | written vs rewrite |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for records in args.records:
        baseline = None
        for layout in args.layouts:
            root = Path(tempfile.mkdtemp(prefix="ledger-bench-", dir=args.root))
            try:
                row = run(layout, records, args.round, args.shards, root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            if layout == "rewrite":
                baseline = row["written"]
            versus = f"{baseline / row['written']:.1f}× less" if baseline else "n/a"
            print(
                f"| {records:,} | {layout} | {row['written'] / mib:,.1f} | "
                f"{row['final'] / mib:,.1f} | {row['written'] / row['final']:.2f}× | "
                f"{row['writes']:,} | {row['reads']:,} | {row['reads_per_shard']:.1f} | "
                f"{row['seconds']:.1f} | {versus if layout != 'rewrite' else '1×'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
