"""Streaming readers for export files: CSV (any dialect), JSON arrays, JSON Lines, gzip.

Memory stays bounded by the largest single row, never the file: CSV is read line by
line with a cap on line length, JSON arrays item by item (ijson), JSON Lines line by
line. Row-level problems become :class:`BadRow` (quarantined with line and reason);
problems with the file as a whole raise :class:`UnreadableFileError`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import ijson
import orjson

from shared.errors import UnreadableFileError
from shared.sources import SourceMapping

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 8192
CANDIDATE_DELIMITERS = ",;\t|"
# A Unicode noncharacter: cannot occur in a real export, marks a line we cut off.
OVERSIZED_LINE = "\ufdd0insightloop:oversized-line\ufdd0"
_SURROGATES = re.compile("[\udc80-\udcff]")
_READ_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


@dataclass(slots=True)
class ParsedRow:
    """One input row as a mapping from column (or JSON key) to value."""

    index: int
    line: int | None
    values: Mapping[str, Any]


@dataclass(slots=True)
class BadRow:
    """One input row that cannot become a record, and why."""

    index: int
    line: int | None
    reason: str
    detail: str
    raw: str | None = None


class CountingReader(io.RawIOBase):
    """Passes bytes through and reports how many were read (for progress bars)."""

    def __init__(self, inner: BinaryIO, on_read: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        if size:
            self._on_read(size)
        return size

    def close(self) -> None:
        self._inner.close()
        super().close()


def _peekable(stream: BinaryIO) -> io.BufferedReader:
    if isinstance(stream, io.BufferedReader):
        return stream
    return io.BufferedReader(stream, 1024 * 1024)  # type: ignore[arg-type]


def open_decompressed(stream: BinaryIO) -> io.BufferedReader:
    """Transparently gunzip (detected by magic bytes, not by file name)."""
    buffered = _peekable(stream)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), 1024 * 1024)  # type: ignore[arg-type]
    return buffered


def _head(stream: io.BufferedReader) -> bytes:
    try:
        return stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    except _READ_ERRORS as exc:
        raise UnreadableFileError(f"compressed stream is corrupt: {exc}") from exc


def detect_format(mapping: SourceMapping, name: str, head: bytes) -> str:
    """The mapping's format, else the file extension, else the first bytes."""
    if mapping.format != "auto":
        return mapping.format
    base = name.lower().removesuffix(".gz")
    for suffixes, fmt in (
        ((".csv", ".tsv", ".txt"), "csv"),
        ((".jsonl", ".ndjson"), "jsonl"),
        ((".json",), "json"),
    ):
        if base.endswith(suffixes):
            return fmt
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        first_line = stripped.split(b"\n", 1)[0]
        try:
            orjson.loads(first_line)
            return "jsonl"
        except orjson.JSONDecodeError:
            return "json"
    return "csv"


def _check_text(head: bytes) -> None:
    if not head:
        raise UnreadableFileError("empty file (0 bytes after decompression)")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFileError(
            "binary content (NUL bytes in the first 8 KiB): not a text export"
        )


def read_rows(
    stream: BinaryIO, mapping: SourceMapping, name: str, *, max_row_chars: int
) -> Iterator[ParsedRow | BadRow]:
    """Yield every row of an export file, good or bad, in input order."""
    decompressed = open_decompressed(stream)
    head = _head(decompressed)
    _check_text(head)
    fmt = detect_format(mapping, name, head)
    readers = {"csv": _read_csv, "json": _read_json, "jsonl": _read_jsonl}
    try:
        yield from readers[fmt](decompressed, mapping, head, max_row_chars)
    except _READ_ERRORS as exc:
        raise UnreadableFileError(f"compressed stream is truncated or corrupt: {exc}") from exc


# ------------------------------------------------------------------------ CSV


class _LineSource:
    """Physical lines for csv.reader, with over-long lines cut and bad bytes noted."""

    def __init__(self, text: io.TextIOBase, limit: int) -> None:
        self._text = text
        self._limit = limit
        self.line_count = 0
        self.undecodable_lines: list[int] = []

    def __iter__(self) -> Iterator[str]:
        readline, limit = self._text.readline, self._limit
        while line := readline(limit):
            self.line_count += 1
            if len(line) >= limit and line[-1] not in "\r\n":
                # Drain the rest of the physical line; the row is reported as oversized.
                while (more := readline(limit)) and more[-1] not in "\r\n":
                    pass
                yield OVERSIZED_LINE + "\n"
                continue
            if not line.isascii() and _SURROGATES.search(line):
                self.undecodable_lines.append(self.line_count)
            yield line


def _text_encoding(head: bytes, configured: str) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return configured


