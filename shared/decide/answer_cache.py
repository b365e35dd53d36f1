"""Classifications kept in storage by (masked text, prompt version, model).

A text classified once is not sent to a model again by any process: a re-sent export,
a duplicate ticket, or the same "Great product!" next week costs no tokens. Entries are
small JSON objects in the ledger container (``classify_cache/<2 hex>/<key>.json``),
written create-if-absent, so concurrent writers of the same text cannot conflict. Only
confident answers are kept: a record that went to review is asked again next time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from shared.decide.classification import Classification
from shared.errors import ConcurrencyConflictError
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)

CACHE_PREFIX = "classify_cache"


def cache_key(text_sha256: str, prompt_version: str, model: str) -> str:
    return hashlib.sha256(f"{text_sha256}\x1f{prompt_version}\x1f{model}".encode()).hexdigest()


class AnswerCache:
    """Read and write cached classifications; one small object per key."""

    def __init__(self, storage: ObjectStorage, container: str) -> None:
        self.storage = storage
        self.container = container

    @staticmethod
    def _path(key: str) -> str:
        return f"{CACHE_PREFIX}/{key[:2]}/{key}.json"

    def get_many(self, keys: Iterable[str]) -> dict[str, Classification]:
        found: dict[str, Classification] = {}
        for key in dict.fromkeys(keys):
            entry = self.storage.read(self.container, self._path(key))
            if entry is None:
                continue
            try:
                found[key] = Classification.model_validate_json(entry[0])
            except ValidationError:
                # An entry from an older contract: the model is asked again.
                logger.warning("classification cache entry %s is unreadable; ignored", key[:12])
        return found

    def put_many(self, entries: Mapping[str, Classification]) -> None:
        for key, result in entries.items():
            try:
                self.storage.write(
                    self.container,
                    self._path(key),
                    result.model_dump_json().encode(),
                    if_none_match=True,
                )
            except ConcurrencyConflictError:
                continue  # another run cached the same text first: equally good


__all__ = ["AnswerCache", "cache_key"]
