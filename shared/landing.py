"""Writers for the landing zone (Auto Loader input) and the quarantine.

Landing files are JSON Lines at ``landing/<dataset>/ingest_date=YYYY-MM-DD/<batch>.jsonl``,
each written whole and then committed (see ObjectStorage.write), so a streaming reader
never sees a partial file.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import BinaryIO

import orjson

from shared.models import QuarantinedRow
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)

MAX_RAW_CHARS = 65_536
QUARANTINE_BUFFER_BYTES = 4 * 1024 * 1024


class LandingWriter:
    """Commits batches of serialized rows as whole JSONL files, one file per batch."""

    def __init__(
        self,
        storage: ObjectStorage,
        container: str,
        dataset: str,
        *,
        run_id: str,
        ingest_date: date,
    ) -> None:
        self.storage = storage
        self.container = container
        self.dataset = dataset
        self.run_id = run_id
        self.ingest_date = ingest_date
        self._sequence = 0

    def commit(self, data: bytes) -> str:
        """Write one landing file of JSON Lines (``data`` ends with a newline); returns its path."""
        self._sequence += 1
        path = (
            f"{self.dataset}/ingest_date={self.ingest_date:%Y-%m-%d}/"
            f"{self.run_id}-{self._sequence:05d}.jsonl"
        )
        self.storage.write(self.container, path, data, if_none_match=True)
        return path


class Quarantine:
    """Rows and inputs that could not be ingested, kept with the reason, never dropped.

    Rows go to ``quarantine/rows/<source>/ingest_date=.../<run>-<n>.jsonl``; whole
    inputs are copied to ``quarantine/files/<source>/ingest_date=.../<run>/<name>``
    beside a ``reason.json``.
    """

    def __init__(self, storage: ObjectStorage, container: str, run_id: str, now: datetime) -> None:
        self.storage = storage
        self.container = container
        self.run_id = run_id
        self.now = now
        self._rows: list[bytes] = []
        self._bytes = 0
        self._sequence = 0
        self.files_written: list[str] = []

    def add_row(
        self,
        *,
        source: str,
        input_name: str,
        record_index: int | None,
        line: int | None,
        reason: str,
        detail: str,
        raw: str | None,
    ) -> None:
        truncated = raw is not None and len(raw) > MAX_RAW_CHARS
        entry = QuarantinedRow(
            run_id=self.run_id,
            source=source,
            input_name=input_name,
            record_index=record_index,
            line=line,
            reason=reason,  # type: ignore[arg-type]
            detail=detail,
            raw=raw[:MAX_RAW_CHARS] if raw is not None else None,
            raw_truncated=truncated,
            quarantined_at=self.now,
        )
        data = entry.model_dump_json().encode()
        self._rows.append(data)
        self._bytes += len(data)
        if self._bytes >= QUARANTINE_BUFFER_BYTES:
            self.flush(source)

    def flush(self, source: str) -> None:
        if not self._rows:
            return
        self._sequence += 1
        path = (
            f"rows/{source}/ingest_date={self.now:%Y-%m-%d}/"
            f"{self.run_id}-{self._sequence:05d}.jsonl"
        )
        self.storage.write(self.container, path, b"\n".join(self._rows) + b"\n")
        self.files_written.append(path)
        self._rows, self._bytes = [], 0

    def add_file(self, source: str, name: str, stream: BinaryIO, reason: str) -> str:
        """Copy a whole input to quarantine (streamed) and write its reason beside it."""
        folder = f"files/{source}/ingest_date={self.now:%Y-%m-%d}/{self.run_id}"
        safe_name = name.replace("/", "_") or "input"
        self.storage.upload_stream(self.container, f"{folder}/{safe_name}", stream)
        reason_doc = {"run_id": self.run_id, "source": source, "input": name, "reason": reason}
        self.storage.write(
            self.container, f"{folder}/reason.json", orjson.dumps(reason_doc) + b"\n"
        )
        return self.storage.describe(self.container, f"{folder}/{safe_name}")
