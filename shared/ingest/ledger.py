"""The idempotency ledger: which inputs and which record ids have already landed.

Two levels, both built on conditional writes (create-if-absent, replace-if-ETag):

* **Files** are claimed by content hash (plus the mapping's fingerprint, so a fixed
  mapping gets a second chance at rows it quarantined). A replayed file costs one
  read, whatever its size.
* **Records** are claimed in batches, in hash shards partitioned by the month of
  ``created_at``: a batch costs a bounded number of reads and two writes per shard it
  touches, never a round-trip per record, and a daily export only touches recent months.

A shard is a log of immutable **segments** behind one small **manifest**
(``records/<source>/<yyyy-mm>/<shard>.json``, the list of its segments and their level).
A segment (``records/<source>/<yyyy-mm>/<shard>/<random>.ids``) is a sorted array of
16-byte ids, written once and never changed. A claim writes its new ids as a level-0
segment, then commits it by replacing the manifest if its ETag is unchanged: the
manifest write is the one point where a claim wins, so concurrent claimers of a shard
serialise on it and a loser re-reads the manifest (only the segments it has not seen)
and tries again with what is still new. Each claim round therefore writes its ids
once, instead of rewriting the whole shard (the earlier layout, quadratic per month).

Compaction keeps reads bounded: when a level holds ``fan_in`` segments they are merged
into one segment of the next level (tiered, like an LSM tree), committed by the same
ETag-guarded manifest write, and the merged segments are deleted afterwards. A reader
that finds a listed segment gone re-reads the manifest. Each id is written once per
level it passes, so a month of R claim rounds writes about ``1 + floor(log_fan_in R)``
times its final size, and a cold check reads at most ``1 + (fan_in - 1) x levels``
objects per shard (with 16 and rounds of 100,000 ids: under 2x up to 25.6M records a
month, at most 31 reads per shard). Segments are immutable, so a process reads each
one once; a conflict re-reads the manifest and the new segments only. Checks and
claims work on PARALLEL_SHARDS shards at a time (shards are independent), so the extra,
smaller round-trips overlap instead of adding up.

Earlier layout: a shard written by an earlier version is one whole file
``records/<source>/<yyyy-mm>/<shard>.ids`` (the same sorted-array format). While a shard
has no manifest, that file is read as its only segment; the first claim adopts it into
the new manifest (migration on write: the file is kept and never rewritten). Do not run
an earlier version's ingest against the same ledger after that.

A segment written for a crash before the manifest write, or a merge whose manifest
write lost a race, is an orphan: never listed, so never read; it costs storage only.

Ordering choice: **land first, claim after**. The pipeline checks ids against the
ledger, commits the landing file, and only then claims the ids. A crash between the
two leaves rows landed but unclaimed, so a retry lands them again: a duplicate that
Silver removes by record_id. The opposite order (claim, then land) would turn the
same crash into a lost record, which is the failure we may not have.

Claims are made in rounds (every INSIGHTLOOP_LEDGER_CLAIM_EVERY_RECORDS landed ids and
at the end of each input), not after every landing file: each claim writes one segment
per touched shard, so claiming per file would make ~100 tiny segments per shard for a
1M-row export. The price is a wider crash window: up to one round of landed rows is
landed again by a retry, which Silver deduplicates.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
MANIFEST_SUFFIX = ".json"
LEGACY_SUFFIX = ".ids"
# The whole-shard file of the earlier layout: read as a segment, never merged or deleted.
LEGACY_LEVEL = -1

# Shards checked or claimed at the same time: their storage round-trips overlap.
PARALLEL_SHARDS = 16

RecordKey = tuple[str, str]  # (shard path without suffix, record_id hex)


@dataclass(frozen=True, slots=True)
class Segment:
    """One immutable sorted array of ids, as listed in a shard's manifest."""

    name: str
    level: int
    ids: np.ndarray


