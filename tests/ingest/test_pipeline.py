"""End-to-end behaviour of the ingest pipeline: idempotency, batching, accounting."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from shared.errors import TransientError
from shared.models import FeedbackRecord
from shared.pipeline import EventMessage, IngestPipeline
from shared.settings import Settings
from shared.storage import LocalStorage, ObjectStorage

HEADER = (
    "title,body,rating,review_date,product_title,product_handle,location,source,product_id,"
    "product_type,customer_tags,order_total"
)


def reviews_csv(rows: range, *, extra: str = "") -> bytes:
    lines = [HEADER]
    for i in rows:
        day = 1 + i % 28
        lines.append(
            f'Title {i},"Body of review {i}, with a comma",{1 + i % 5},'
            f'2026-11-{day:02d} 10:{i % 60:02d}:00 UTC,Curry Kit,curry-kit,"Leeds, GB",web,{i},'
            "Meal kits,Subscriber,39.90"
        )
    return ("\n".join(lines) + "\n" + extra).encode()


def landed_rows(storage: ObjectStorage, container: str = "landing") -> list[dict]:
    rows = []
    for path in storage.list(container, "feedback/"):
        data, _ = storage.read(container, path)  # type: ignore[misc]
        rows.extend(orjson.loads(line) for line in data.splitlines())
    return rows


def ingest_bytes(pipeline: IngestPipeline, tmp_path: Path, source: str, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return pipeline.ingest_file(source, name, lambda: open(path, "rb"))


def test_replaying_a_file_three_times_lands_each_record_once(
    pipeline: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    data = reviews_csv(range(250))
    reports = [ingest_bytes(pipeline, tmp_path, "reviews", "r.csv", data) for _ in range(3)]
    assert [r.landed for r in reports] == [250, 0, 0]
    assert [r.duplicates for r in reports] == [0, 250, 250]
    assert reports[1].duplicate_input and reports[2].duplicate_input
    assert all(r.reconciled for r in reports)
    rows = landed_rows(local_storage)
    assert len(rows) == len({row["record_id"] for row in rows}) == 250


def test_an_overlapping_export_lands_only_the_new_records(
    pipeline: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    first = ingest_bytes(pipeline, tmp_path, "reviews", "week1.csv", reviews_csv(range(0, 100)))
    # Next week's export repeats the last 30 rows of last week and adds 70 new ones.
    second = ingest_bytes(pipeline, tmp_path, "reviews", "week2.csv", reviews_csv(range(70, 170)))
    assert (first.landed, second.landed, second.duplicates) == (100, 70, 30)
    assert not second.duplicate_input
    assert len(landed_rows(local_storage)) == 170


def test_the_same_rows_gzipped_are_still_recognized_as_duplicates(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    ingest_bytes(pipeline, tmp_path, "reviews", "r.csv", reviews_csv(range(40)))
    again = ingest_bytes(
        pipeline, tmp_path, "reviews", "r.csv.gz", gzip.compress(reviews_csv(range(40)))
    )
    assert (again.landed, again.duplicates, again.duplicate_input) == (0, 40, False)


def test_duplicate_rows_inside_one_file_land_once(pipeline: IngestPipeline, tmp_path: Path) -> None:
    data = reviews_csv(range(10))
    duplicated = data + b"\n".join(data.splitlines()[1:4]) + b"\n"
    report = ingest_bytes(pipeline, tmp_path, "reviews", "r.csv", duplicated)
    assert (report.records_in, report.landed, report.duplicates) == (13, 10, 3)


def test_landing_files_are_batched_and_every_row_is_a_valid_record(
    local_storage: LocalStorage, tmp_path: Path
) -> None:
    settings = Settings(local_storage_root=local_storage.root, landing_batch_max_records=40)
    pipeline = IngestPipeline(local_storage, settings)
    report = ingest_bytes(pipeline, tmp_path, "reviews", "r.csv", reviews_csv(range(100)))
    assert len(report.landed_files) == 3
    for path in report.landed_files:
        assert path.startswith("feedback/ingest_date=") and path.endswith(".jsonl")
        assert f"/{report.run_id}-" in path
    rows = landed_rows(local_storage)
    records = [FeedbackRecord.model_validate(row) for row in rows]
    assert {r.schema_version for r in records} == {"1.0"}
    assert records[0].metadata == {"review_source": "web", "product_id": "0"}
    assert records[0].region == "Leeds, GB"


def test_the_ingest_report_is_landed_for_auto_loader(
    pipeline: IngestPipeline, local_storage: LocalStorage, tmp_path: Path
) -> None:
    report = ingest_bytes(pipeline, tmp_path, "reviews", "r.csv", reviews_csv(range(5)))
    paths = list(local_storage.list("landing", "ingest_reports/"))
    assert paths == [
        f"ingest_reports/ingest_date={report.started_at:%Y-%m-%d}/{report.run_id}.jsonl"
    ]
    landed = json.loads(local_storage.read("landing", paths[0])[0])  # type: ignore[index]
    assert landed["records_in"] == 5 and landed["reconciled"] is True


def test_a_crash_between_landing_and_claiming_loses_nothing(
    settings: Settings, local_storage: LocalStorage, tmp_path: Path
) -> None:
    class LedgerDown(LocalStorage):
        def write(self, container: str, path: str, data: bytes, **kwargs):  # type: ignore[no-untyped-def]
            if container == "ledger":
                raise TransientError("ledger unavailable")
            return super().write(container, path, data, **kwargs)

    crashing = IngestPipeline(LedgerDown(local_storage.root), settings)
    with pytest.raises(TransientError):
        ingest_bytes(crashing, tmp_path, "reviews", "r.csv", reviews_csv(range(20)))
    assert len(landed_rows(local_storage)) == 20  # landed before the claim failed

    retry = ingest_bytes(
        IngestPipeline(local_storage, settings),
        tmp_path,
        "reviews",
        "r.csv",
        reviews_csv(range(20)),
    )
    assert retry.reconciled and retry.landed == 20  # claimed nothing before: lands again
    rows = landed_rows(local_storage)
    # At-least-once: every record is there; Silver keeps one row per record_id.
    assert len({row["record_id"] for row in rows}) == 20 and len(rows) == 40

    third = ingest_bytes(
        IngestPipeline(local_storage, settings),
        tmp_path,
        "reviews",
        "r.csv",
        reviews_csv(range(20)),
    )
    assert third.duplicate_input and third.landed == 0


def event(event_id: str, text: str = "The app keeps logging me out") -> dict:
    return {
        "event_id": event_id,
        "source": "app_feedback",
        "channel": "chat",
        "created_at": "2026-11-20T08:00:00Z",
        "text": text,
        "metadata": {"app_version": "5.12.1", "screen": "checkout"},
    }


def test_redelivered_messages_land_nothing_new(
    pipeline: IngestPipeline, local_storage: LocalStorage
) -> None:
    batch = [
        EventMessage(orjson.dumps(event("e1")), "m1"),
        EventMessage(orjson.dumps([event("e2"), event("e3")]), "m2"),
    ]
    first = pipeline.ingest_messages(batch)
    again = pipeline.ingest_messages(batch)
    assert [(r.source, r.records_in, r.landed) for r in first] == [("events", 3, 3)]
    assert [(r.records_in, r.landed, r.duplicates) for r in again] == [(3, 0, 3)]
    rows = landed_rows(local_storage)
    assert sorted(row["source_event_id"] for row in rows) == ["e1", "e2", "e3"]
    assert rows[0]["metadata"] == {
        "origin": "app_feedback",
        "app_version": "5.12.1",
        "screen": "checkout",
    }


def test_bad_messages_are_quarantined_and_the_rest_of_the_batch_lands(
    pipeline: IngestPipeline, local_storage: LocalStorage
) -> None:
    reports = pipeline.ingest_messages(
        [
            EventMessage(b"{not json", "bad-json"),
            EventMessage(orjson.dumps(event("e1", text="")), "no-text"),
            EventMessage(orjson.dumps([event("e2"), 42]), "mixed"),
            EventMessage(orjson.dumps(event("e3")), "other", {"source": "nonexistent"}),
        ]
    )
    by_source = {r.source: r for r in reports}
    events, unknown = by_source["events"], by_source["nonexistent"]
    assert (events.records_in, events.landed, events.quarantined) == (4, 1, 3)
    assert events.quarantine_reasons == {"invalid_json": 1, "missing_text": 1, "invalid_record": 1}
    assert (unknown.records_in, unknown.quarantined) == (1, 1)
    assert unknown.quarantine_reasons == {"unknown_source": 1}
    assert all(r.reconciled for r in reports)
    quarantined = [
        orjson.loads(line)
        for path in local_storage.list("quarantine", "rows/events/")
        for line in local_storage.read("quarantine", path)[0].splitlines()  # type: ignore[index]
    ]
    assert {q["input_name"] for q in quarantined} == {
        "message bad-json",
        "message no-text",
        "message mixed",
    }


@pytest.mark.azurite
def test_the_blob_backend_runs_the_same_pipeline_idempotently(
    blob_settings: Settings, tmp_path: Path
) -> None:
    pipeline = IngestPipeline.from_settings(blob_settings)
    storage = pipeline.storage
    data = reviews_csv(range(60))
    storage.write(blob_settings.inbox_container, "reviews/r.csv", data)

    def opener():
        return storage.open_read(blob_settings.inbox_container, "reviews/r.csv")

    first = pipeline.ingest_file("reviews", "r.csv", opener)
    second = pipeline.ingest_file("reviews", "r.csv", opener)
    overlap = ingest_bytes(pipeline, tmp_path, "reviews", "r2.csv", reviews_csv(range(30, 90)))
    assert (first.landed, second.landed, second.duplicate_input) == (60, 0, True)
    assert (overlap.landed, overlap.duplicates) == (30, 30)
    rows = landed_rows(storage, blob_settings.landing_container)
    assert len(rows) == len({r["record_id"] for r in rows}) == 90
