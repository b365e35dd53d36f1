"""Source mappings: config files that say how one export format becomes FeedbackRecords.

One YAML file per source in ``prompts/sources/<name>.yaml``; the file name is the
source name, which is also the inbox folder (``inbox/<name>/...``) and the Service Bus
message's ``source`` property. See ``docs/sources.md`` for the format.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.errors import ConfigError, RowError, UnknownSourceError
from shared.models import CHANNELS, Channel, FeedbackRecord, make_record_id
from shared.yaml_config import read_yaml_mapping, validated

# Canonical fields a mapping may fill from the input; record_id/received_at are derived.
MAPPABLE_FIELDS = (
    "source_event_id",
    "channel",
    "created_at",
    "text",
    "title",
    "rating",
    "nps_score",
    "product",
    "sku",
    "product_category",
    "region",
    "locale",
    "customer_segment",
    "order_value",
)
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Epoch timestamps written as text: ASCII digits, optionally with a fraction.
EPOCH_TEXT = re.compile(r"[0-9]{1,20}(?:\.[0-9]+)?")
# Lone surrogates: undecodable input bytes that must never reach a landed record.
_SURROGATES = re.compile("[\ud800-\udfff]")


class CsvOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delimiter: str | None = Field(
        default=None, description="one character; None = detect from the header line"
    )
    quotechar: str = '"'
    encoding: str = "utf-8"

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("must be exactly one character")
        return value


class SourceMapping(BaseModel):
    """How one export format maps onto FeedbackRecord."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    channel: Channel
    format: Literal["auto", "csv", "json", "jsonl"] = "auto"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    records_path: str | None = Field(
        default=None,
        description="JSON exports: dotted key of the array of records, e.g. 'tickets'",
    )
    fields: dict[str, str] = Field(description="canonical field -> column or dotted path")
    metadata: dict[str, str] = Field(
        default_factory=dict, description="metadata key -> column or dotted path"
    )
    free_text_metadata: list[str] = Field(
        default_factory=list,
        description="metadata keys that hold free text: PII-masked like text and title",
    )
    defaults: dict[str, str] = Field(
        default_factory=dict, description="canonical field -> constant when the input has none"
    )
    created_at_formats: list[str] = Field(
        default_factory=list, description="strptime formats tried after ISO 8601"
    )
    timezone: str = Field(default="UTC", description="zone for timestamps without an offset")
    allow_empty_text: bool = Field(
        default=False, description="land rows without text (e.g. an NPS score alone)"
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not SOURCE_NAME.match(value):
            raise ValueError("source names are lowercase letters, digits, '_' and '-'")
        return value

    @field_validator("fields", "defaults")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(MAPPABLE_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown canonical fields {unknown}; allowed: {list(MAPPABLE_FIELDS)}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _text_and_free_text_metadata(self) -> SourceMapping:
        if "text" not in self.fields:
            raise ValueError("a mapping must map 'text'")
        unknown = sorted(set(self.free_text_metadata) - set(self.metadata))
        if unknown:
            raise ValueError(f"free_text_metadata names keys that are not in metadata: {unknown}")
        return self

    @property
    def required_columns(self) -> list[str]:
        """Input columns without which no row of the file can become a record."""
        return [self.fields[name] for name in ("text", "created_at") if name in self.fields]

    @property
    def referenced_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.fields.values(), *self.metadata.values()]))


def load_mapping(path: Path) -> SourceMapping:
    raw = read_yaml_mapping(path, "source mapping", "a source mapping is a YAML mapping")
    raw.setdefault("name", path.stem)
    if raw["name"] != path.stem:
        raise ConfigError(f"{path}: name {raw['name']!r} must equal the file name {path.stem!r}")
    return validated(SourceMapping, raw, path, "source mapping")


@functools.cache
def load_mappings(config_dir: Path) -> dict[str, SourceMapping]:
    """All mappings under ``<config_dir>/sources``; cached per directory."""
    folder = Path(config_dir) / "sources"
    if not folder.is_dir():
        raise ConfigError(f"no source mappings folder at {folder}")
    return {path.stem: load_mapping(path) for path in sorted(folder.glob("*.yaml"))}


def resolve_mapping(mappings: Mapping[str, SourceMapping], source: str) -> SourceMapping:
    try:
        return mappings[source]
    except KeyError:
        raise UnknownSourceError(source, list(mappings)) from None