@dataclass(frozen=True, slots=True)
class ShardView:
    """A shard as of one manifest version (``etag`` None: no manifest yet)."""

    etag: str | None
    segments: tuple[Segment, ...]

    @property
    def nbytes(self) -> int:
        return sum(segment.ids.nbytes for segment in self.segments)

    def contains(self, queries: np.ndarray) -> np.ndarray:
        hits = np.zeros(len(queries), dtype=bool)
        for segment in self.segments:
            hits |= _contains(segment.ids, queries)
        return hits


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
        fan_in: int = 16,
    ) -> None:
        if fan_in < 2:
            raise ValueError("fan_in must be at least 2")
        self.storage = storage
        self.container = container
        self.shards = shards
        self.cache_bytes = cache_bytes
        self.max_attempts = max_attempts
        self.fan_in = fan_in
        # shard path -> the last manifest version this process read or wrote
        self._cache: OrderedDict[str, ShardView] = OrderedDict()
        self._cached_bytes = 0
        self._folders: dict[tuple[str, int, int], str] = {}
        self._shard_names = [f"{shard:04d}" for shard in range(shards)]

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
        for _, (unclaimed, _) in self._each_shard(self._check_shard, keys, writes=False):
            fresh.update(unclaimed)
        return fresh

    def claim(self, keys: Iterable[RecordKey]) -> set[str]:
        """Claim ids; returns those this call won. Exactly one concurrent caller wins each."""
        won: set[str] = set()
        for _, (new_ids, _) in self._each_shard(self._claim_shard, keys, writes=True):
            won.update(new_ids)
        return won

    def _each_shard(
        self,
        work: Callable[[str, list[str], ShardView | None], tuple[list[str], ShardView]],
        keys: Iterable[RecordKey],
        *,
        writes: bool,
    ) -> Iterator[tuple[str, tuple[list[str], ShardView]]]:
        """``work`` on each shard's ids and cached view, PARALLEL_SHARDS shards at a time.

        Shards are independent, so their round-trips overlap; the cache is only touched
        here, on the calling thread. A check of cached shards is CPU only: no threads.
        """
        groups = list(_group(keys).items())
        for start in range(0, len(groups), PARALLEL_SHARDS):
            chunk = [
                (shard, ids, self._cached(shard))
                for shard, ids in groups[start : start + PARALLEL_SHARDS]
            ]
            if len(chunk) == 1 or not (writes or any(view is None for *_, view in chunk)):
                results = [work(*args) for args in chunk]
            else:
                with ThreadPoolExecutor(max_workers=len(chunk)) as pool:
                    futures = [pool.submit(work, *args) for args in chunk]
                results = [future.result() for future in futures]
            for (shard, _, _), result in zip(chunk, results, strict=True):
                self._remember(shard, result[1])
                yield shard, result

    def _check_shard(
        self, shard: str, ids: list[str], view: ShardView | None
    ) -> tuple[list[str], ShardView]:
        view = view if view is not None else self._read_view(shard)
        hits = view.contains(_as_array(ids))
        return list(compress(ids, (~hits).tolist())), view

    def _claim_shard(
        self, shard: str, ids: list[str], view: ShardView | None
    ) -> tuple[list[str], ShardView]:
        queries = _as_array(ids)
        view = view if view is not None else self._read_view(shard)
        pending: Segment | None = None  # written, not yet in a manifest
        for attempt in range(self.max_attempts):
            hits = view.contains(queries)
            new_ids = list(compress(ids, (~hits).tolist()))
            if not new_ids:
                self._drop_unlisted(pending, view)
                return [], view
            fresh = np.unique(queries[~hits])
            if pending is None or not np.array_equal(pending.ids, fresh):
                self._drop_unlisted(pending, view)  # another claimer took some meanwhile
                pending = self._write_segment(shard, 0, fresh)
            segments = (*view.segments, pending)
            try:
                etag = self._write_manifest(shard, segments, view.etag)
            except ConcurrencyConflictError:
                wait_after_conflict(attempt)
                view = self._read_view(shard, view)
                continue
            return new_ids, self._compact(shard, ShardView(etag, segments))
        self._drop_unlisted(pending, view)
        raise TransientError(
            f"ledger shard {shard} kept changing under {self.max_attempts} attempts; retry later"
        )

    # ------------------------------------------------------------- compaction

    def _compact(self, shard: str, view: ShardView) -> ShardView:
        """Merge every level holding ``fan_in`` segments into one of the next level."""
        segments = list(view.segments)
        merged: list[Segment] = []
        level = 0
        while True:
            full = [segment for segment in segments if segment.level == level]
            if len(full) < self.fan_in:
                break
            ids = np.unique(np.concatenate([segment.ids for segment in full]))
            # Named once written: a segment merged again in this pass is never written.
            segments = [s for s in segments if s.level != level]
            segments.append(Segment("", level + 1, ids))
            merged.extend(segment for segment in full if segment.name)
            level += 1
        if not merged:
            return view
        written = [
            self._write_segment(shard, s.level, s.ids) if not s.name else s for s in segments
        ]
        try:
            etag = self._write_manifest(shard, tuple(written), view.etag)
        except ConcurrencyConflictError:
            # Another claim committed first; it (or the next claim) compacts instead. The
            # merged segments stay as orphans: a retried write may have committed them.
            return view
        for segment in merged:
            self._drop(segment)
        return ShardView(etag, tuple(written))

    # ------------------------------------------------------------------ storage

    def _write_segment(self, shard: str, level: int, ids: np.ndarray) -> Segment:
        name = _segment_path(shard, level, uuid.uuid4().hex[:16])
        self.storage.write(self.container, name, ids.tobytes(), if_none_match=True)
        return Segment(name, level, ids)

    def _write_manifest(self, shard: str, segments: tuple[Segment, ...], etag: str | None) -> str:
        # Compact: [level, segment id, id count] per segment, names rebuilt from the shard.
        body = orjson.dumps(
            {
                "version": 1,
                "segments": [[s.level, _segment_id(s.name), len(s.ids)] for s in segments],
            }
        )
        return self.storage.write(
            self.container,
            shard + MANIFEST_SUFFIX,
            body,
            if_match=etag,
            if_none_match=etag is None,
        )

    def _drop_unlisted(self, segment: Segment | None, view: ShardView) -> None:
        """Delete a claim's segment unless the manifest lists it after all.

        A manifest write retried by the storage client can fail with a conflict after its
        first attempt committed: the segment is then ours, listed, and must stay.
        """
        if segment is not None and all(s.name != segment.name for s in view.segments):
            self._drop(segment)

    def _drop(self, segment: Segment | None) -> None:
        """Delete a segment no manifest lists any more; a failure only leaves garbage."""
        if segment is None or segment.level == LEGACY_LEVEL:
            return
        with contextlib.suppress(TransientError):
            self.storage.delete(self.container, segment.name)

    def _read_view(self, shard: str, previous: ShardView | None = None) -> ShardView:
        """The shard's current manifest and segments; reads only segments not in ``previous``."""
        known = {s.name: s for s in previous.segments} if previous else {}
        for attempt in range(self.max_attempts):
            found = self.storage.read(self.container, shard + MANIFEST_SUFFIX)
            if found is None:
                legacy = self._read_segment(shard + LEGACY_SUFFIX, LEGACY_LEVEL, known)
                return ShardView(None, () if legacy is None else (legacy,))
            data, etag = found
            segments = []
            for level, segment_id, _ in orjson.loads(data)["segments"]:
                name = _segment_path(shard, level, segment_id)
                segment = self._read_segment(name, level, known)
                if segment is None:
                    break  # compacted away since the manifest was read: read it again
                segments.append(segment)
            else:
                return ShardView(etag, tuple(segments))
            wait_after_conflict(attempt)
        raise TransientError(
            f"ledger shard {shard} kept compacting under {self.max_attempts} attempts; retry later"
        )

    def _read_segment(self, name: str, level: int, known: dict[str, Segment]) -> Segment | None:
        if name in known:
            return known[name]
        found = self.storage.read(self.container, name)
        if found is None:
            return None
        data = found[0]
        if len(data) % ID_BYTES:
            raise TransientError(f"ledger segment {name} is {len(data)} bytes, not whole ids")
        return Segment(name, level, np.frombuffer(data, dtype=ID_DTYPE))

    # ------------------------------------------------------------------ cache

    def _cached(self, shard: str) -> ShardView | None:
        view = self._cache.get(shard)
        if view is not None:
            self._cache.move_to_end(shard)
        return view

    def _remember(self, shard: str, view: ShardView) -> None:
        self._forget(shard)
        self._cache[shard] = view
        self._cached_bytes += view.nbytes
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._cached_bytes -= evicted.nbytes

    def _forget(self, shard: str) -> None:
        view = self._cache.pop(shard, None)
        if view is not None:
            self._cached_bytes -= view.nbytes


def _segment_path(shard: str, level: int, segment_id: str) -> str:
    if level == LEGACY_LEVEL:
        return shard + LEGACY_SUFFIX
    return f"{shard}/{segment_id}.ids"


def _segment_id(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".ids")


def _group(keys: Iterable[RecordKey]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for shard, record_id in keys:
        groups[shard].append(record_id)
    return groups


def _as_array(ids: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(ids)), dtype=ID_DTYPE)


def _contains(sorted_ids: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if not len(sorted_ids):
        return np.zeros(len(queries), dtype=bool)
    positions = np.searchsorted(sorted_ids, queries)
    return sorted_ids[np.minimum(positions, len(sorted_ids) - 1)] == queries
