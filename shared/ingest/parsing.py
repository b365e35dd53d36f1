"""Streaming readers for export files: CSV (any dialect), JSON arrays, JSON Lines, gzip.

Memory stays bounded by the largest single row, never the file: CSV is read line by
line with a cap on each row's length (longer rows are skipped, quote-aware, and reported
as oversized), JSON arrays item by item (ijson), JSON Lines line by line with a cap.
Row-level problems become :class:`BadRow` (quarantined with line and reason); problems
with the file as a whole raise :class:`UnreadableFileError`.
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
from shared.ingest.sources import SourceMapping

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 8192
CANDIDATE_DELIMITERS = ",;\t|"
# A Unicode noncharacter: cannot occur in a real export, marks a line we cut off.
OVERSIZED_LINE = "\ufdd0insightloop:oversized-line\ufdd0"
# Undecodable input bytes become lone surrogates (see _escape_undecodable).
_SURROGATES = re.compile("[\ud800-\udfff]")
ESCAPE_ERRORS = "insightloop-escape"
_READ_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _escape_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: every undecodable byte becomes a lone surrogate.

    Like "surrogateescape", but also for bytes below 0x80 (UTF-16/32 errors), so a bad
    row is flagged by _SURROGATES instead of aborting the whole file.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), exc.end


codecs.register_error(ESCAPE_ERRORS, _escape_undecodable)


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


class _GunzipReader(io.RawIOBase):
    """Streaming gunzip of every member that hands out all bytes before a truncation.

    ``gzip.GzipFile`` discards what it decompressed in the read call that meets a cut-off
    end, so rows just before the cut (or all of a small file) would be lost; this returns
    them first and raises EOFError on the next read.
    """

    CHUNK = 256 * 1024

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._inflate = zlib.decompressobj(wbits=31)  # gzip wrapper: header and CRC checked
        self._error: Exception | None = None
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._error is not None:
            raise self._error
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and not self._done:
            try:
                data = self._inflate_some(len(view) - filled)
            except _READ_ERRORS as exc:
                if not filled:
                    raise
                self._error = exc  # hand out what we have; fail on the next read
                break
            view[filled : filled + len(data)] = data
            filled += len(data)
        return filled

    def _inflate_some(self, size: int) -> bytes:
        """Up to ``size`` decompressed bytes (at least one), or b"" at the clean end."""
        while True:
            inflate = self._inflate
            if inflate.eof:
                data = inflate.unused_data
                while not (data := data.lstrip(b"\x00")):  # NUL padding is allowed
                    data = self._inner.read(self.CHUNK)
                    if not data:
                        self._done = True
                        return b""
                if data[:1] != GZIP_MAGIC[:1]:
                    raise gzip.BadGzipFile("unexpected bytes after the end of the gzip data")
                inflate = self._inflate = zlib.decompressobj(wbits=31)  # next member
            elif inflate.unconsumed_tail:
                data = inflate.unconsumed_tail
            else:
                data = self._inner.read(self.CHUNK)
                if not data:
                    raise EOFError(
                        "compressed file ended before the end-of-stream marker was reached"
                    )
            if out := inflate.decompress(data, size):
                return out

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_decompressed(stream: BinaryIO) -> io.BufferedReader:
    """Transparently gunzip (detected by magic bytes, not by file name)."""
    buffered = _peekable(stream)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return io.BufferedReader(_GunzipReader(buffered), 1024 * 1024)  # type: ignore[arg-type]
    return buffered


def _unreadable(exc: Exception) -> UnreadableFileError:
    if isinstance(exc, EOFError):
        return UnreadableFileError(
            f"compressed stream is truncated: {exc}; rows before the cut were read"
        )
    return UnreadableFileError(f"compressed stream is corrupt: {exc}")


def _head(stream: io.BufferedReader) -> bytes:
    try:
        return stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    except _READ_ERRORS as exc:
        raise _unreadable(exc) from exc


def _dig(value: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


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
            first = orjson.loads(first_line)
        except orjson.JSONDecodeError:
            return "json"
        # A one-line export object ({"tickets": [...]}) is a JSON document, not JSON Lines.
        if mapping.records_path and isinstance(_dig(first, mapping.records_path), list):
            return "json"
        return "jsonl"
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
        raise _unreadable(exc) from exc


# ------------------------------------------------------------------------ CSV


# csv.reader states, as far as skipping an oversized record needs them.
_START, _IN_FIELD, _IN_QUOTES, _QUOTE_IN_QUOTES, _END = range(5)
SKIP_CHUNK = 64 * 1024


class _LineSource:
    """Physical lines for csv.reader, with every row capped at ``limit`` characters.

    csv.reader pulls one physical line at a time and never reads ahead, so the lines
    pulled between two rows are exactly the lines of the row being parsed, and every
    line after its first starts inside a quoted field. A row that grows past the limit
    is skipped to its end (quote-aware, without being held) and replaced by one
    synthetic line that ends the record. ``oversized`` and ``undecodable`` describe the
    row being parsed and are reset by :meth:`end_row`; ``line_count`` counts physical
    lines consumed, so row positions stay exact however rows are cut.
    """

    def __init__(self, text: io.TextIOWrapper, limit: int, delimiter: str, quotechar: str):
        self._text = text
        self._limit = limit
        self.delimiter = delimiter
        self.quotechar = quotechar
        q = re.escape(quotechar)
        self._quoted_body = re.compile(f"[^{q}]*+(?:{q}{q}[^{q}]*+)*+")
        self._carry = ""
        self.line_count = 0
        self.row_chars = 0
        self.row_lines = 0
        self.oversized = False
        self.undecodable = False

    def end_row(self) -> None:
        self.row_chars = self.row_lines = 0
        self.oversized = self.undecodable = False

    def _readline(self, size: int) -> str:
        """``readline(size)`` that never splits a CRLF pair at the size limit."""
        line, self._carry = self._carry, ""
        if line != "\r":
            line += self._text.readline(size - len(line))
        if line.endswith("\r") and (len(line) >= size or len(line) == 1):
            following = self._text.read(1)
            if following == "\n":
                line += following
            else:
                self._carry = following
        return line

    def __iter__(self) -> Iterator[str]:
        limit, readline = self._limit, self._readline
        while True:
            # Room for the rest of the row plus a CRLF; anything longer is over the limit.
            budget = max(limit - self.row_chars, 0) + 2
            line = readline(budget)
            if not line:
                return
            last = line[-1]
            if last == "\n":
                content = len(line) - (2 if line.endswith("\r\n") else 1)
            else:
                content = len(line) - (last == "\r")
            if self.row_chars + content > limit:
                continuation = self.row_lines > 0
                self._skip_record(line, _IN_QUOTES if continuation else _START)
                self.oversized = True
                # Inside a quoted field a closing quote ends the field and the record.
                yield OVERSIZED_LINE + (self.quotechar if continuation else "") + "\n"
                continue
            self.line_count += 1
            self.row_chars += len(line)
            self.row_lines += 1
            if not line.isascii() and _SURROGATES.search(line):
                self.undecodable = True
            yield line

    def _skip_record(self, piece: str, state: int) -> None:
        """Consume the rest of the record ``piece`` belongs to, counting its lines."""
        while piece:
            state = self._scan(piece, state)
            ended = piece[-1] == "\n" or piece[-1] == "\r"
            if ended:
                self.line_count += 1
                if state == _END:
                    return
            piece = self._readline(SKIP_CHUNK)
            if not piece and not ended:
                self.line_count += 1  # the file's last line has no line break

    def _scan(self, piece: str, state: int) -> int:
        """Advance a csv.reader-like state machine (doublequote, no escapechar).

        Works a field at a time with str.find and one regex, so a cut-off row costs
        C speed however many quotes or delimiters it holds. A line break only ever
        ends a piece (readline), so _END means the record ends with this piece.
        """
        delimiter, quote = self.delimiter, self.quotechar
        opening = delimiter + quote
        quoted_body = self._quoted_body.match
        i, n = 0, len(piece)
        while i < n:
            if state == _IN_QUOTES:
                i = quoted_body(piece, i).end()  # up to a quote that is not doubled
                if i == n:
                    return _IN_QUOTES
                state, i = _QUOTE_IN_QUOTES, i + 1
                continue
            if state != _IN_FIELD:  # start of a field or just after a closing quote
                char = piece[i]
                if char == quote:
                    state, i = _IN_QUOTES, i + 1
                    continue
                if char == "\n" or char == "\r":
                    return _END
            # Unquoted text: runs to the next field that opens with a quote, or line end.
            j = piece.find(opening, i)
            if j < 0:
                last = piece[-1]
                if last == "\n" or last == "\r":
                    return _END
                return _START if last == delimiter else _IN_FIELD
            state, i = _IN_QUOTES, j + 2
        return state


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


def _raw_text(row: list[str], delimiter: str) -> str:
    return _SURROGATES.sub("\ufffd", delimiter.join(row))


def _read_csv(
    stream: io.BufferedReader, mapping: SourceMapping, head: bytes, limit: int
) -> Iterator[ParsedRow | BadRow]:
    encoding = _text_encoding(head, mapping.csv.encoding)
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise UnreadableFileError(f"unknown encoding {encoding!r} in the mapping") from exc
    # surrogateescape (fast, C) covers every codec whose bad bytes are all >= 0x80.
    errors = ESCAPE_ERRORS if codec.startswith(("utf-16", "utf-32")) else "surrogateescape"
    text = io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline="")
    quotechar = mapping.csv.quotechar
    lines = _LineSource(text, limit, mapping.csv.delimiter or ",", quotechar)
    line_iter = iter(lines)
    first = next(line_iter, "")
    while first and not first.strip() and not lines.oversized:
        lines.end_row()  # blank lines before the header
        first = next(line_iter, "")
    if not first:
        raise UnreadableFileError("no header row (the file is empty or has only blank lines)")
    if lines.oversized:
        raise UnreadableFileError(
            f"the header line is longer than {limit:,} characters: not a CSV export"
        )
    if lines.undecodable:
        raise UnreadableFileError(
            f"the header line is not readable as {encoding} text (binary or wrong encoding)"
        )
    delimiter = lines.delimiter = mapping.csv.delimiter or _detect_delimiter(first)
    # csv's field cap is process-wide; rows are already capped, so this only lifts it.
    csv.field_size_limit(max(csv.field_size_limit(), limit + len(OVERSIZED_LINE) + 2))

    def all_lines() -> Iterator[str]:
        yield first
        yield from line_iter

    reader = csv.reader(all_lines(), delimiter=delimiter, quotechar=quotechar)
    header = [column.strip().lstrip("\ufeff") for column in next(reader)]
    if lines.oversized:
        raise UnreadableFileError(f"the header row is longer than {limit:,} characters")
    if lines.undecodable:
        raise UnreadableFileError(f"the header row is not readable as {encoding} text")
    lines.end_row()
    missing = [c for c in mapping.required_columns if c not in header]
    if missing:
        shown = ", ".join(repr(c) for c in header[:12]) + (" ..." if len(header) > 12 else "")
        raise UnreadableFileError(
            f"header lacks required column(s) {missing} for source {mapping.name!r} "
            f"(read with delimiter {delimiter!r}; found {len(header)} column(s): {shown})"
        )
    width = len(header)
    index = 0
    last_line = lines.line_count
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            index += 1
            start, last_line = last_line + 1, lines.line_count
            lines.end_row()
            yield BadRow(index, start, "malformed_row", f"CSV syntax error: {exc}")
            continue
        start, last_line = last_line + 1, lines.line_count
        oversized, undecodable = lines.oversized, lines.undecodable
        lines.end_row()
        if oversized:
            index += 1
            yield BadRow(
                index,
                start,
                "oversized_row",
                f"the row is longer than {limit:,} characters (INSIGHTLOOP_MAX_ROW_CHARS)",
            )
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        index += 1
        if undecodable:
            yield BadRow(
                index,
                start,
                "bad_encoding",
                f"row is not valid {encoding} text",
                _raw_text(row, delimiter),
            )
        elif len(row) != width:
            yield BadRow(
                index,
                start,
                "wrong_column_count",
                f"expected {width} columns, found {len(row)}",
                _raw_text(row, delimiter),
            )
        else:
            yield ParsedRow(index, start, dict(zip(header, row, strict=True)))


# ----------------------------------------------------------------------- JSON

JSON_WHITESPACE = b" \t\r\n"
# An empty records array is told apart from a missing one by re-reading this much.
KEEP_FOR_EMPTY_CHECK = 1024 * 1024


def _skip_bom(stream: io.BufferedReader) -> None:
    if stream.peek(3)[:3] == codecs.BOM_UTF8:
        stream.read(3)


def _first_byte(stream: io.BufferedReader) -> bytes:
    """The first non-whitespace byte, consuming only the whitespace before it."""
    while chunk := stream.peek(SNIFF_BYTES):
        stripped = chunk.lstrip(JSON_WHITESPACE)
        if stripped:
            stream.read(len(chunk) - len(stripped))
            return stripped[:1]
        stream.read(len(chunk))
    return b""


def _json_raw(item: Any) -> str:
    try:
        return orjson.dumps(item).decode()[:1000]
    except (TypeError, orjson.JSONEncodeError):
        return repr(item)[:1000]


class _KeepStart:
    """Reads through to a stream and keeps its first bytes (small documents only)."""

    def __init__(self, stream: io.BufferedReader, keep: int) -> None:
        self._stream = stream
        self._keep = keep
        self.kept: bytearray | None = bytearray()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self.kept is not None:
            if len(self.kept) + len(data) <= self._keep:
                self.kept += data
            else:
                self.kept = None  # too big to keep: the document is not a tiny empty export
        return data


def _read_json(
    stream: io.BufferedReader, mapping: SourceMapping, head: bytes, limit: int
) -> Iterator[ParsedRow | BadRow]:
    _skip_bom(stream)
    top = _first_byte(stream)
    if not top:
        raise UnreadableFileError("no JSON document: the file has only whitespace")
    path = mapping.records_path
    if top == b"[":
        prefix = "item"
    elif top == b"{":
        prefix = f"{path}.item" if path else ""
    else:
        raise UnreadableFileError(
            f"not JSON: expected '[' or '{{' at the start, found {top.decode('latin-1')!r}"
        )
    source = _KeepStart(stream, KEEP_FOR_EMPTY_CHECK) if prefix.endswith(".item") else stream
    index = 0
    try:
        for index, item in enumerate(ijson.items(source, prefix, use_float=True), 1):
            if isinstance(item, dict):
                yield ParsedRow(index, None, item)
            else:
                yield BadRow(
                    index,
                    None,
                    "invalid_record",
                    f"expected a JSON object, got {type(item).__name__}",
                    _json_raw(item),
                )
    except ijson.JSONError as exc:
        raise UnreadableFileError(f"invalid JSON after {index} record(s): {exc}") from exc
    if index == 0 and isinstance(source, _KeepStart):
        # No items: an empty export ({"tickets": []}) is fine, a missing array is not.
        kept = source.kept
        found = _dig(orjson.loads(bytes(kept)), path) if kept is not None else None
        if not isinstance(found, list):
            what = "" if kept is None else f" (found {type(found).__name__})"
            raise UnreadableFileError(f"no records: the JSON object has no {path!r} array{what}")


def _read_jsonl(
    stream: io.BufferedReader, mapping: SourceMapping, head: bytes, limit: int
) -> Iterator[ParsedRow | BadRow]:
    _skip_bom(stream)
    index = 0
    line_no = 0
    while line := stream.readline(limit + 2):
        line_no += 1
        if not line.endswith(b"\n") and len(line) == limit + 2:
            # Longer than the limit: skip the rest of the line without holding it.
            while (more := stream.readline(SKIP_CHUNK)) and not more.endswith(b"\n"):
                pass
            index += 1
            yield BadRow(
                index,
                line_no,
                "oversized_row",
                f"the line is longer than {limit:,} bytes (INSIGHTLOOP_MAX_ROW_CHARS)",
            )
            continue
        if not line.strip():
            continue
        if len(line.rstrip(b"\r\n")) > limit:
            index += 1
            yield BadRow(
                index,
                line_no,
                "oversized_row",
                f"the line is longer than {limit:,} bytes (INSIGHTLOOP_MAX_ROW_CHARS)",
            )
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
    if index == 0:
        raise UnreadableFileError("no records: the file has only blank lines")
