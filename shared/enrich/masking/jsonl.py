"""``insightloop mask``'s core: JSON Lines in, masked JSON Lines (with entities) out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any

import orjson

from shared.enrich.masking.masker import PiiMasker
from shared.errors import PermanentInputError
from shared.jsonl import json_objects


def mask_jsonl(
    in_stream: IO[bytes] | IO[str] | Iterable[bytes | str],
    out_stream: IO[bytes],
    masker: PiiMasker,
    *,
    batch_size: int = 256,
    detect: Callable[[Sequence[str]], Sequence[str]] | None = None,
) -> int:
    """Mask the ``text`` of each JSON line; write the line back with ``entities`` added.

    Every other field is kept as is. A ``language`` field (ISO 639-1) picks the pipeline;
    without one, ``detect`` (the language detector ingest uses) decides, as it does before
    ingest masks a record, else the config's default language. Blank lines are skipped.
    Returns lines written.
    """
    written = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        groups = [{"text": row.get("text")} for row in batch]
        languages = [_language_of(row) for row in batch]
        unknown = [i for i, language in enumerate(languages) if language is None]
        texts = [batch[i].get("text") or "" for i in unknown]
        if detect is not None and unknown:
            for i, language in zip(unknown, detect(texts), strict=True):
                languages[i] = language
        for row, masked in zip(batch, masker.mask_groups(groups, languages), strict=True):
            row["text"] = masked.fields["text"]
            row["entities"] = [
                {"type": e.entity_type, "start": e.start, "end": e.end, "score": e.score}
                for e in masked.entities
            ]
            out_stream.write(orjson.dumps(row) + b"\n")
        written += len(batch)
        batch.clear()

    for number, row in json_objects(in_stream):
        if row.get("text") is not None and not isinstance(row["text"], str):
            raise PermanentInputError(f"line {number}: `text` is not a string")
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return written


def _language_of(row: Mapping[str, Any]) -> str | None:
    language = row.get("language")
    return language if isinstance(language, str) and language else None