# ---------------------------------------------------------------- row -> record


Getter = Callable[[Mapping[str, Any]], Any]


def _getter(path: str, flat: bool) -> Getter:
    if flat or "." not in path:
        return lambda row: row.get(path)
    keys = path.split(".")

    def get(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for key in keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    return get


def _accessor(path: str, flat: bool) -> tuple[str | None, Getter | None]:
    """(key, None) when ``row.get(key)`` reads the path, else (None, nested getter)."""
    if flat or "." not in path:
        return path, None
    return None, _getter(path, flat)


def _as_text(value: Any) -> str | None:
    """Input value -> stripped text, or None when empty. Lists join with ', '."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, list | tuple):
        text = ", ".join(t for t in (_as_text(v) for v in value) if t)
    elif isinstance(value, dict):
        return None
    else:
        text = str(value).strip()
    return text or None


def _as_number(value: Any, field: str) -> int | float | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            raise RowError("invalid_field", f"{field}: {value!r} is not a finite number")
        return value
    text = _as_text(value)
    if text is None:
        return None
    try:
        number = float(text.replace(",", ".")) if "," in text and "." not in text else float(text)
    except ValueError:
        raise RowError("invalid_field", f"{field}: {text[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise RowError("invalid_field", f"{field}: {text[:40]!r} is not a finite number")
    return int(number) if number.is_integer() else number


def _from_epoch(value: float) -> datetime:
    """Epoch seconds, or milli/micro/nanoseconds told apart by magnitude (1973..5138)."""
    magnitude = abs(value)
    if magnitude >= 1e17:
        seconds = value / 1e9
    elif magnitude >= 1e14:
        seconds = value / 1e6
    elif magnitude >= 1e11:
        seconds = value / 1e3
    else:
        seconds = value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise RowError("bad_date", f"created_at {value!r} is not a usable epoch time") from None


def _localize(parsed: datetime, zone: timezone | ZoneInfo, text: str) -> datetime:
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
        if zone is UTC:
            return parsed
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise RowError("bad_date", f"created_at {text[:40]!r} is out of range in UTC") from None


# A strptime format that is ISO 8601 plus literal text, like "%Y-%m-%d %H:%M:%S UTC".
_ISO_WITH_SUFFIX = re.compile(r"%Y-%m-%d(?:[ T]%H:%M(?::%S(?:\.%f)?)?)?(?P<suffix>[^%]+)")


class TimestampParser:
    """ISO 8601 first, then each strptime format, then epoch seconds/milliseconds.

    Formats that are ISO 8601 plus a literal suffix (" UTC") are read by stripping the
    suffix and calling ``datetime.fromisoformat`` (C, ~1 us) instead of ``strptime``
    (pure Python, ~14 us); anything the shortcut does not accept goes the slow way.
    """

    def __init__(self, formats: list[str], zone: timezone | ZoneInfo) -> None:
        self.formats = list(formats)
        self.zone = zone
        self._suffixes = tuple(
            dict.fromkeys(
                match["suffix"] for fmt in formats if (match := _ISO_WITH_SUFFIX.fullmatch(fmt))
            )
        )

    def __call__(self, value: Any) -> datetime:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _from_epoch(value)
        text = _as_text(value)
        if text is None:
            raise RowError("bad_date", "created_at is empty")
        for suffix in self._suffixes:
            if text.endswith(suffix):
                try:
                    parsed = datetime.fromisoformat(text[: -len(suffix)])
                except ValueError:
                    break
                if parsed.tzinfo is None:  # strptime would not accept an offset here
                    return _localize(parsed, self.zone, text)
                break
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return self._slow(text)
        return _localize(parsed, self.zone, text)

    def _slow(self, text: str) -> datetime:
        for fmt in self.formats:
            try:
                return _localize(datetime.strptime(text, fmt), self.zone, text)
            except ValueError:
                continue
        if EPOCH_TEXT.fullmatch(text):
            return _from_epoch(float(text) if "." in text else int(text))
        hint = f" or {self.formats}" if self.formats else ""
        raise RowError("bad_date", f"created_at {text[:40]!r} is not ISO 8601{hint}")


def parse_timestamp(value: Any, formats: list[str], zone: timezone | ZoneInfo) -> datetime:
    """ISO 8601 first, then each strptime format, then epoch seconds/milliseconds."""
    return TimestampParser(formats, zone)(value)


# Optional text fields of FeedbackRecord a mapping may fill (text and channel aside).
_OPTIONAL_TEXT_FIELDS = (
    "source_event_id",
    "title",
    "product",
    "sku",
    "product_category",
    "region",
    "locale",
    "customer_segment",
)
_NUMBER_FIELDS = ("rating", "nps_score", "order_value")
_CHANNELS = frozenset(CHANNELS)


@dataclass(frozen=True, slots=True)
class _Limits:
    """Constraints of one FeedbackRecord field, read from the model itself."""

    max_length: int | None = None
    ge: float | None = None
    le: float | None = None
    integer: bool = False

    def fits(self, value: Any) -> bool:
        if self.max_length is not None and len(value) > self.max_length:
            return False
        if self.ge is not None and value < self.ge:
            return False
        return self.le is None or value <= self.le


@functools.cache
def _field_limits() -> dict[str, _Limits]:
    limits = {}
    for name, info in FeedbackRecord.model_fields.items():
        found: dict[str, Any] = {}
        for item in info.metadata:
            for attribute in ("max_length", "ge", "le"):
                if getattr(item, attribute, None) is not None:
                    found[attribute] = getattr(item, attribute)
        limits[name] = _Limits(**found, integer=int in get_args(info.annotation))
    return limits


@functools.cache
def _record_template() -> dict[str, Any]:
    """Every FeedbackRecord field in model order, at its default (required ones None)."""
    return {
        name: (None if info.is_required() else info.get_default(call_default_factory=True))
        for name, info in FeedbackRecord.model_fields.items()
    }


class RecordMapper:
    """Turns one parsed input row into a FeedbackRecord, or raises RowError with a reason.

    :meth:`map_fields` is the hot path of every ingest: it returns the record as a plain
    dict, already checked against the constraints declared on ``FeedbackRecord`` (read
    from the model, so the two cannot drift) without building a model per row. When a
    value breaks one, the dict is validated by pydantic for the exact message.
    ``tests/ingest/test_sources.py`` checks that both agree on accepted rows and rejections.
    """

    def __init__(
        self,
        mapping: SourceMapping,
        *,
        received_at: datetime,
        max_text_chars: int,
        flat_rows: bool,
    ) -> None:
        self.mapping = mapping
        self.received_at = received_at
        self.max_text_chars = max_text_chars
        zone: timezone | ZoneInfo = UTC if mapping.timezone == "UTC" else ZoneInfo(mapping.timezone)
        self._timestamp = TimestampParser(mapping.created_at_formats, zone)
        self._defaults = dict(mapping.defaults)
        absent: tuple[str | None, Getter | None] = (None, _missing)
        access = {name: _accessor(path, flat_rows) for name, path in mapping.fields.items()}
        self._text = access["text"]
        self._created_at = (
            _getter(mapping.fields["created_at"], flat_rows)
            if ("created_at" in mapping.fields)
            else None
        )
        limits = _field_limits()
        wanted = set(access) | set(self._defaults)
        # The channel column is read like the optional texts, then checked against CHANNELS.
        self._texts = [
            (name, *access.get(name, absent), limits[name].max_length)
            for name in ("channel", *_OPTIONAL_TEXT_FIELDS)
            if name in wanted
        ]
        self._numbers = [
            (name, *access.get(name, absent), limits[name])
            for name in _NUMBER_FIELDS
            if name in wanted
        ]
        self._metadata = [
            (key, *_accessor(path, flat_rows)) for key, path in mapping.metadata.items()
        ]
        self._template = _record_template() | {
            "source": mapping.name,
            "channel": mapping.channel,
            "received_at": received_at,
        }

    def __call__(self, row: Mapping[str, Any]) -> FeedbackRecord:
        return FeedbackRecord.model_validate(self.map_fields(row))

    def map_fields(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The record for ``row`` as a dict in FeedbackRecord field order, validated.

        Runs once per input row, so the common case (a string value) is inlined.
        """
        mapping, defaults, row_get = self.mapping, self._defaults, row.get
        record = self._template.copy()
        key, nested = self._text
        value = row_get(key) if nested is None else nested(row)
        text = self._clean_text("text", value) or defaults.get("text") or ""
        if not text and not mapping.allow_empty_text:
            raise RowError("missing_text", f"no text in column {mapping.fields['text']!r}")
        if len(text) > self.max_text_chars:
            raise RowError(
                "text_too_long",
                f"text has {len(text):,} characters; the limit is {self.max_text_chars:,} "
                "(INSIGHTLOOP_MAX_TEXT_CHARS)",
            )
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        record["text"] = text
        record["created_at"] = created_at = self._created(row)
        broken = False
        for name, key, nested, max_length in self._texts:
            value = row_get(key) if nested is None else nested(row)
            if type(value) is str:
                value = value.strip()
                if value and not value.isascii() and _SURROGATES.search(value):
                    raise _undecodable(name)
            elif value is not None:
                value = self._clean_text(name, value)
            if not value:
                value = defaults.get(name)
                if value is None:
                    continue
            if name == "channel":
                value = value.lower()
                broken = broken or value not in _CHANNELS
            record[name] = value
            if max_length is not None and len(value) > max_length:
                broken = True
        for name, key, nested, limits in self._numbers:
            value = row_get(key) if nested is None else nested(row)
            if type(value) is str and value.isdigit() and value.isascii():
                number: int | float = int(value)
            else:
                if isinstance(value, dict):
                    raise _object_error(name, mapping)
                if _as_text(value) is None:
                    value = defaults.get(name)
                number = _as_number(value, name)
                if number is None:
                    continue
            if not limits.integer:
                number = float(number)
            elif type(number) is float and number.is_integer():
                number = int(number)
            record[name] = number
            if (limits.integer and type(number) is not int) or not limits.fits(number):
                broken = True
        if self._metadata:
            record["metadata"] = metadata = {}
            for name, key, nested in self._metadata:
                value = row_get(key) if nested is None else nested(row)
                value = (value.strip() or None) if type(value) is str else _as_text(value)
                if value is not None:
                    if not value.isascii() and _SURROGATES.search(value):
                        raise _undecodable(f"metadata.{name}")
                    metadata[name] = value
        if broken:
            return self._validated(record)
        record["record_id"] = make_record_id(
            mapping.name,
            record["source_event_id"],
            text=text,
            title=record["title"],
            created_at=created_at,
            product=record["product"],
        )
        return record

    def _clean_text(self, name: str, value: Any) -> str | None:
        """Stripped text of any input value, or None; JSON objects are refused."""
        if isinstance(value, dict):
            raise _object_error(name, self.mapping)
        text = _as_text(value)
        if text is not None and not text.isascii() and _SURROGATES.search(text):
            raise _undecodable(name)
        return text

    def _created(self, row: Mapping[str, Any]) -> datetime:
        get = self._created_at
        value = get(row) if get is not None else None
        if isinstance(value, dict):
            raise _object_error("created_at", self.mapping)
        if _as_text(value) is None and "created_at" in self._defaults:
            value = self._defaults["created_at"]
        if value is not None and value != "":
            return self._timestamp(value)
        if get is not None:
            raise RowError("bad_date", f"no timestamp in {self.mapping.fields['created_at']!r}")
        return self.received_at

    def _validated(self, record: dict[str, Any]) -> dict[str, Any]:
        """Let pydantic judge a record the fast checks refused, for its error message."""
        record["record_id"] = "0" * 32  # not derived yet; irrelevant to the verdict
        try:
            FeedbackRecord.model_validate(record)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in exc.errors()
            )
            raise RowError("invalid_field", problems) from None
        raise AssertionError(f"fast checks and FeedbackRecord disagree on {list(record)}")


def _object_error(name: str, mapping: SourceMapping) -> RowError:
    return RowError(
        "invalid_field", f"{name}: {mapping.fields.get(name)!r} holds a JSON object, not a value"
    )


def _undecodable(name: str) -> RowError:
    return RowError("bad_encoding", f"{name}: contains bytes that are not valid text")


def _missing(_row: Mapping[str, Any]) -> None:
    """Getter of a field the mapping does not read (it only has a default)."""


__all__ = [
    "MAPPABLE_FIELDS",
    "RecordMapper",
    "SourceMapping",
    "TimestampParser",
    "load_mapping",
    "load_mappings",
    "parse_timestamp",
    "resolve_mapping",
]
