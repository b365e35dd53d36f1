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
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import ConfigError, RowError, UnknownSourceError
from shared.models import Channel, FeedbackRecord, make_record_id

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

    def model_post_init(self, _context: Any) -> None:
        if "text" not in self.fields:
            raise ValueError("a mapping must map 'text'")

    @property
    def required_columns(self) -> list[str]:
        """Input columns without which no row of the file can become a record."""
        return [self.fields[name] for name in ("text", "created_at") if name in self.fields]

    @property
    def referenced_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.fields.values(), *self.metadata.values()]))


def load_mapping(path: Path) -> SourceMapping:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read source mapping {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a source mapping is a YAML mapping")
    raw.setdefault("name", path.stem)
    if raw["name"] != path.stem:
        raise ConfigError(f"{path}: name {raw['name']!r} must equal the file name {path.stem!r}")
    try:
        return SourceMapping.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid source mapping:\n{exc}") from exc


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


def _getter(path: str, flat: bool) -> Callable[[Mapping[str, Any]], Any]:
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


def parse_timestamp(value: Any, formats: list[str], zone: timezone | ZoneInfo) -> datetime:
    """ISO 8601 first, then each strptime format, then epoch seconds/milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value)
    text = _as_text(value)
    if text is None:
        raise RowError("bad_date", "created_at is empty")
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in formats:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        if EPOCH_TEXT.fullmatch(text):
            return _from_epoch(float(text) if "." in text else int(text))
        hint = f" or {formats}" if formats else ""
        raise RowError("bad_date", f"created_at {text[:40]!r} is not ISO 8601{hint}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise RowError("bad_date", f"created_at {text[:40]!r} is out of range in UTC") from None


class RecordMapper:
    """Turns one parsed input row into a FeedbackRecord, or raises RowError with a reason."""

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
        self._zone: timezone | ZoneInfo = (
            UTC if mapping.timezone == "UTC" else ZoneInfo(mapping.timezone)
        )
        self._fields = {name: _getter(path, flat_rows) for name, path in mapping.fields.items()}
        self._metadata = {key: _getter(path, flat_rows) for key, path in mapping.metadata.items()}

    def __call__(self, row: Mapping[str, Any]) -> FeedbackRecord:
        mapping = self.mapping
        values: dict[str, Any] = {name: get(row) for name, get in self._fields.items()}
        for name, value in values.items():
            if isinstance(value, dict):
                raise RowError(
                    "invalid_field",
                    f"{name}: {mapping.fields[name]!r} holds a JSON object, not a value",
                )
        for name, constant in mapping.defaults.items():
            if _as_text(values.get(name)) is None:
                values[name] = constant

        text = _as_text(values.get("text")) or ""
        if not text and not mapping.allow_empty_text:
            raise RowError("missing_text", f"no text in column {mapping.fields['text']!r}")
        if len(text) > self.max_text_chars:
            raise RowError(
                "text_too_long",
                f"text has {len(text):,} characters; the limit is {self.max_text_chars:,} "
                "(INSIGHTLOOP_MAX_TEXT_CHARS)",
            )
        text = text.replace("\r\n", "\n")

        if "created_at" in values and values["created_at"] not in (None, ""):
            created_at = parse_timestamp(
                values["created_at"], mapping.created_at_formats, self._zone
            )
        elif "created_at" in mapping.fields:
            raise RowError("bad_date", f"no timestamp in {mapping.fields['created_at']!r}")
        else:
            created_at = self.received_at

        rating = _as_number(values.get("rating"), "rating")
        nps_score = _as_number(values.get("nps_score"), "nps_score")
        order_value = _as_number(values.get("order_value"), "order_value")

        source_event_id = _as_text(values.get("source_event_id"))
        title = _as_text(values.get("title"))
        product = _as_text(values.get("product"))
        record = {
            "record_id": make_record_id(
                mapping.name,
                source_event_id,
                text=text,
                title=title,
                created_at=created_at,
                product=product,
            ),
            "source": mapping.name,
            "channel": (_as_text(values.get("channel")) or mapping.channel).lower(),
            "source_event_id": source_event_id,
            "created_at": created_at,
            "received_at": self.received_at,
            "text": text,
            "title": title,
            "rating": rating,
            "nps_score": nps_score,
            "product": product,
            "sku": _as_text(values.get("sku")),
            "product_category": _as_text(values.get("product_category")),
            "region": _as_text(values.get("region")),
            "locale": _as_text(values.get("locale")),
            "customer_segment": _as_text(values.get("customer_segment")),
            "order_value": order_value,
            "metadata": {
                key: value
                for key, get in self._metadata.items()
                if (value := _as_text(get(row))) is not None
            },
        }
        _reject_surrogates(record)
        try:
            return FeedbackRecord.model_validate(record)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in exc.errors()
            )
            raise RowError("invalid_field", problems) from None


def _reject_surrogates(record: dict[str, Any]) -> None:
    """Undecodable bytes (lone surrogates) cannot be landed as UTF-8 JSON."""
    texts = [(k, v) for k, v in record.items() if isinstance(v, str)]
    texts += [(f"metadata.{k}", v) for k, v in record["metadata"].items()]
    for name, text in texts:
        if not text.isascii() and _SURROGATES.search(text):
            raise RowError("bad_encoding", f"{name}: contains bytes that are not valid text")


__all__ = [
    "MAPPABLE_FIELDS",
    "RecordMapper",
    "SourceMapping",
    "load_mapping",
    "load_mappings",
    "parse_timestamp",
    "resolve_mapping",
]
