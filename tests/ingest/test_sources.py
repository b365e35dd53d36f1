"""Source mappings: loading and validation, timestamps, record ids, row -> record mapping."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.errors import ConfigError, PermanentInputError, RowError, UnknownSourceError
from shared.ingest.sources import (
    MAPPABLE_FIELDS,
    RecordMapper,
    SourceMapping,
    load_mapping,
    load_mappings,
    parse_timestamp,
    resolve_mapping,
)
from shared.models import FeedbackRecord
from shared.settings import PROJECT_ROOT

SHIPPED = sorted((PROJECT_ROOT / "prompts" / "sources").glob("*.yaml"))
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def make_mapping(**overrides: Any) -> SourceMapping:
    base: dict[str, Any] = {
        "name": "t",
        "channel": "review",
        "fields": {"text": "text", "created_at": "created_at"},
    }
    return SourceMapping(**{**base, **overrides})


def mapper(
    mapping: SourceMapping | None = None, *, max_text_chars: int = 20_000, flat: bool = False
) -> RecordMapper:
    return RecordMapper(
        mapping or make_mapping(),
        received_at=RECEIVED,
        max_text_chars=max_text_chars,
        flat_rows=flat,
    )


def row_error(call: Any, *args: Any) -> RowError:
    with pytest.raises(RowError) as caught:
        call(*args)
    return caught.value


# ------------------------------------------------------------- loading mappings


def test_mappings_are_shipped() -> None:
    assert len(SHIPPED) >= 1


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_mapping_validates_and_is_named_after_its_file(path: Path) -> None:
    mapping = load_mapping(path)
    assert mapping.name == path.stem
    assert "text" in mapping.fields
    assert set(mapping.fields) <= set(MAPPABLE_FIELDS)
    assert mapping.description  # shown in errors and docs


def test_load_mappings_returns_every_shipped_file_by_name() -> None:
    mappings = load_mappings(PROJECT_ROOT / "prompts")
    assert list(mappings) == [p.stem for p in SHIPPED]
    assert all(m.name == name for name, m in mappings.items())


def test_load_mappings_without_a_sources_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no source mappings folder"):
        load_mappings(tmp_path)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "channel: review\nfields: {text: body, sentiment: mood}\n",
            r"unknown canonical fields \['sentiment'\]",
        ),
        ("channel: review\nfields: {title: subject}\n", "a mapping must map 'text'"),
        ("channel: review\nfields: {}\n", "a mapping must map 'text'"),
        ("channel: review\n", "fields"),
        ("channel: fax\nfields: {text: body}\n", "channel"),
        ("name: other\nchannel: review\nfields: {text: body}\n", "must equal the file name"),
        ("channel: review\nfields: {text: body}\ntimezone: Mars/Base\n", "unknown time zone"),
        (
            "channel: review\nfields: {text: body}\ncsv: {delimiter: ';;'}\n",
            "exactly one character",
        ),
        ("channel: review\nfeilds: {text: body}\n", "Extra inputs are not permitted"),
        (
            "channel: review\nfields: {text: body}\ndefaults: {mood: happy}\n",
            r"unknown canonical fields \['mood'\]",
        ),
        ("channel: review\nfields: {text: body}\nformat: xml\n", "format"),
        ("- channel: review\n", "a source mapping is a YAML mapping"),
        ("channel: [review\n", "cannot read source mapping"),
    ],
    ids=[
        "unknown-field",
        "no-text",
        "empty-fields",
        "no-fields",
        "bad-channel",
        "name-mismatch",
        "bad-timezone",
        "long-delimiter",
        "misspelt-key",
        "unknown-default",
        "bad-format",
        "not-a-mapping",
        "invalid-yaml",
    ],
)
def test_an_invalid_mapping_is_a_config_error_naming_the_problem(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    path = tmp_path / "src.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_mapping(path)
    assert str(path) in str(caught.value)


def test_a_file_name_that_is_not_a_source_name_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "My Export.yaml"
    path.write_text("channel: review\nfields: {text: body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lowercase letters, digits"):
        load_mapping(path)


def test_a_mapping_built_in_code_is_validated_too() -> None:
    with pytest.raises(ValidationError, match="a mapping must map 'text'"):
        SourceMapping(name="t", channel="review", fields={"title": "subject"})
    with pytest.raises(ValidationError, match="unknown canonical fields"):
        SourceMapping(name="t", channel="review", fields={"text": "a", "mood": "b"})


def test_required_columns_are_the_text_and_timestamp_columns() -> None:
    mapping = make_mapping(fields={"text": "body", "created_at": "when", "title": "t"})
    assert mapping.required_columns == ["body", "when"]
    assert make_mapping(fields={"text": "body"}).required_columns == ["body"]


def test_an_unknown_source_error_lists_the_known_sources() -> None:
    mappings = {"b": make_mapping(name="b"), "a": make_mapping(name="a")}
    assert resolve_mapping(mappings, "a") is mappings["a"]
    with pytest.raises(UnknownSourceError) as caught:
        resolve_mapping(mappings, "nope")
    assert isinstance(caught.value, PermanentInputError)
    assert str(caught.value) == (
        "unknown source 'nope': no mapping prompts/sources/nope.yaml; known sources: a, b"
    )


# ------------------------------------------------------------------ timestamps


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("value", "formats", "zone", "expected"),
    [
        ("2024-03-01T10:00:00Z", [], UTC, datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00.250Z", [], UTC, datetime(2024, 3, 1, 10, 0, 0, 250_000, UTC)),
        ("2024-03-01T10:00:00+02:00", [], BERLIN, datetime(2024, 3, 1, 8, tzinfo=UTC)),
        ("2024-03-01 10:00:00-05:00", [], UTC, datetime(2024, 3, 1, 15, tzinfo=UTC)),
        ("2024-03-01 10:00:00", [], BERLIN, datetime(2024, 3, 1, 9, tzinfo=UTC)),  # CET
        ("2024-07-01T10:00:00", [], BERLIN, datetime(2024, 7, 1, 8, tzinfo=UTC)),  # CEST
        ("2024-03-01", [], UTC, datetime(2024, 3, 1, tzinfo=UTC)),
        ("  2024-03-01T10:00:00Z \n", [], UTC, datetime(2024, 3, 1, 10, tzinfo=UTC)),
        (
            "01/03/2024 10:00",
            ["%d/%m/%Y %H:%M", "%d/%m/%Y"],
            UTC,
            datetime(2024, 3, 1, 10, tzinfo=UTC),
        ),
        (
            "01/03/2024",
            ["%d/%m/%Y %H:%M", "%d/%m/%Y"],
            BERLIN,
            datetime(2024, 2, 29, 23, tzinfo=UTC),
        ),
        (
            "2024-11-03 10:15:00 UTC",
            ["%Y-%m-%d %H:%M:%S UTC"],
            UTC,
            datetime(2024, 11, 3, 10, 15, tzinfo=UTC),
        ),
        (1_700_000_000, [], BERLIN, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000", [], UTC, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1_700_000_000_000, [], UTC, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000123", [], UTC, datetime(2023, 11, 14, 22, 13, 20, 123_000, UTC)),
        (1_700_000_000.5, [], UTC, datetime(2023, 11, 14, 22, 13, 20, 500_000, UTC)),
        ("1700000000.5", [], UTC, datetime(2023, 11, 14, 22, 13, 20, 500_000, UTC)),
        (1_700_000_000_000_000, [], UTC, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
    ids=[
        "iso-z",
        "iso-z-fraction",
        "iso-offset-ignores-zone",
        "iso-negative-offset",
        "naive-winter-zone",
        "naive-summer-zone",
        "date-only",
        "surrounding-whitespace",
        "strptime-day-first",
        "strptime-second-format-zone",
        "strptime-literal-utc",
        "epoch-seconds",
        "epoch-seconds-text",
        "epoch-millis",
        "epoch-millis-text",
        "epoch-float",
        "epoch-float-text",
        "epoch-micros",
    ],
)
def test_timestamps_parse_to_utc(
    value: Any, formats: list[str], zone: Any, expected: datetime
) -> None:
    parsed = parse_timestamp(value, formats, zone)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("12345abc", "created_at '12345abc' is not ISO 8601 or ['%d/%m/%Y']"),
        ("yesterday", "is not ISO 8601"),
        ("2024-13-45", "is not ISO 8601"),
        ("31/02/2024", "is not ISO 8601"),
        ("", "created_at is empty"),
        ("   ", "created_at is empty"),
        (None, "created_at is empty"),
        (True, "created_at 'true' is not ISO 8601"),
        ("²³", "is not ISO 8601"),
        ("-", "is not ISO 8601"),
        (1e30, "is not a usable epoch time"),
        (math.nan, "is not a usable epoch time"),
        (math.inf, "is not a usable epoch time"),
        ("9" * 25, "is not ISO 8601"),
        ("0001-01-01T00:00:00+01:00", "out of range in UTC"),
        ("9999-12-31T23:00:00-05:00", "out of range in UTC"),
    ],
)
def test_unparseable_timestamps_are_bad_date_row_errors(value: Any, detail: str) -> None:
    error = row_error(parse_timestamp, value, ["%d/%m/%Y"], UTC)
    assert error.reason == "bad_date"
    assert detail in error.detail


def test_the_mapping_timezone_applies_to_naive_timestamps_in_rows() -> None:
    mapping = make_mapping(timezone="America/New_York", created_at_formats=["%m/%d/%Y %I:%M %p"])
    record = mapper(mapping)({"text": "hi", "created_at": "07/04/2024 09:30 PM"})
    assert record.created_at == datetime(2024, 7, 5, 1, 30, tzinfo=UTC)
    assert record.received_at == RECEIVED


def test_without_a_created_at_mapping_the_received_time_is_used() -> None:
    record = mapper(make_mapping(fields={"text": "text"}))({"text": "hello"})
    assert record.created_at == RECEIVED


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_mapped_but_empty_created_at_is_bad_date(value: Any) -> None:
    error = row_error(mapper(), {"text": "hello", "created_at": value})
    assert error.reason == "bad_date"


# ------------------------------------------------------------------ record ids


ROW = {
    "id": "R-1001",
    "text": "Great product!",
    "title": "Five stars",
    "created_at": "2024-05-01T10:00:00Z",
    "product": "Curry Kit",
}
WITH_ID = {
    "source_event_id": "id",
    "text": "text",
    "title": "title",
    "created_at": "created_at",
    "product": "product",
}
CONTENT_ONLY = {k: v for k, v in WITH_ID.items() if k != "source_event_id"}


def record_id(row: dict[str, Any], *, name: str = "reviews", fields: dict[str, str]) -> str:
    return mapper(make_mapping(name=name, fields=fields))(row).record_id


def test_record_ids_are_pinned_so_that_replays_in_later_runs_deduplicate() -> None:
    # Changing these values re-lands every record ever ingested: do it deliberately.
    assert record_id(ROW, fields=WITH_ID) == "c04bb2f6be611e630b6783129f2f3cdd"
    assert record_id(ROW, fields=CONTENT_ONLY) == "ffee5ee98e5e79990bd7c6e0f1b260ff"


def test_record_ids_do_not_depend_on_when_the_row_was_received() -> None:
    mapping = make_mapping(name="reviews", fields=CONTENT_ONLY)
    later = RecordMapper(
        mapping, received_at=RECEIVED + timedelta(days=9), max_text_chars=100, flat_rows=False
    )
    assert mapper(mapping)(ROW).record_id == later(ROW).record_id


@pytest.mark.parametrize("fields", [WITH_ID, CONTENT_ONLY], ids=["event-id", "content"])
def test_the_same_row_from_two_sources_gets_two_ids(fields: dict[str, str]) -> None:
    assert record_id(ROW, name="reviews", fields=fields) != record_id(
        ROW, name="reviews-eu", fields=fields
    )


def test_with_an_event_id_edits_to_the_text_keep_the_id() -> None:
    edited = {**ROW, "text": "Actually, it broke.", "created_at": "2025-01-01T00:00:00Z"}
    assert record_id(ROW, fields=WITH_ID) == record_id(edited, fields=WITH_ID)
    assert record_id(ROW, fields=WITH_ID) != record_id({**ROW, "id": "R-1002"}, fields=WITH_ID)


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"text": "  GREAT   product!\n"}, True),
        ({"title": "five STARS"}, True),
        ({"product": "curry  kit"}, True),
        ({"created_at": "2024-05-01T12:00:00+02:00"}, True),  # the same instant
        ({"text": "Great product"}, False),
        ({"created_at": "2024-05-02T10:00:00Z"}, False),
        ({"product": "Tikka Kit"}, False),
        ({"title": "Four stars"}, False),
    ],
    ids=[
        "text-case-space",
        "title-case",
        "product-case-space",
        "same-instant-other-offset",
        "text-differs",
        "other-day",
        "other-product",
        "other-title",
    ],
)
def test_content_ids_ignore_case_and_whitespace_but_not_content(
    change: dict[str, str], same: bool
) -> None:
    original = record_id(ROW, fields=CONTENT_ONLY)
    assert (record_id({**ROW, **change}, fields=CONTENT_ONLY) == original) is same


# --------------------------------------------------------- row -> record mapping


NESTED = SourceMapping(
    name="tix",
    channel="ticket",
    fields={
        "source_event_id": "id",
        "text": "description",
        "customer_segment": "requester.organization.tier",
        "region": "requester.address.country",
    },
    metadata={"tags": "tags", "via": "via.channel", "org": "requester.organization.name"},
)


def test_dotted_paths_reach_nested_values_and_lists_are_joined() -> None:
    row = {
        "id": 12345,
        "description": "Printer on fire",
        "requester": {"organization": {"tier": "gold", "name": "ACME"}, "address": "n/a"},
        "tags": ["printer", " urgent ", "", None, 3, True],
        "via": {"channel": "email"},
    }
    record = mapper(NESTED)(row)
    assert record.source_event_id == "12345"
    assert record.customer_segment == "gold"
    assert record.region is None  # the path runs through a string: no value, no error
    assert record.metadata == {
        "tags": "printer, urgent, 3, true",
        "via": "email",
        "org": "ACME",
    }


def test_missing_nested_keys_leave_fields_empty() -> None:
    record = mapper(NESTED)({"id": 1, "description": "x"})
    assert (record.customer_segment, record.region, record.metadata) == (None, None, {})


def test_a_list_of_text_becomes_one_text() -> None:
    record = mapper(make_mapping(fields={"text": "lines"}))({"lines": ["first", "second"]})
    assert record.text == "first, second"


def test_flat_rows_treat_dotted_names_as_column_names() -> None:
    mapping = make_mapping(fields={"text": "review.body"})
    assert mapper(mapping, flat=True)({"review.body": "csv column"}).text == "csv column"
    error = row_error(mapper(mapping, flat=False), {"review.body": "csv column"})
    assert error.reason == "missing_text"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("rating", "4", 4),
        ("rating", "4.0", 4),
        ("rating", 4.0, 4),
        ("rating", " 5 ", 5),
        ("rating", "", None),
        ("nps_score", "0", 0),
        ("nps_score", 10, 10),
        ("order_value", "4,5", 4.5),
        ("order_value", "12.50", 12.5),
        ("order_value", "1e3", 1000.0),
        ("order_value", "7", 7.0),
        ("order_value", 19.99, 19.99),
    ],
)
def test_numbers_are_read_from_text_and_json(field: str, value: Any, expected: Any) -> None:
    mapping = make_mapping(fields={"text": "text", field: "n"})
    record = mapper(mapping)({"text": "hi", "n": value})
    assert getattr(record, field) == expected
    assert type(getattr(record, field)) is type(expected)


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("rating", "five", "rating: 'five' is not a number"),
        ("rating", "4,5", "rating: Input should be a valid integer"),
        ("rating", 7, "rating: Input should be less than or equal to 5"),
        ("rating", 0, "rating: Input should be greater than or equal to 1"),
        ("rating", True, "rating: 'true' is not a number"),
        ("nps_score", "ten", "nps_score: 'ten' is not a number"),
        ("nps_score", 42, "nps_score: Input should be less than or equal to 10"),
        ("order_value", "1.234,56", "order_value: '1.234,56' is not a number"),
        ("order_value", "-3", "order_value: Input should be greater than or equal to 0"),
        ("order_value", "nan", "order_value: 'nan' is not a finite number"),
        ("order_value", math.inf, "order_value: inf is not a finite number"),
        ("rating", {"value": 4}, "rating: 'n' holds a JSON object"),
    ],
)
def test_bad_numbers_are_invalid_field_naming_the_field(
    field: str, value: Any, detail: str
) -> None:
    mapping = make_mapping(fields={"text": "text", field: "n"})
    error = row_error(mapper(mapping), {"text": "hi", "n": value})
    assert error.reason == "invalid_field"
    assert detail in error.detail


@pytest.mark.parametrize(
    ("allow", "text", "outcome"),
    [
        (False, "", "missing_text"),
        (False, "   \n", "missing_text"),
        (False, None, "missing_text"),
        (True, "", ""),
        (True, None, ""),
        (True, "  comment  ", "comment"),
        (False, "  comment  ", "comment"),
    ],
)
def test_allow_empty_text_decides_whether_rows_without_text_land(
    allow: bool, text: Any, outcome: str
) -> None:
    mapping = make_mapping(fields={"text": "Comment", "nps_score": "Score"}, allow_empty_text=allow)
    row = {"Comment": text, "Score": "9"}
    if outcome == "missing_text":
        error = row_error(mapper(mapping), row)
        assert (error.reason, error.detail) == ("missing_text", "no text in column 'Comment'")
    else:
        record = mapper(mapping)(row)
        assert (record.text, record.nps_score) == (outcome, 9)


@pytest.mark.parametrize(
    ("length", "outcome"), [(100, "lands"), (101, "text_too_long")], ids=["at-limit", "over"]
)
def test_text_longer_than_max_text_chars_is_text_too_long(length: int, outcome: str) -> None:
    row = {"text": "x" * length, "created_at": "2024-01-01"}
    if outcome == "lands":
        assert len(mapper(max_text_chars=100)(row).text) == 100
    else:
        error = row_error(mapper(max_text_chars=100), row)
        assert error.reason == "text_too_long"
        assert "text has 101 characters; the limit is 100" in error.detail


def test_windows_line_breaks_in_text_become_unix_ones() -> None:
    record = mapper()({"text": "line one\r\nline two", "created_at": "2024-01-01"})
    assert record.text == "line one\nline two"


def test_defaults_fill_only_empty_fields() -> None:
    mapping = make_mapping(
        fields={"text": "text", "region": "country"}, defaults={"region": "EU", "locale": "de-DE"}
    )
    assert mapper(mapping)({"text": "a", "country": ""}).region == "EU"
    assert mapper(mapping)({"text": "a", "country": "FR"}).region == "FR"
    assert mapper(mapping)({"text": "a"}).locale == "de-DE"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Chat", "chat"), (" SOCIAL ", "social"), ("", "review"), (None, "review")],
)
def test_a_channel_column_overrides_the_mapping_channel(value: Any, expected: str) -> None:
    mapping = make_mapping(fields={"text": "text", "channel": "ch"})
    assert mapper(mapping)({"text": "a", "ch": value}).channel == expected


def test_an_unknown_channel_value_is_invalid_field() -> None:
    mapping = make_mapping(fields={"text": "text", "channel": "ch"})
    error = row_error(mapper(mapping), {"text": "a", "ch": "fax"})
    assert error.reason == "invalid_field"
    assert error.detail.startswith("channel:")


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "t" * 2001), ("source_event_id", "i" * 257), ("locale", "x" * 36)],
)
def test_values_over_the_contract_lengths_are_invalid_field(field: str, value: str) -> None:
    mapping = make_mapping(fields={"text": "text", field: "v"})
    error = row_error(mapper(mapping), {"text": "a", "v": value})
    assert error.reason == "invalid_field"
    assert error.detail.startswith(f"{field}:")


def test_a_json_object_where_text_belongs_is_invalid_field_not_missing_text() -> None:
    error = row_error(mapper(), {"text": {"body": "nested"}, "created_at": "2024-01-01"})
    assert error.reason == "invalid_field"
    assert error.detail == "text: 'text' holds a JSON object, not a value"


@pytest.mark.parametrize("field", ["text", "title", "metadata"])
def test_undecodable_bytes_never_reach_a_record(field: str) -> None:
    mapping = make_mapping(fields={"text": "text", "title": "title"}, metadata={"m": "m"})
    row = {
        "text": "fine",
        "title": "fine",
        "m": "fine",
        field if field != "metadata" else "m": "bad \udcff",
    }
    error = row_error(mapper(mapping), row)
    assert error.reason == "bad_encoding"
    assert error.detail.startswith("metadata.m:" if field == "metadata" else f"{field}:")


def test_metadata_keeps_only_present_values_as_text() -> None:
    mapping = make_mapping(fields={"text": "text"}, metadata={"plan": "plan", "v": "version"})
    record = mapper(mapping)({"text": "a", "plan": " pro ", "version": 2.0, "unmapped": "x"})
    assert record.metadata == {"plan": "pro", "v": "2"}
    assert isinstance(record, FeedbackRecord)


def test_timezone_objects_are_accepted_for_naive_values() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert parse_timestamp("2024-01-01T12:00:00", [], plus_two) == datetime(
        2024, 1, 1, 10, tzinfo=UTC
    )