def _detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _raw_text(row: list[str]) -> str:
    joined = ",".join(row)
    return joined.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_csv(
    stream: io.BufferedReader, mapping: SourceMapping, head: bytes, limit: int
) -> Iterator[ParsedRow | BadRow]:
    encoding = _text_encoding(head, mapping.csv.encoding)
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise UnreadableFileError(f"unknown encoding {encoding!r} in the mapping") from exc
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    lines = _LineSource(text, limit)
    line_iter = iter(lines)
    first = next(line_iter, "")
    while first and not first.strip():
        first = next(line_iter, "")
    if not first:
        raise UnreadableFileError("no header row (the file has only blank lines)")
    if first.startswith(OVERSIZED_LINE) or lines.undecodable_lines:
        raise UnreadableFileError(
            f"the header line is not readable as {encoding} text (binary or wrong encoding)"
        )
    delimiter = mapping.csv.delimiter or _detect_delimiter(first)
    # csv's field cap is process-wide; lines are already capped, so this only lifts it.
    csv.field_size_limit(max(csv.field_size_limit(), limit + 1))

    def all_lines() -> Iterator[str]:
        yield first
        yield from line_iter

    reader = csv.reader(all_lines(), delimiter=delimiter, quotechar=mapping.csv.quotechar)
    header = [column.strip().lstrip("\ufeff") for column in next(reader)]
    missing = [c for c in mapping.required_columns if c not in header]
    if missing:
        shown = ", ".join(repr(c) for c in header[:12]) + (" ..." if len(header) > 12 else "")
        raise UnreadableFileError(
            f"header lacks required column(s) {missing} for source {mapping.name!r} "
            f"(read with delimiter {delimiter!r}; found {len(header)} column(s): {shown})"
        )
    width = len(header)
    index = 0
    last_line = reader.line_num
    undecodable = lines.undecodable_lines
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            index += 1
            start, last_line = last_line + 1, reader.line_num
            yield BadRow(index, start, "malformed_row", f"CSV syntax error: {exc}")
            continue
        start, last_line = last_line + 1, reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        index += 1
        if any(OVERSIZED_LINE in field for field in row):
            yield BadRow(
                index,
                start,
                "oversized_row",
                f"a line is longer than {limit:,} characters (INSIGHTLOOP_MAX_ROW_CHARS)",
            )
        elif undecodable and undecodable[0] <= last_line:
            while undecodable and undecodable[0] <= last_line:
                undecodable.pop(0)
            yield BadRow(
                index, start, "bad_encoding", f"row is not valid {encoding}", _raw_text(row)
            )
        elif len(row) != width:
            yield BadRow(
                index,
                start,
                "wrong_column_count",
                f"expected {width} columns, found {len(row)}",
                _raw_text(row),
            )
        else:
            yield ParsedRow(index, start, dict(zip(header, row, strict=True)))


# ----------------------------------------------------------------------- JSON


def _skip_bom(stream: io.BufferedReader) -> None:
    if stream.peek(3)[:3] == codecs.BOM_UTF8:
        stream.read(3)


def _read_json(
    stream: io.BufferedReader, mapping: SourceMapping, head: bytes, limit: int
) -> Iterator[ParsedRow | BadRow]:
    _skip_bom(stream)
    top = head.lstrip(codecs.BOM_UTF8).lstrip()[:1]
    if top == b"[":
        prefix = "item"
    elif top == b"{":
        prefix = f"{mapping.records_path}.item" if mapping.records_path else ""
    else:
        raise UnreadableFileError("not JSON: expected '[' or '{' at the start")
    index = 0
    try:
        for index, item in enumerate(ijson.items(stream, prefix, use_float=True), 1):
            if isinstance(item, dict):
                yield ParsedRow(index, None, item)
            else:
                yield BadRow(
                    index,
                    None,
                    "invalid_record",
                    f"expected a JSON object, got {type(item).__name__}",
                    orjson.dumps(item).decode()[:1000],
                )
    except ijson.JSONError as exc:
        raise UnreadableFileError(f"invalid JSON after {index} record(s): {exc}") from exc
    if index == 0 and prefix.endswith(".item"):
        raise UnreadableFileError(
            f"no records: the JSON object has no {mapping.records_path!r} array"
        )


def _read_jsonl(
    stream: io.BufferedReader, mapping: SourceMapping, head: bytes, limit: int
) -> Iterator[ParsedRow | BadRow]:
    _skip_bom(stream)
    index = 0
    line_no = 0
    while line := stream.readline(limit):
        line_no += 1
        if len(line) >= limit and not line.endswith(b"\n"):
            while (more := stream.readline(limit)) and not more.endswith(b"\n"):
                pass
            index += 1
            yield BadRow(
                index,
                line_no,
                "oversized_row",
                f"a line is longer than {limit:,} bytes (INSIGHTLOOP_MAX_ROW_CHARS)",
            )
            continue
        if not line.strip():
            continue
        index += 1
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            reason = "bad_encoding" if "utf-8" in str(exc).lower() else "invalid_json"
            raw = line.decode("utf-8", "replace")[:1000]
            yield BadRow(index, line_no, reason, f"not a JSON object: {exc}", raw)
            continue
        if isinstance(item, dict):
            yield ParsedRow(index, line_no, item)
        else:
            yield BadRow(
                index,
                line_no,
                "invalid_record",
                f"expected a JSON object, got {type(item).__name__}",
                line.decode("utf-8", "replace")[:1000],
            )
