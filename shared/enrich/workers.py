"""Enrichment on every core: a landing batch's language detection and masking in a pool.

One landing batch is cut into contiguous chunks; forked worker processes detect each
chunk's languages and mask its fields, and the results come back in input order, so the
landed output and the batch accounting are those of the one-process path. The quality
gate (profile and verdict) stays in the calling process.

The pool is created on the first batch large enough to repay it, by ``fork``: workers
inherit the engines the parent has loaded (copy-on-write) instead of loading their own.
Where ``fork`` is unavailable (Windows) enrichment stays in the calling process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.enrich.language import LanguageDetector, LanguageGuess
from shared.enrich.masking import MaskedGroup, PiiMasker

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)

Fields = dict[str, str | None]
# Below this many records per worker a batch runs in the calling process (pickling and
# the round trip cost more than a core saves on a few short texts).
MIN_RECORDS_PER_WORKER = 200
# Chunks per worker: small enough to even out slow and fast chunks, large enough for
# nlp.pipe batching.
CHUNKS_PER_WORKER = 4
_WARM_UP_TEXT = "Hello, my name is Ada Lovelace and the app keeps crashing on login."


@dataclass(slots=True)
class Analysed:
    """One record's language guess and its masked fields."""

    guess: LanguageGuess
    masked: MaskedGroup


def analyse(
    detector: LanguageDetector,
    masker: PiiMasker,
    texts: Sequence[str],
    groups: Sequence[Mapping[str, str | None]],
) -> list[Analysed]:
    """Detect each text's language, then mask its record's fields in that language."""
    guesses = detector.detect_batch(texts)
    masked = masker.mask_groups(groups, [guess.language for guess in guesses])
    return [Analysed(g, m) for g, m in zip(guesses, masked, strict=True)]


def default_workers() -> int:
    """Every core this process may run on (the local CLI's default)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# The engines a forked worker analyses with (set once in each worker by the initializer).
_worker_engines: tuple[LanguageDetector, PiiMasker] | None = None


def _adopt_engines(detector: LanguageDetector, masker: PiiMasker) -> None:
    global _worker_engines
    _worker_engines = (detector.sequential(), masker)


def _analyse_chunk(texts: list[str], groups: list[Fields]) -> list[Analysed]:
    assert _worker_engines is not None, "the pool initializer did not run"
    detector, masker = _worker_engines
    return analyse(detector, masker, texts, groups)


class EnrichmentPool:
    """Language detection + masking of batches over ``workers`` processes (1: in-process)."""

    def __init__(self, detector: LanguageDetector, masker: PiiMasker, workers: int) -> None:
        self.detector = detector
        self.masker = masker
        fork = "fork" in multiprocessing.get_all_start_methods()
        if workers > 1 and not fork:
            logger.info("enrichment runs in one process: no fork start method here")
        self.workers = workers if fork else 1
        self._executor: ProcessPoolExecutor | None = None

    def analyse(self, texts: Sequence[str], groups: Sequence[Fields]) -> list[Analysed]:
        """Per record, in order: its language guess and masked fields."""
        count = len(texts)
        if self.workers <= 1 or count < 2 * MIN_RECORDS_PER_WORKER:
            return analyse(self.detector, self.masker, texts, groups)
        workers = min(self.workers, count // MIN_RECORDS_PER_WORKER)
        size = max(MIN_RECORDS_PER_WORKER // 2, -(-count // (workers * CHUNKS_PER_WORKER)))
        starts = range(0, count, size)
        executor = self._pool()
        chunks = executor.map(
            _analyse_chunk,
            [list(texts[start : start + size]) for start in starts],
            [list(groups[start : start + size]) for start in starts],
        )
        return [item for chunk in chunks for item in chunk]

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # Load the engines here first so the forked workers share them.
            analyse(self.detector, self.masker, [_WARM_UP_TEXT], [{"text": _WARM_UP_TEXT}])
            logger.info("starting %d enrichment worker processes", self.workers)
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_adopt_engines,
                initargs=(self.detector, self.masker),
            )
        return self._executor

    def close(self) -> None:
        """Stop the worker processes (if any were started)."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None


__all__ = ["Analysed", "EnrichmentPool", "analyse", "default_workers"]
