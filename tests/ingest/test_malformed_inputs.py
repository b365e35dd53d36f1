"""Malformed inputs through the whole pipeline (local storage): every record ends landed,
duplicate or quarantined with a reason, files that cannot be read are copied to
quarantine with a reason.json, and the report always reconciles.

Inputs are built in each test; nothing reads samples/ or ../shared.
"""

from __future__ import annotations

import gzip
import hashlib
import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared.ingest.sources import SourceMapping
from shared.models import FeedbackRecord, IngestReport, QuarantinedRow
from shared.pipeline import IngestPipeline
from shared.settings import PROJECT_ROOT, Settings
from shared.storage import LocalStorage

CSV_MAPPING = SourceMapping(
    name="t",
    channel="review",
    format="auto",
    fields={
        "source_event_id": "id",
        "text": "text",
        "created_at": "created_at",
        "rating": "rating",
    },
)
COMMA_ONLY = SourceMapping(
    name="comma",
    channel="chat",
    format="csv",
    csv={"delimiter": ","},
    fields={"source_event_id": "conversation_id", "text": "message", "created_at": "started_at"},
)
TICKETS = SourceMapping(
    name="tix",
    channel="ticket",
    format="auto",
    records_path="tickets",
    fields={
        "source_event_id": "id",
        "text": "description",
        "title": "subject",
        "created_at": "created_at",
        "rating": "satisfaction.rating",
        "nps_score": "nps",
        "customer_segment": "requester.tier",
    },
    metadata={"tags": "tags"},
)
MAPPINGS = {m.name: m for m in (CSV_MAPPING, COMMA_ONLY, TICKETS)}


@pytest.fixture
def pipe(local_storage: LocalStorage, settings: Settings) -> IngestPipeline:
    # Parsing and row quarantine in isolation: these synthetic mappings name columns the
    # crafted inputs leave out, which the quality gate would rightly refuse (see
    # tests/enrich/test_enrich.py for the gate and masking on the same pipeline).
    return IngestPipeline(local_storage, settings, mappings=MAPPINGS, enrich=False)


def ingest(
    pipeline: IngestPipeline, tmp_path: Path, source: str, name: str, data: bytes
) -> IngestReport:
    path = tmp_path / "inputs" / f"{len(list(tmp_path.glob('inputs/*')))}-{name}"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return pipeline.ingest_file(source, name, lambda: open(path, "rb"))


def landed(storage: LocalStorage) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in storage.list("landing", "feedback/"):
        data, _ = storage.read("landing", path)  # type: ignore[misc]
        rows.extend(orjson.loads(line) for line in data.splitlines())
    return rows


