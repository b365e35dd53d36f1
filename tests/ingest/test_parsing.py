"""Unit tests of the streaming readers: CSV dialects, JSON, JSON Lines, gzip, bad rows.

Every input is built in the test; nothing reads samples/ or ../shared.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import zlib
from typing import Any

import orjson
import pytest

import shared.ingest.parsing
from shared.errors import UnreadableFileError
from shared.ingest.parsing import BadRow, CountingReader, ParsedRow, detect_format, read_rows
from shared.ingest.sources import SourceMapping

LIMIT = 4096


def mapping(**overrides: Any) -> SourceMapping:
    fields = overrides.pop("fields", {"text": "text", "created_at": "created_at"})
    return SourceMapping(name="t", channel="review", fields=fields, **overrides)


def parse(
    data: bytes, name: str = "export.csv", *, limit: int = LIMIT, **overrides: Any
) -> list[ParsedRow | BadRow]:
    return list(read_rows(io.BytesIO(data), mapping(**overrides), name, max_row_chars=limit))


def good(rows: list[ParsedRow | BadRow]) -> list[tuple[int | None, dict[str, Any]]]:
    return [(row.line, dict(row.values)) for row in rows if isinstance(row, ParsedRow)]


def bad(rows: list[ParsedRow | BadRow]) -> list[tuple[int | None, str]]:
    return [(row.line, row.reason) for row in rows if isinstance(row, BadRow)]


def shape(rows: list[ParsedRow | BadRow]) -> list[tuple[int, int | None, str]]:
    """(index, line, "ok" or the reason) for every row, in order."""
    return [(row.index, row.line, row.reason if isinstance(row, BadRow) else "ok") for row in rows]


# ----------------------------------------------------------------- CSV dialects


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_detected_from_the_header_line(delimiter: str) -> None:
    others = "".join(d for d in ",;\t|" if d != delimiter)
    lines = [
        delimiter.join(["id", "text", "created_at"]),
        delimiter.join(["1", f"uses {others!r} inside", "2024-01-01"]),
        delimiter.join(["2", "plain", "2024-01-02"]),
    ]
    rows = parse(("\n".join(lines) + "\n").encode())
    assert good(rows) == [
        (2, {"id": "1", "text": f"uses {others!r} inside", "created_at": "2024-01-01"}),
        (3, {"id": "2", "text": "plain", "created_at": "2024-01-02"}),
    ]


def test_a_fixed_delimiter_wins_over_detection() -> None:
    # The quoted column name holds more commas than the header has semicolons.
    data = b'text;created_at;"a,b,c,d"\nhello, world;2024-01-01;x\n'
    with pytest.raises(UnreadableFileError, match="delimiter ','"):
        parse(data)
    rows = parse(data, csv={"delimiter": ";"})
    assert good(rows) == [(2, {"text": "hello, world", "created_at": "2024-01-01", "a,b,c,d": "x"})]


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(lambda s: s.encode("utf-8-sig"), id="utf-8-bom"),
        pytest.param(lambda s: s.encode("utf-16"), id="utf-16-native-bom"),
        pytest.param(lambda s: b"\xff\xfe" + s.encode("utf-16-le"), id="utf-16-le-bom"),
        pytest.param(lambda s: b"\xfe\xff" + s.encode("utf-16-be"), id="utf-16-be-bom"),
    ],
)
def test_a_byte_order_mark_selects_the_encoding_and_is_not_part_of_the_header(
    encoded: Any,
) -> None:
    text = "text;created_at\r\nGrüße aus Köln ✓;2024-01-01\r\n日本語のレビュー;2024-01-02\r\n"
    # The mapping says cp1252: a BOM always wins.
    rows = parse(encoded(text), csv={"encoding": "cp1252"})
    assert good(rows) == [
        (2, {"text": "Grüße aus Köln ✓", "created_at": "2024-01-01"}),
        (3, {"text": "日本語のレビュー", "created_at": "2024-01-02"}),
    ]


def test_the_configured_encoding_is_used_without_a_bom() -> None:
    data = "text,created_at\ncafé crème,2024-01-01\n".encode("cp1252")
    assert good(parse(data, csv={"encoding": "cp1252"})) == [
        (2, {"text": "café crème", "created_at": "2024-01-01"})
    ]
    # The same bytes read as UTF-8 are not valid text: that row is quarantined.
    assert bad(parse(data)) == [(2, "bad_encoding")]


def test_an_unknown_encoding_in_the_mapping_is_a_file_error() -> None:
    with pytest.raises(UnreadableFileError, match="unknown encoding 'no-such-codec'"):
        parse(b"text,created_at\na,b\n", csv={"encoding": "no-such-codec"})


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_line_numbers_are_where_each_row_starts_across_embedded_newlines(newline: str) -> None:
    nl = newline
    text = (
        f"text,created_at{nl}"
        f'"first line{nl}second line",2024-01-01{nl}'  # lines 2-3
        f"single,2024-01-02{nl}"  # line 4
        f'"a{nl}b{nl}""quoted""{nl}c",2024-01-03{nl}'  # lines 5-8
        f"last,2024-01-04"  # line 9, no final newline
    )
    rows = parse(text.encode())
    assert good(rows) == [
        (2, {"text": f"first line{nl}second line", "created_at": "2024-01-01"}),
        (4, {"text": "single", "created_at": "2024-01-02"}),
        (5, {"text": f'a{nl}b{nl}"quoted"{nl}c', "created_at": "2024-01-03"}),
        (9, {"text": "last", "created_at": "2024-01-04"}),
    ]
    assert [row.index for row in rows] == [1, 2, 3, 4]


def test_blank_lines_are_skipped_not_counted_and_do_not_shift_line_numbers() -> None:
    data = (
        b"\n\r\n"  # lines 1-2: blank lines before the header
        b"text,created_at\n"  # line 3
        b"\n"  # 4
        b"a,2024-01-01\n"  # 5
        b"   \n"  # 6: whitespace only
        b"\n"  # 7
        b"b\xff broken,2024-01-02\n"  # 8: invalid UTF-8
        b"c,2024-01-03\n"  # 9
        b"\n\n"
    )
    rows = parse(data)
    assert shape(rows) == [(1, 5, "ok"), (2, 8, "bad_encoding"), (3, 9, "ok")]
    assert good(rows)[1] == (9, {"text": "c", "created_at": "2024-01-03"})


def test_a_header_only_csv_has_no_rows_and_no_error() -> None:
    assert parse(b"text,created_at\r\n") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\n \n\r\n", "no header row"),
        (b"id,body,date\n1,x,2024\n", r"lacks required column\(s\) \['text', 'created_at'\]"),
        (b"\xc3\x28\xa0\xa1,text\n", "header line is not readable as utf-8"),
    ],
    ids=["only-blank-lines", "missing-columns", "undecodable-header"],
)
def test_an_unusable_header_is_a_file_error(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFileError, match=message):
        parse(data)


def test_a_missing_column_error_names_the_delimiter_and_the_columns_found() -> None:
    with pytest.raises(UnreadableFileError) as caught:
        parse(b"text;created_at\nhello;2024-01-01\n", csv={"delimiter": ","})
    message = str(caught.value)
    assert "['text', 'created_at']" in message
    assert "delimiter ','" in message
    assert "found 1 column(s): 'text;created_at'" in message


# -------------------------------------------------------------- CSV bad rows


@pytest.mark.parametrize(
    ("row", "detail"),
    [
        (b"only-one-cell", "expected 3 columns, found 1"),
        (b"a,2024-01-01,x,extra", "expected 3 columns, found 4"),
    ],
    ids=["too-few", "too-many"],
)
def test_a_row_with_the_wrong_column_count_is_quarantined_alone(row: bytes, detail: str) -> None:
    data = b"text,created_at,note\nbefore,2024-01-01,n\n" + row + b"\nafter,2024-01-02,n\n"
    rows = parse(data)
    assert shape(rows) == [(1, 2, "ok"), (2, 3, "wrong_column_count"), (3, 4, "ok")]
    assert rows[1].detail == detail  # type: ignore[union-attr]
    assert rows[1].raw == row.decode()  # type: ignore[union-attr]


def test_invalid_utf8_quarantines_only_that_row_with_the_readable_rest_as_raw() -> None:
    data = (
        "text,created_at\nGrüße,2024-01-01\n".encode()
        + b"caf\xe9 au lait,2024-01-02\n"  # cp1252 byte in a UTF-8 file
        + "naïve ✓,2024-01-03\n".encode()
    )
    rows = parse(data)
    assert shape(rows) == [(1, 2, "ok"), (2, 3, "bad_encoding"), (3, 4, "ok")]
    assert rows[1].raw == "caf\ufffd au lait,2024-01-02"  # type: ignore[union-attr]
    assert rows[1].detail == "row is not valid utf-8 text"  # type: ignore[union-attr]
    assert good(rows)[1][1]["text"] == "naïve ✓"


def test_invalid_bytes_inside_a_multiline_field_flag_that_row_only() -> None:
    data = b'text,created_at\n"line one\nline \xff two",2024-01-01\nok,2024-01-02\n'
    assert shape(parse(data)) == [(1, 2, "bad_encoding"), (2, 4, "ok")]


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"A", id="odd-trailing-byte"),
        pytest.param(b"\x00\xd8A\x00,\x00x\x00\n\x00", id="lone-surrogate"),
    ],
)
def test_invalid_utf16_is_a_bad_row_not_a_crash(tail: bytes) -> None:
    data = b"\xff\xfe" + "text,created_at\nok,2024-01-01\n".encode("utf-16-le") + tail
    rows = parse(data)
    assert shape(rows) == [(1, 2, "ok"), (2, 3, "bad_encoding")]
    assert rows[1].detail == "row is not valid utf-16 text"  # type: ignore[union-attr]


def test_a_row_longer_than_max_row_chars_is_oversized_and_the_next_rows_parse() -> None:
    huge = "x" * 50_000
    data = f"text,created_at\nbefore,2024-01-01\n{huge},2024-01-02\nafter,2024-01-03\n"
    rows = parse(data.encode(), limit=LIMIT)
    assert shape(rows) == [(1, 2, "ok"), (2, 3, "oversized_row"), (3, 4, "ok")]
    assert rows[1].raw is None  # type: ignore[union-attr]
    assert "4,096 characters" in rows[1].detail  # type: ignore[union-attr]
    assert good(rows)[1] == (4, {"text": "after", "created_at": "2024-01-03"})


def test_an_oversized_quoted_field_spanning_lines_is_skipped_to_its_closing_quote() -> None:
    # 50 KB of short lines with quotes and delimiters: every line is under the limit,
    # the row is not; the parser must resume exactly after the closing quote.
    body = 'he said ""stop, now"", then left\n' * 1500
    data = (
        f'text,created_at\nbefore,2024-01-01\n"{body}",2024-01-02\n'
        f'"after, quoted",2024-01-03\nlast,2024-01-04\n'
    )
    rows = parse(data.encode(), limit=LIMIT)
    after_line = 3 + body.count("\n") + 1
    assert shape(rows) == [
        (1, 2, "ok"),
        (2, 3, "oversized_row"),
        (3, after_line, "ok"),
        (4, after_line + 1, "ok"),
    ]
    assert good(rows)[1][1] == {"text": "after, quoted", "created_at": "2024-01-03"}


def test_a_long_first_line_that_opens_a_quoted_field_does_not_leak_its_tail_as_a_row() -> None:
    data = f'text,created_at\n"{"y" * 10_000}\ntail, "not a row",2024-01-01\nok,2024-01-02\n'
    assert shape(parse(data.encode())) == [(1, 2, "oversized_row"), (2, 4, "ok")]


@pytest.mark.parametrize(
    ("newline", "extra", "expected"),
    [
        ("\n", 0, "ok"),
        ("\n", 1, "oversized_row"),
        ("\r\n", 0, "ok"),
        ("\r\n", 1, "oversized_row"),
        ("", 0, "ok"),  # the last line without a line break
        ("", 1, "oversized_row"),
    ],
)
def test_max_row_chars_is_exact_and_excludes_the_line_break(
    newline: str, extra: int, expected: str
) -> None:
    suffix = ",2024-01-01"
    text = "t" * (LIMIT - len(suffix) + extra)
    data = f"text,created_at\r\n{text}{suffix}{newline}".encode()
    assert shape(parse(data, limit=LIMIT)) == [(1, 2, expected)]


def _reference(text: str, limit: int) -> list[tuple[int, str, tuple[str, ...] | None]]:
    """What read_rows should yield, from csv.reader over the whole text."""
    physical = io.StringIO(text, newline="").readlines()
    consumed: list[str] = []

    def feed() -> Any:
        for line in physical:
            consumed.append(line)
            yield line

    reader = csv.reader(feed())
    width = len(next(reader))
    expected: list[tuple[int, str, tuple[str, ...] | None]] = []
    last = len(consumed)
    for row in reader:
        body = "".join(consumed[last:])
        start, last = last + 1, len(consumed)
        size = len(body) - (2 if body.endswith("\r\n") else body.endswith(("\r", "\n")))
        if size > limit:
            expected.append((start, "oversized_row", None))
        elif not row or (len(row) == 1 and not row[0].strip()):
            continue
        elif len(row) != width:
            expected.append((start, "wrong_column_count", None))
        else:
            expected.append((start, "ok", tuple(row)))
    return expected


@pytest.mark.parametrize("skip_chunk", [2, 7, 64 * 1024])
def test_row_cutting_agrees_with_the_csv_module_on_random_input(
    skip_chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared.ingest.parsing, "SKIP_CHUNK", skip_chunk)
    rng = random.Random(20240501 + skip_chunk)
    pieces = ["x", "y z", ",", '"', '""', "\n", "\r\n", "\r", " "]
    weights = [8, 8, 3, 2, 1, 2, 1, 0.3, 1]
    fixed = mapping(fields={"text": "a", "created_at": "b"}, csv={"delimiter": ","})
    for _ in range(400):
        text = "a,b\n" + "".join(rng.choices(pieces, weights, k=rng.randint(0, 300)))
        limit = rng.randint(3, 40)
        got = [
            (row.line, row.reason, None)
            if isinstance(row, BadRow)
            else (row.line, "ok", tuple(row.values.values()))
            for row in read_rows(io.BytesIO(text.encode()), fixed, "r.csv", max_row_chars=limit)
        ]
        assert got == _reference(text, limit), (text, limit)


# ---------------------------------------------------------------------- JSON


TICKETS = [
    {"id": 1, "text": "first", "created_at": "2024-01-01T00:00:00Z", "meta": {"a": [1, 2]}},
    {"id": 2, "text": "second", "created_at": "2024-01-02T00:00:00Z", "score": 4.5},
]


def test_a_json_top_level_array_yields_one_row_per_object() -> None:
    data = b"\xef\xbb\xbf \n" + orjson.dumps(TICKETS, option=orjson.OPT_INDENT_2)
    rows = parse(data, "export.json")
    assert [(row.index, row.line) for row in rows] == [(1, None), (2, None)]
    assert good(rows) == [(None, TICKETS[0]), (None, TICKETS[1])]


@pytest.mark.parametrize(
    ("records_path", "document"),
    [
        ("tickets", {"count": 2, "tickets": TICKETS, "next_page": None}),
        ("data.items", {"meta": {"items": [9]}, "data": {"items": TICKETS}}),
    ],
)
def test_a_json_object_yields_the_records_at_records_path(
    records_path: str, document: dict[str, Any]
) -> None:
    rows = parse(orjson.dumps(document), "export.json", records_path=records_path)
    assert good(rows) == [(None, TICKETS[0]), (None, TICKETS[1])]


def test_an_empty_records_array_is_an_empty_export_not_an_error() -> None:
    data = b'{"tickets": [], "count": 0, "end_of_stream": true}'
    assert parse(data, "export.json", records_path="tickets") == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b'{"results": [{"text": "x"}]}', "no 'tickets' array \\(found NoneType\\)"),
        (b'{"tickets": {"text": "x"}}', "no 'tickets' array \\(found dict\\)"),
        (b'{"tickets": [{"text": "x"}', "invalid JSON after 1 record"),
        (b'"just a string"', "not JSON: expected '\\[' or '\\{'"),
        (b" \n\t ", "only whitespace"),
    ],
    ids=["missing-array", "not-an-array", "truncated", "scalar", "whitespace"],
)
def test_a_json_document_without_usable_records_is_a_file_error(
    document: bytes, message: str
) -> None:
    with pytest.raises(UnreadableFileError, match=message):
        parse(document, "export.json", records_path="tickets")


def test_a_json_object_without_records_path_is_one_record() -> None:
    rows = parse(orjson.dumps(TICKETS[0]), "one.json")
    assert good(rows) == [(None, TICKETS[0])]


@pytest.mark.parametrize("name", ["export.json", "export.jsonl"])
def test_items_that_are_not_objects_are_invalid_records(name: str) -> None:
    items = [TICKETS[0], 42, "text", [1, 2], None, TICKETS[1]]
    if name.endswith(".jsonl"):
        data = b"\n".join(orjson.dumps(item) for item in items) + b"\n"
    else:
        data = orjson.dumps(items)
    rows = parse(data, name)
    assert [row.reason if isinstance(row, BadRow) else "ok" for row in rows] == [
        "ok",
        "invalid_record",
        "invalid_record",
        "invalid_record",
        "invalid_record",
        "ok",
    ]
    details = [(row.detail, row.raw) for row in rows if isinstance(row, BadRow)]
    assert [detail for detail, _ in details] == [
        "expected a JSON object, got int",
        "expected a JSON object, got str",
        "expected a JSON object, got list",
        "expected a JSON object, got NoneType",
    ]
    assert [(raw or "").strip() for _, raw in details] == ["42", '"text"', "[1,2]", "null"]


def test_jsonl_bad_line_is_quarantined_with_its_line_and_the_rest_continue() -> None:
    data = (
        b'{"text": "one", "created_at": "2024-01-01"}\n'  # 1
        b'{"text": "two", "created_at": "2024-01-02"}\r\n'  # 2
        b'{"text": "broken", "created_at": \n'  # 3
        b"\n"  # 4: blank, skipped
        b"   \n"  # 5: blank, skipped
        b'{"text": "caf\xe9"}\n'  # 6: invalid UTF-8
        b'{"text": "three", "created_at": "2024-01-03"}'  # 7, no final newline
    )
    rows = parse(data, "events.jsonl")
    assert shape(rows) == [
        (1, 1, "ok"),
        (2, 2, "ok"),
        (3, 3, "invalid_json"),
        (4, 6, "bad_encoding"),
        (5, 7, "ok"),
    ]
    assert rows[2].raw == '{"text": "broken", "created_at": \n'  # type: ignore[union-attr]
    assert good(rows)[-1][1]["text"] == "three"


@pytest.mark.parametrize(("extra", "expected"), [(0, "ok"), (1, "oversized_row")])
def test_jsonl_lines_over_max_row_chars_are_oversized_and_skipped(
    extra: int, expected: str
) -> None:
    line = b'{"text": "' + b"j" * (LIMIT - 12 + extra) + b'"}'
    data = line + b"\n" + b'{"text": "next"}\n'
    rows = parse(data, "events.jsonl", limit=LIMIT)
    assert shape(rows) == [(1, 1, expected), (2, 2, "ok")]


def test_a_jsonl_file_of_blank_lines_is_a_file_error() -> None:
    with pytest.raises(UnreadableFileError, match="only blank lines"):
        parse(b"\n  \r\n\n", "events.jsonl")


# ---------------------------------------------------------- format detection


@pytest.mark.parametrize(
    ("name", "head", "fmt", "expected"),
    [
        ("x.csv", b'{"a": 1}\n', "auto", "csv"),
        ("x.TSV", b"a\tb\n", "auto", "csv"),
        ("x.ndjson.gz", b"[", "auto", "jsonl"),
        ("x.json", b"a,b\n", "auto", "json"),
        ("export", b" \n[{}]", "auto", "json"),
        ("export", b'{"a": 1}\n{"a": 2}\n', "auto", "jsonl"),
        ("export", b'{\n  "tickets": []\n}', "auto", "json"),
        ("export", b'{"tickets": [{"id": 1}]}', "auto", "json"),  # one-line export object
        ("export", b"\xef\xbb\xbftext,created_at\n", "auto", "csv"),
        ("x.json", b"[", "csv", "csv"),
    ],
)
def test_format_comes_from_the_mapping_then_the_extension_then_the_content(
    name: str, head: bytes, fmt: str, expected: str
) -> None:
    assert detect_format(mapping(format=fmt, records_path="tickets"), name, head) == expected


# ---------------------------------------------------------------------- gzip


CSV_DATA = b"text,created_at\nalpha,2024-01-01\nbeta,2024-01-02\n"


@pytest.mark.parametrize("name", ["export.csv.gz", "export.csv", "export.txt", "export"])
def test_gzip_is_detected_by_magic_bytes_whatever_the_name(name: str) -> None:
    rows = parse(gzip.compress(CSV_DATA), name)
    assert [values["text"] for _, values in good(rows)] == ["alpha", "beta"]


def test_gzipped_json_without_an_extension_is_detected_from_its_content() -> None:
    rows = parse(gzip.compress(orjson.dumps(TICKETS)), "export")
    assert good(rows) == [(None, TICKETS[0]), (None, TICKETS[1])]


def test_a_plain_file_named_gz_is_read_as_plain_text() -> None:
    assert len(good(parse(CSV_DATA, "export.csv.gz"))) == 2


def test_concatenated_gzip_members_and_nul_padding_are_read_whole() -> None:
    data = gzip.compress(CSV_DATA) + gzip.compress(b"gamma,2024-01-03\n") + b"\x00" * 64
    assert [v["text"] for _, v in good(parse(data))] == ["alpha", "beta", "gamma"]


def _numbered_csv(count: int) -> bytes:
    rows = (f"row {i} {random.Random(i).getrandbits(64):x},2024-01-01\n" for i in range(count))
    return ("text,created_at\n" + "".join(rows)).encode()


@pytest.mark.parametrize("count", [50, 40_000], ids=["small", "larger-than-buffers"])
def test_truncated_gzip_yields_every_row_before_the_cut_then_a_file_error(count: int) -> None:
    compressed = gzip.compress(_numbered_csv(count))
    cut = compressed[: int(len(compressed) * 0.6)]
    seen: list[ParsedRow | BadRow] = []
    with pytest.raises(UnreadableFileError, match="truncated"):
        for row in read_rows(io.BytesIO(cut), mapping(), "x.csv.gz", max_row_chars=LIMIT):
            seen.append(row)
    assert all(isinstance(row, ParsedRow) for row in seen)
    texts = [row.values["text"] for row in seen]  # type: ignore[union-attr]
    # Every whole row before the cut, in order: exactly the complete lines that can be
    # decompressed from the truncated bytes (minus the header).
    available = zlib.decompressobj(wbits=31).decompress(cut)
    assert len(texts) == available.count(b"\n") - 1 > 0
    assert [text.split()[1] for text in texts] == [str(i) for i in range(len(texts))]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gzip.compress(CSV_DATA) + b"trailing junk", "corrupt"),
        (b"\x1f\x8b" + b"\x00" * 30, "corrupt"),
        (gzip.compress(CSV_DATA)[:6], "truncated"),
    ],
    ids=["trailing-junk", "bad-header", "cut-in-header"],
)
def test_corrupt_gzip_is_a_file_error_naming_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFileError, match=f"compressed stream is {message}"):
        parse(data)


# ---------------------------------------------------------------- file checks


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (gzip.compress(b""), "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary content"),
        (random.Random(7).randbytes(4096), "binary content"),
    ],
    ids=["zero-bytes", "gzip-of-nothing", "png", "random-bytes"],
)
def test_empty_and_binary_files_are_file_errors(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFileError, match=message):
        parse(data)


def test_counting_reader_reports_every_byte_read() -> None:
    data = gzip.compress(_numbered_csv(2000))
    seen: list[int] = []
    rows = list(
        read_rows(
            CountingReader(io.BytesIO(data), seen.append), mapping(), "x", max_row_chars=LIMIT
        )
    )
    assert len(rows) == 2000
    assert sum(seen) == len(data)
