"""The idempotency ledger: which inputs and which record ids have already landed.

Two levels, both built on conditional writes (create-if-absent, replace-if-ETag):

* **Files** are claimed by content hash (plus the mapping's fingerprint, so a fixed
  mapping gets a second chance at rows it quarantined). A replayed file costs one
  read, whatever its size.
* **Records** are claimed in batches, in hash shards partitioned by the month of
  ``created_at`` (``records/<source>/<yyyy-mm>/<shard>.ids``): a batch costs at most
  one read and one write per shard it touches, never a round-trip per record, and a
  daily export only touches recent months. A shard is a sorted array of 16-byte ids.

Ordering choice: **land first, claim after**. The pipeline checks ids against the
ledger, commits the landing file, and only then claims the ids. A crash between the
two leaves rows landed but unclaimed, so a retry lands them again: a duplicate that
Silver removes by record_id. The opposite order (claim, then land) would turn the
same crash into a lost record, which is the failure we may not have.

Claims are made in rounds (every INSIGHTLOOP_LEDGER_CLAIM_EVERY_RECORDS landed ids and
at the end of each input), not after every landing file: a shard is rewritten whole on
each claim, so claiming per file would rewrite every shard of a month ~100 times for a
1M-row export. The price is a wider crash window: up to one round of landed rows is
landed again by a retry, which Silver deduplicates.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import compress
from typing import Any

import numpy as np
import orjson

from shared.errors import ConcurrencyConflictError, TransientError
from shared.retry import wait_after_conflict
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)

ID_BYTES = 16
ID_DTYPE = f"S{ID_BYTES}"

RecordKey = tuple[str, str]  # (shard path, record_id hex)


class IdempotencyLedger:
    """Claims of files and record ids, stored in the ``ledger`` container."""

    def __init__(
        self,
        storage: ObjectStorage,
        container: str,
        *,
        shards: int = 256,
        cache_bytes: int = 128 * 1024 * 1024,
        max_attempts: int = 10,
    ) -> None:
        self.storage = storage
        self.container = container
        self.shards = shards
        self.cache_bytes = cache_bytes
        self.max_attempts = max_attempts
        # shard path -> (sorted ids, ETag or None when the shard does not exist yet)
        self._cache: OrderedDict[str, tuple[np.ndarray, str | None]] = OrderedDict()
        self._cached_bytes = 0
        self._folders: dict[tuple[str, int, int], str] = {}
        self._shard_names = [f"{shard:04d}.ids" for shard in range(shards)]

    # ------------------------------------------------------------------ files

    @staticmethod
    def _file_path(source: str, content_sha256: str, mapping_fingerprint: str) -> str:
        return f"files/{source}/{content_sha256}-{mapping_fingerprint[:12]}.json"

    def file_claim(
        self, source: str, content_sha256: str, mapping_fingerprint: str
    ) -> dict[str, Any] | None:
        """The summary stored when this exact file was fully ingested, if it was."""
        found = self.storage.read(
            self.container, self._file_path(source, content_sha256, mapping_fingerprint)
        )
        return orjson.loads(found[0]) if found else None

    def claim_file(
        self,
        source: str,
        content_sha256: str,
        mapping_fingerprint: str,
        summary: dict[str, Any],
    ) -> bool:
        """Record a fully ingested file; False when another run recorded it first."""
        try:
            self.storage.write(
                self.container,
                self._file_path(source, content_sha256, mapping_fingerprint),
                orjson.dumps(summary),
                if_none_match=True,
            )
        except ConcurrencyConflictError:
            return False
        return True

    # ---------------------------------------------------------------- records

    def key(self, source: str, record_id: str, created_at: datetime) -> RecordKey:
        # Called once per record: string building is cached per month and per shard.
        month = (source, created_at.year, created_at.month)
        folder = self._folders.get(month)
        if folder is None:
            folder = self._folders[month] = f"records/{source}/{month[1]:04d}-{month[2]:02d}/"
        return folder + self._shard_names[int(record_id[:8], 16) % self.shards], record_id

    def unseen(self, keys: Iterable[RecordKey]) -> set[str]:
        """The record ids among ``keys`` that no run has claimed yet."""
        fresh: set[str] = set()
        for path, ids in _group(keys).items():
            known, _ = self._load(path)
            hits = _contains(known, _as_array(ids))
            fresh.update(compress(ids, (~hits).tolist()))
        return fresh

    def claim(self, keys: Iterable[RecordKey]) -> set[str]:
        """Claim ids; returns those this call won. Exactly one concurrent caller wins each."""
        won: set[str] = set()
        for path, ids in _group(keys).items():
            won.update(self._claim_shard(path, ids))
        return won

    def _claim_shard(self, path: str, ids: list[str]) -> list[str]:
        queries = _as_array(ids)
        for attempt in range(self.max_attempts):
            known, etag = self._load(path)
            hits = _contains(known, queries)
            new_ids = list(compress(ids, (~hits).tolist()))
            if not new_ids:
                return []
            merged = _merge_sorted(known, queries[~hits])
            try:
                new_etag = self.storage.write(
                    self.container,
                    path,
                    merged.tobytes(),
                    if_match=etag,
                    if_none_match=etag is None,
                )
            except ConcurrencyConflictError:
                self._forget(path)
                wait_after_conflict(attempt)
                continue
            self._remember(path, merged, new_etag)
            return new_ids
        raise TransientError(
            f"ledger shard {path} kept changing under {self.max_attempts} attempts; retry later"
        )

    # ------------------------------------------------------------------ cache

    def _load(self, path: str) -> tuple[np.ndarray, str | None]:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        found = self.storage.read(self.container, path)
        if found is None:
            entry: tuple[np.ndarray, str | None] = (np.empty(0, dtype=ID_DTYPE), None)
        else:
            data, etag = found
            if len(data) % ID_BYTES:
                raise TransientError(f"ledger shard {path} is {len(data)} bytes, not whole ids")
            entry = (np.frombuffer(data, dtype=ID_DTYPE), etag)
        self._remember(path, *entry)
        return entry

    def _remember(self, path: str, ids: np.ndarray, etag: str | None) -> None:
        self._forget(path)
        self._cache[path] = (ids, etag)
        self._cached_bytes += ids.nbytes
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, (evicted, _) = self._cache.popitem(last=False)
            self._cached_bytes -= evicted.nbytes

    def _forget(self, path: str) -> None:
        entry = self._cache.pop(path, None)
        if entry is not None:
            self._cached_bytes -= entry[0].nbytes


def _group(keys: Iterable[RecordKey]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for path, record_id in keys:
        groups[path].append(record_id)
    return groups


def _as_array(ids: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(ids)), dtype=ID_DTYPE)


def _merge_sorted(sorted_ids: np.ndarray, new_ids: np.ndarray) -> np.ndarray:
    """Insert ids (none of them present) into a sorted array: linear, no re-sort of it."""
    new_ids = np.unique(new_ids)
    return np.insert(sorted_ids, np.searchsorted(sorted_ids, new_ids), new_ids)


def _contains(sorted_ids: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if not len(sorted_ids):
        return np.zeros(len(queries), dtype=bool)
    positions = np.searchsorted(sorted_ids, queries)
    return sorted_ids[np.minimum(positions, len(sorted_ids) - 1)] == queries