def quarantined_rows(storage: LocalStorage, source: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in storage.list("quarantine", f"rows/{source}/"):
        data, _ = storage.read("quarantine", path)  # type: ignore[misc]
        rows.extend(orjson.loads(line) for line in data.splitlines())
    return rows


def quarantined_files(storage: LocalStorage, source: str) -> dict[str, bytes]:
    """Whole-file copies under quarantine/files/<source>/, keyed by their path."""
    return {
        path: storage.read("quarantine", path)[0]  # type: ignore[index]
        for path in storage.list("quarantine", f"files/{source}/")
    }


def run_rows(storage: LocalStorage, container: str, paths: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        data, _ = storage.read(container, path)  # type: ignore[misc]
        rows.extend(orjson.loads(line) for line in data.splitlines())
    return rows


def assert_accounted(report: IngestReport, storage: LocalStorage) -> None:
    """The report reconciles and matches what this run really wrote to storage."""
    assert report.reconciled
    assert report.records_in == report.landed + report.duplicates + report.quarantined
    assert set(report.landed_files) <= set(storage.list("landing", "feedback/"))
    assert len(run_rows(storage, "landing", report.landed_files)) == report.landed
    quarantine_files = [
        path
        for path in storage.list("quarantine", f"rows/{report.source}/")
        if path.rsplit("/", 1)[1].startswith(f"{report.run_id}-")
    ]
    rows = run_rows(storage, "quarantine", quarantine_files)
    assert len(rows) == report.quarantined
    assert Counter(row["reason"] for row in rows) == report.quarantine_reasons


def assert_file_quarantined(
    report: IngestReport, storage: LocalStorage, name: str, data: bytes
) -> dict[str, Any]:
    """The input is copied whole beside a reason.json that carries the file error."""
    files = quarantined_files(storage, report.source)
    folder = f"files/{report.source}/ingest_date={report.started_at:%Y-%m-%d}/{report.run_id}"
    assert set(files) == {f"{folder}/{name}", f"{folder}/reason.json"}
    assert files[f"{folder}/{name}"] == data
    reason = orjson.loads(files[f"{folder}/reason.json"])
    assert reason == {
        "run_id": report.run_id,
        "source": report.source,
        "input": name,
        "reason": report.file_errors[0],
    }
    assert any(folder in warning for warning in report.warnings)
    return reason


def csv_rows(count: int, start: int = 0) -> bytes:
    lines = ["id,text,created_at,rating"]
    for i in range(start, start + count):
        noise = hashlib.sha256(str(i).encode()).hexdigest()  # keeps gzip from shrinking it
        lines.append(f'{i},"Review {i}: {noise}",2024-05-{1 + i % 28:02d}T10:00:00Z,{1 + i % 5}')
    return ("\n".join(lines) + "\n").encode()


# ------------------------------------------------------------ truncated gzip


def test_truncated_gzip_lands_rows_before_the_cut_and_quarantines_the_file(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    full = csv_rows(3000)
    compressed = gzip.compress(full)
    cut = compressed[: len(compressed) * 6 // 10]
    report = ingest(pipe, tmp_path, "t", "export.csv.gz", cut)

    assert len(report.file_errors) == 1
    assert "truncated" in report.file_errors[0]
    assert 0 < report.landed < 3000
    assert report.quarantined == 0
    assert_accounted(report, local_storage)
    # Exactly the first rows of the file, in order, and nothing after the cut.
    ids = sorted(int(row["source_event_id"]) for row in landed(local_storage))
    assert ids == list(range(report.landed))
    assert_file_quarantined(report, local_storage, "export.csv.gz", cut)

    # The repaired file is not "already ingested": it lands only the rest.
    again = ingest(pipe, tmp_path, "t", "export.csv.gz", compressed)
    assert (again.duplicate_input, again.file_errors) == (False, [])
    assert (again.landed, again.duplicates) == (3000 - report.landed, report.landed)
    assert len(landed(local_storage)) == 3000


def test_a_small_truncated_gzip_still_lands_its_complete_rows(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    compressed = gzip.compress(csv_rows(20))
    report = ingest(pipe, tmp_path, "t", "small.csv.gz", compressed[:-12])
    assert report.file_errors and "truncated" in report.file_errors[0]
    assert 0 < report.landed <= 20
    assert_accounted(report, local_storage)


def test_truncated_gzipped_jsonl_lands_the_lines_before_the_cut(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    lines = [
        orjson.dumps({"id": i, "description": f"ticket {i} " + "x" * (i % 50), "created_at": i})
        for i in range(1, 2001)
    ]
    compressed = gzip.compress(b"\n".join(lines) + b"\n")
    report = ingest(pipe, tmp_path, "tix", "tickets.jsonl.gz", compressed[: len(compressed) // 2])
    assert "truncated" in report.file_errors[0]
    assert 0 < report.landed < 2000
    assert_accounted(report, local_storage)


def test_a_json_array_cut_short_lands_the_items_before_the_cut(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    items = [{"id": i, "description": f"ticket {i}", "created_at": "2024-01-01"} for i in range(5)]
    data = orjson.dumps({"tickets": items})[:-40]
    report = ingest(pipe, tmp_path, "tix", "tickets.json", data)
    assert report.file_errors[0].startswith("invalid JSON after 4 record(s)")
    assert report.landed == 4
    assert_accounted(report, local_storage)
    assert_file_quarantined(report, local_storage, "tickets.json", data)


# ----------------------------------------------------- binary and empty files


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"
    b"\x00\x00\x00\x1f\xf3\xffa" + bytes(range(256)) * 4
)
RANDOM_WITH_NULS = random.Random(42).randbytes(20_000)
HIGH_BYTES_NO_NULS = bytes(byte | 0x80 for byte in random.Random(43).randbytes(5_000))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("garbage.csv", RANDOM_WITH_NULS, "binary content (NUL bytes in the first 8 KiB)"),
        ("picture.csv", PNG, "binary content (NUL bytes in the first 8 KiB)"),
        ("picture.png", gzip.compress(PNG), "binary content"),
        ("garbage.csv", HIGH_BYTES_NO_NULS, "header line is not readable as utf-8 text"),
        ("empty.csv", b"", "empty file (0 bytes after decompression)"),
        ("empty.jsonl", gzip.compress(b""), "empty file (0 bytes after decompression)"),
        ("blank.csv", b" \n\r\n\t\n", "no header row (the file is empty or has only blank lines)"),
        ("blank.jsonl", b"\n \n", "no records: the file has only blank lines"),
        ("blank.json", b" \n \n", "no JSON document: the file has only whitespace"),
    ],
    ids=[
        "random-bytes",
        "png",
        "gzipped-png",
        "undecodable-text",
        "zero-bytes",
        "gzip-of-nothing",
        "whitespace-csv",
        "whitespace-jsonl",
        "whitespace-json",
    ],
)
def test_binary_and_empty_files_are_quarantined_whole_with_a_clear_reason(
    pipe: IngestPipeline,
    local_storage: LocalStorage,
    tmp_path: Path,
    name: str,
    data: bytes,
    message: str,
) -> None:
    source = "tix" if ".json" in name else "t"
    report = ingest(pipe, tmp_path, source, name, data)
    assert len(report.file_errors) == 1
    assert message in report.file_errors[0]
    assert (report.records_in, report.landed, report.quarantined) == (0, 0, 0)
    assert report.landed_files == []
    assert landed(local_storage) == []
    assert_accounted(report, local_storage)
    assert_file_quarantined(report, local_storage, name, data)


def test_a_header_only_csv_is_zero_records_and_no_error(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    report = ingest(pipe, tmp_path, "t", "header.csv", b"id,text,created_at,rating\r\n")
    assert (report.records_in, report.file_errors, report.landed_files) == (0, [], [])
    assert quarantined_files(local_storage, "t") == {}
    assert_accounted(report, local_storage)


def test_an_empty_json_export_is_zero_records_and_no_error(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    report = ingest(pipe, tmp_path, "tix", "t.json", b'{"tickets": [], "end_of_stream": true}')
    assert (report.records_in, report.file_errors) == (0, [])
    assert quarantined_files(local_storage, "tix") == {}


# ------------------------------------------------------------- wrong delimiter


def test_a_file_in_another_delimiter_names_the_missing_columns_and_the_delimiter(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    data = b"conversation_id;started_at;message\nc1;2024-01-01T10:00:00Z;hello\n"
    report = ingest(pipe, tmp_path, "comma", "chat.csv", data)
    [error] = report.file_errors
    assert "header lacks required column(s) ['message', 'started_at']" in error
    assert "for source 'comma'" in error
    assert "read with delimiter ','" in error
    assert "'conversation_id;started_at;message'" in error
    assert landed(local_storage) == []
    assert_file_quarantined(report, local_storage, "chat.csv", data)


# --------------------------------------------------------------- oversized rows


def test_a_20_mb_text_field_is_an_oversized_row_and_the_next_rows_land(
    pipe: IngestPipeline, settings: Settings, local_storage: LocalStorage, tmp_path: Path
) -> None:
    assert settings.max_row_chars == 1024 * 1024  # the default this test is about
    huge = "all work and no play, " * (20 * 1024 * 1024 // 22)
    data = (
        "id,text,created_at,rating\n"
        "1,before,2024-01-01T00:00:00Z,5\n"
        f'2,"{huge}",2024-01-02T00:00:00Z,1\n'
        "3,after,2024-01-03T00:00:00Z,4\n"
        '4,"still in sync, quoted",2024-01-04T00:00:00Z,3\n'
    ).encode()
    assert len(data) > 20_000_000
    report = ingest(pipe, tmp_path, "t", "big.csv", data)
    assert (report.records_in, report.landed, report.quarantined) == (4, 3, 1)
    assert report.quarantine_reasons == {"oversized_row": 1}
    assert report.file_errors == []
    assert_accounted(report, local_storage)
    [row] = quarantined_rows(local_storage, "t")
    assert (row["input_name"], row["line"], row["record_index"]) == ("t/big.csv", 3, 2)
    assert row["reason"] == "oversized_row"
    assert "1,048,576 characters" in row["detail"]
    assert row["raw"] is None  # never held in memory, never copied
    texts = {r["source_event_id"]: r["text"] for r in landed(local_storage)}
    assert texts == {"1": "before", "3": "after", "4": "still in sync, quoted"}


def test_an_oversized_multiline_field_is_one_quarantined_row(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    paragraph = 'Line with a ""quote"" and, commas\n'
    huge = paragraph * (3 * 1024 * 1024 // len(paragraph))
    data = (
        "id,text,created_at,rating\n"
        f'1,"{huge}",2024-01-01T00:00:00Z,1\n'
        "2,after,2024-01-02T00:00:00Z,4\n"
    ).encode()
    report = ingest(pipe, tmp_path, "t", "multi.csv", data)
    assert (report.records_in, report.landed, report.quarantine_reasons) == (
        2,
        1,
        {"oversized_row": 1},
    )
    assert [r["text"] for r in landed(local_storage)] == ["after"]
    [row] = quarantined_rows(local_storage, "t")
    assert row["line"] == 2
    assert_accounted(report, local_storage)


def test_text_over_max_text_chars_is_quarantined_as_text_too_long(
    local_storage: LocalStorage, tmp_path: Path
) -> None:
    settings = Settings(local_storage_root=local_storage.root, max_text_chars=100)
    pipeline = IngestPipeline(local_storage, settings, mappings=MAPPINGS)
    data = (
        "id,text,created_at,rating\n"
        f"1,{'a' * 100},2024-01-01T00:00:00Z,5\n"
        f"2,{'b' * 101},2024-01-01T00:00:00Z,5\n"
    ).encode()
    report = ingest(pipeline, tmp_path, "t", "long.csv", data)
    assert (report.landed, report.quarantine_reasons) == (1, {"text_too_long": 1})
    [row] = quarantined_rows(local_storage, "t")
    assert row["line"] == 3
    assert "text has 101 characters; the limit is 100" in row["detail"]
    assert orjson.loads(row["raw"])["text"] == "b" * 101
    assert_accounted(report, local_storage)


# --------------------------------------------------------------- bad encoding


def test_invalid_utf8_in_one_row_quarantines_that_row_and_keeps_its_readable_text(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    data = (
        b"id,text,created_at,rating\n"
        + "1,Grüße aus Köln,2024-01-01T00:00:00Z,5\n".encode()
        + b"2,Cr\xe8me br\xfbl\xe9e was cold,2024-01-02T00:00:00Z,2\n"
        + "3,très bien ✓,2024-01-03T00:00:00Z,4\n".encode()
    )
    report = ingest(pipe, tmp_path, "t", "mixed.csv", data)
    assert (report.landed, report.quarantine_reasons) == (2, {"bad_encoding": 1})
    assert sorted(r["text"] for r in landed(local_storage)) == ["Grüße aus Köln", "très bien ✓"]
    [row] = quarantined_rows(local_storage, "t")
    assert (row["line"], row["reason"]) == (3, "bad_encoding")
    assert row["raw"] == "2,Cr\ufffdme br\ufffdl\ufffde was cold,2024-01-02T00:00:00Z,2"
    assert_accounted(report, local_storage)


def test_a_file_with_blank_lines_before_the_header_still_flags_the_right_row(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    data = (
        b"\n\nid,text,created_at,rating\n"
        b"1,fine,2024-01-01T00:00:00Z,5\n"
        b"2,bad \xff byte,2024-01-02T00:00:00Z,5\n"
        b"3,also fine,2024-01-03T00:00:00Z,5\n"
    )
    report = ingest(pipe, tmp_path, "t", "blank-first.csv", data)
    assert (report.landed, report.quarantine_reasons) == (2, {"bad_encoding": 1})
    assert [(r["line"], r["reason"]) for r in quarantined_rows(local_storage, "t")] == [
        (5, "bad_encoding")
    ]
    assert_accounted(report, local_storage)


def test_a_bad_jsonl_line_is_quarantined_with_its_line_and_raw_text(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    lines = [
        b'{"id": 1, "description": "one", "created_at": "2024-01-01T00:00:00Z"}',
        b"",
        b'{"id": 2, "description": "two", "created_at": ',
        b'{"id": 3, "description": "three", "created_at": "2024-01-03T00:00:00Z"}',
        b'["not", "an", "object"]',
    ]
    report = ingest(pipe, tmp_path, "tix", "tickets.jsonl", b"\n".join(lines) + b"\n")
    assert (report.records_in, report.landed) == (4, 2)
    assert report.quarantine_reasons == {"invalid_json": 1, "invalid_record": 1}
    assert_accounted(report, local_storage)
    rows = sorted(quarantined_rows(local_storage, "tix"), key=lambda r: r["line"])
    assert [(r["line"], r["record_index"], r["reason"]) for r in rows] == [
        (3, 2, "invalid_json"),
        (5, 4, "invalid_record"),
    ]
    assert rows[0]["raw"] == lines[2].decode() + "\n"
    assert rows[0]["input_name"] == "tix/tickets.jsonl"


# ------------------------------------------------------------- wrong JSON types


GOOD_TICKET = {
    "id": 1,
    "subject": "Login",
    "description": "I cannot log in",
    "created_at": "2024-03-01T09:00:00Z",
    "satisfaction": {"rating": 4},
    "nps": 9,
    "requester": {"tier": "gold"},
    "tags": ["login", "web"],
}


def ticket(**changes: Any) -> dict[str, Any]:
    return {**GOOD_TICKET, "id": 2, "description": "second ticket", **changes}


@pytest.mark.parametrize(
    ("item", "reason", "detail"),
    [
        (
            ticket(satisfaction={"rating": "five"}),
            "invalid_field",
            "rating: 'five' is not a number",
        ),
        (ticket(satisfaction={"rating": 7}), "invalid_field", "rating: Input should be less"),
        (ticket(nps=42), "invalid_field", "nps_score: Input should be less than or equal to 10"),
        (ticket(nps="ten"), "invalid_field", "nps_score: 'ten' is not a number"),
        (ticket(created_at="12345abc"), "bad_date", "created_at '12345abc' is not ISO 8601"),
        (ticket(created_at=None), "bad_date", "no timestamp in 'created_at'"),
        (ticket(created_at=1e30), "bad_date", "is not a usable epoch time"),
        (ticket(description={"body": "nested"}), "invalid_field", "text: 'description' holds"),
        (ticket(description=None), "missing_text", "no text in column 'description'"),
        (ticket(description="   "), "missing_text", "no text in column 'description'"),
        (ticket(subject="s" * 2001), "invalid_field", "title: String should have at most 2000"),
        (ticket(requester={"tier": {"x": 1}}), "invalid_field", "customer_segment:"),
        (["an", "array", "where", "a", "ticket", "belongs"], "invalid_record", "got list"),
        ("just a string", "invalid_record", "expected a JSON object, got str"),
        (7, "invalid_record", "expected a JSON object, got int"),
    ],
    ids=[
        "rating-word",
        "rating-out-of-range",
        "nps-out-of-range",
        "nps-word",
        "created-at-garbage",
        "created-at-null",
        "created-at-huge-epoch",
        "text-is-object",
        "text-null",
        "text-blank",
        "title-too-long",
        "segment-is-object",
        "array-not-object",
        "string-not-object",
        "number-not-object",
    ],
)
def test_json_with_wrong_types_quarantines_the_record_with_a_reason_naming_the_field(
    pipe: IngestPipeline,
    local_storage: LocalStorage,
    tmp_path: Path,
    item: Any,
    reason: str,
    detail: str,
) -> None:
    last = {**GOOD_TICKET, "id": 3, "description": "third ticket"}
    data = orjson.dumps({"count": 3, "tickets": [GOOD_TICKET, item, last]})
    report = ingest(pipe, tmp_path, "tix", "tickets.json", data)
    assert report.file_errors == []
    assert (report.records_in, report.landed, report.quarantine_reasons) == (3, 2, {reason: 1})
    assert_accounted(report, local_storage)
    [row] = quarantined_rows(local_storage, "tix")
    assert row["reason"] == reason
    assert detail in row["detail"]
    assert (row["record_index"], row["line"], row["input_name"]) == (2, None, "tix/tickets.json")
    assert orjson.loads(row["raw"]) == item  # the record as it came in
    assert sorted(r["text"] for r in landed(local_storage)) == ["I cannot log in", "third ticket"]


def test_landed_json_records_are_valid_with_nested_paths_and_joined_lists(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    report = ingest(pipe, tmp_path, "tix", "one.json", orjson.dumps({"tickets": [GOOD_TICKET]}))
    assert report.landed == 1
    [row] = landed(local_storage)
    record = FeedbackRecord.model_validate(row)
    assert (record.rating, record.nps_score, record.customer_segment) == (4, 9, "gold")
    assert record.metadata == {"tags": "login, web"}
    assert (record.source, record.channel, record.source_event_id) == ("tix", "ticket", "1")


# -------------------------------------------------------------- unknown source


def test_an_unknown_source_is_quarantined_whole_and_affects_nothing_else(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    before = ingest(pipe, tmp_path, "t", "ok.csv", csv_rows(5))
    data = csv_rows(5, start=100)
    report = ingest(pipe, tmp_path, "nope", "export.csv", data)
    after = ingest(pipe, tmp_path, "t", "ok2.csv", csv_rows(5, start=200))

    [error] = report.file_errors
    assert error.startswith("unknown source 'nope'")
    assert "known sources: comma, t, tix" in error
    assert (report.records_in, report.landed, report.input_sha256) == (0, 0, None)
    assert_accounted(report, local_storage)
    assert_file_quarantined(report, local_storage, "export.csv", data)
    # Nothing of the unknown file landed or was claimed; the neighbours are untouched.
    assert (before.landed, after.landed) == (5, 5)
    ids = {int(row["source_event_id"]) for row in landed(local_storage)}
    assert ids == set(range(5)) | set(range(200, 205))
    assert list(local_storage.list("quarantine", "rows/")) == []
    assert [p.split("/")[1] for p in local_storage.list("quarantine", "files/")] == [
        "nope",
        "nope",
    ]


def test_an_unknown_source_names_every_shipped_mapping(
    pipeline: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    report = ingest(pipeline, tmp_path, "nope", "x.csv", b"a,b\n1,2\n")
    assert pipeline.mappings  # the shipped mappings were loaded
    known = ", ".join(sorted(pipeline.mappings))
    assert report.file_errors == [
        f"unknown source 'nope': no mapping prompts/sources/nope.yaml; known sources: {known}"
    ]
    assert len(quarantined_files(local_storage, "nope")) == 2


# --------------------------------------------------- quarantine rows, accounting


def test_every_kind_of_bad_csv_row_is_accounted_for_in_one_file(
    pipe: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    lines = [
        b"id,text,created_at,rating",  # 1
        b"1,good one,2024-01-01T00:00:00Z,5",  # 2
        b"2,,2024-01-01T00:00:00Z,5",  # 3 missing_text
        b"3,bad date,yesterday,5",  # 4 bad_date
        b"4,bad rating,2024-01-01T00:00:00Z,five",  # 5 invalid_field
        b"5,too,few",  # 6 wrong_column_count
        b"6,bad \xfe bytes,2024-01-01T00:00:00Z,5",  # 7 bad_encoding
        b"",  # 8 blank: not a record
        b'7,"multi',  # 9
        b'line",2024-01-02T00:00:00Z,4',  # 10
        b"1,good one,2024-01-01T00:00:00Z,5",  # 11 duplicate of line 2
        b"8," + b"z" * (1024 * 1024 + 1) + b",2024-01-01T00:00:00Z,5",  # 12 oversized_row
        b"9,last,2024-01-03T00:00:00Z,3",  # 13
    ]
    report = ingest(pipe, tmp_path, "t", "mixed.csv", b"\r\n".join(lines) + b"\r\n")
    assert report.file_errors == []
    assert (report.records_in, report.landed, report.duplicates, report.quarantined) == (
        10,
        3,
        1,
        6,
    )
    assert_accounted(report, local_storage)
    rows = sorted(quarantined_rows(local_storage, "t"), key=lambda r: r["line"])
    assert [(r["line"], r["record_index"], r["reason"]) for r in rows] == [
        (3, 2, "missing_text"),
        (4, 3, "bad_date"),
        (5, 4, "invalid_field"),
        (6, 5, "wrong_column_count"),
        (7, 6, "bad_encoding"),
        (12, 9, "oversized_row"),
    ]
    for row in rows:
        entry = QuarantinedRow.model_validate(row)
        assert (entry.run_id, entry.source, entry.input_name) == (report.run_id, "t", "t/mixed.csv")
        assert entry.detail
    by_line = {r["line"]: r for r in rows}
    assert orjson.loads(by_line[4]["raw"]) == {
        "id": "3",
        "text": "bad date",
        "created_at": "yesterday",
        "rating": "5",
    }
    assert by_line[6]["raw"] == "5,too,few"
    texts = sorted(r["text"] for r in landed(local_storage))
    assert texts == ["good one", "last", "multi\nline"]  # CRLF inside text becomes LF


@pytest.mark.parametrize(
    ("source", "name", "folder", "stored_name"),
    [
        ("../evil", "export.csv", "___evil", "export.csv"),
        ("", "export.csv", "unknown", "export.csv"),
        ("nope", "../../etc/passwd", "nope", "____etc_passwd"),
        ("nope", "a/./b.csv", "nope", "a___b.csv"),
    ],
)
def test_hostile_source_and_file_names_stay_inside_the_quarantine(
    pipeline: IngestPipeline,
    local_storage: LocalStorage,
    tmp_path: Path,
    source: str,
    name: str,
    folder: str,
    stored_name: str,
) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(b"a,b\n1,2\n")
    report = pipeline.ingest_file(source, name, lambda: open(path, "rb"))  # noqa: SIM115
    assert report.source == folder
    assert report.file_errors and report.file_errors[0].startswith(f"unknown source {folder!r}")
    stored = list(local_storage.list("quarantine", f"files/{folder}/"))
    assert any(p.endswith(f"/{stored_name}") for p in stored), stored
    assert all(p.startswith(f"files/{folder}/") for p in local_storage.list("quarantine"))


def test_source_folders_match_mappings_case_insensitively(
    pipeline: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    sample = PROJECT_ROOT / "samples" / "inbox" / "reviews" / "judgeme-reviews-2026-11-15.csv"
    report = ingest(pipeline, tmp_path, " Reviews ", "r.csv", sample.read_bytes())
    assert report.source == "reviews"
    assert report.landed > 0 and not report.file_errors
