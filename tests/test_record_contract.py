"""The mapper's fast path and the FeedbackRecord contract agree on every row.

``RecordMapper.map_fields`` checks rows against limits read from ``FeedbackRecord``
instead of building a model per row, and the pipeline serialises with orjson. These
property tests feed it arbitrary rows and require that (a) every accepted row
validates as a FeedbackRecord and serialises to the same bytes pydantic gives, and
(b) every refusal is a RowError with a known reason, never another exception.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import RowError
from shared.ingest.sources import RecordMapper, SourceMapping
from shared.models import FeedbackRecord, QuarantineReason
from shared.pipeline import to_json_line

CI = os.environ.get("CI") == "true"
REASONS = set(get_args(QuarantineReason))
RECEIVED = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)

EVERY_FIELD = SourceMapping(
    name="contract",
    channel="review",
    fields={
        "text": "text",
        "created_at": "created_at",
        "source_event_id": "id",
        "channel": "channel",
        "title": "title",
        "rating": "rating",
        "nps_score": "nps",
        "product": "product",
        "sku": "sku",
        "product_category": "category",
        "region": "region",
        "locale": "locale",
        "customer_segment": "segment",
        "order_value": "order_value",
    },
    metadata={"plan": "plan", "version": "version"},
    created_at_formats=["%Y-%m-%d %H:%M:%S UTC", "%d/%m/%Y %H:%M"],
    timezone="Europe/Berlin",
)

# Text that exercises stripping, case, JSON escaping and non-ASCII handling.
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=' \t\r\n\x00\x1f\u2028"\\é日😀A', max_size=20),
    st.sampled_from(["", "   ", "Great mug", "  padded  ", "line\r\nbreak", "x" * 2001]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.just({"nested": 1}))
numbers = st.one_of(
    values,
    st.sampled_from(["4", " 5 ", "4.0", "4,5", "0", "10", "11", "-3", "1e3", "nan", "٣", "²"]),
    st.integers(min_value=-2, max_value=12),
    st.floats(min_value=-2, max_value=12),
)
timestamps = st.one_of(
    values,
    st.datetimes(timezones=st.sampled_from([None, UTC])).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC")),
    st.sampled_from(
        ["2025-09-20 00:00:00 UTC", "20/09/2025 08:15", "1700000000", "1700000000123", "soon"]
    ),
    st.integers(min_value=0, max_value=2**62),
)
some_text = st.one_of(
    st.text(min_size=1, max_size=60).filter(str.strip),
    st.sampled_from(["Great mug", "  padded  ", "line\r\nbreak", "naïve café 日本 😀", "a\u2028b"]),
)
plausible_rows = st.fixed_dictionaries(
    {
        "text": some_text,
        "created_at": st.one_of(
            st.datetimes(timezones=st.sampled_from([None, UTC])).map(lambda d: d.isoformat()),
            st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC")),
            st.integers(min_value=0, max_value=4_000_000_000_000),
        ),
    },
    optional={
        "id": st.one_of(some_text, st.integers(min_value=0)),
        "channel": st.sampled_from(["Chat", " SURVEY ", "ticket", ""]),
        "title": some_text,
        "rating": st.one_of(st.integers(1, 5), st.sampled_from(["1", " 5 ", "4.0", 3.0])),
        "nps": st.one_of(st.integers(0, 10), st.sampled_from(["0", "10", " 7"])),
        "product": some_text,
        "sku": some_text,
        "category": st.lists(some_text, max_size=3),
        "region": some_text,
        "locale": st.sampled_from(["de-DE", "en", ""]),
        "segment": some_text,
        "order_value": st.one_of(
            st.floats(min_value=0, max_value=1e12), st.integers(0, 10**6), st.just("4,5")
        ),
        "plan": some_text,
        "version": st.one_of(st.floats(allow_nan=False), st.booleans(), st.integers()),
    },
)
any_rows = st.fixed_dictionaries(
    {"text": st.one_of(texts, values), "created_at": timestamps},
    optional={
        "id": values,
        "channel": st.one_of(values, st.sampled_from(["Chat", " SURVEY ", "fax"])),
        "title": values,
        "rating": numbers,
        "nps": numbers,
        "product": values,
        "sku": values,
        "category": values,
        "region": values,
        "locale": st.one_of(values, st.sampled_from(["de-DE", "x" * 36])),
        "segment": values,
        "order_value": numbers,
        "plan": values,
        "version": values,
    },
)


def _mapper(*, max_text_chars: int = 20_000) -> RecordMapper:
    return RecordMapper(
        EVERY_FIELD, received_at=RECEIVED, max_text_chars=max_text_chars, flat_rows=False
    )


@settings(
    max_examples=1500 if CI else 600,
    deadline=None,
    derandomize=CI,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(row=st.one_of(plausible_rows, any_rows))
def test_accepted_rows_are_valid_records_serialised_as_pydantic_does(row: dict[str, Any]) -> None:
    mapper = _mapper()
    try:
        record = mapper.map_fields(row)
    except RowError as error:
        assert error.reason in REASONS
        assert error.detail
        return
    model = FeedbackRecord.model_validate(record)
    assert to_json_line(record) == model.model_dump_json().encode() + b"\n"
    assert mapper(row) == model


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rating", 0),
        ("rating", 6),
        ("rating", 4.5),
        ("nps", -1),
        ("nps", 11),
        ("order_value", -0.01),
        ("title", "t" * 2001),
        ("id", "i" * 257),
        ("locale", "l" * 36),
        ("channel", "fax"),
    ],
)
def test_each_contract_limit_is_enforced_with_pydantic_wording(field: str, value: Any) -> None:
    row = {"text": "fine", "created_at": "2025-09-20T10:00:00Z", field: value}
    with pytest.raises(RowError) as caught:
        _mapper().map_fields(row)
    assert caught.value.reason == "invalid_field"
    canonical = {v: k for k, v in EVERY_FIELD.fields.items()}[field]
    assert caught.value.detail.startswith(f"{canonical}: ")
    assert " should " in caught.value.detail  # pydantic's message, not a generic one


def test_values_at_the_contract_limits_are_accepted() -> None:
    row = {
        "text": "fine",
        "created_at": "2025-09-20T10:00:00Z",
        "rating": "5",
        "nps": 0,
        "order_value": 0,
        "title": "t" * 2000,
        "id": "i" * 256,
        "locale": "l" * 35,
    }
    record = _mapper().map_fields(row)
    assert (record["rating"], record["nps_score"], record["order_value"]) == (5, 0, 0.0)
    assert FeedbackRecord.model_validate(record).title == "t" * 2000
    assert not math.isnan(record["order_value"])
