"""Labelled evaluation datasets: the record format, dataset specs and their readers.

A dataset is a spec file ``eval/datasets/<name>.yaml`` naming where the records are, how
to read them and how the dataset's own labels map onto a taxonomy's themes and owners.
Every reader yields :class:`EvalRecord` (the documented JSON Lines format, see
``docs/eval.md``), so metrics and runners never see a source format.

Public data whose licence keeps it out of the repository is read from a data directory
given at run time (``--data-dir``); the project's own sets live beside the specs.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.decide.taxonomy import (
    FALLBACK_THEME,
    SENTIMENTS,
    Sentiment,
    Taxonomy,
    Theme,
    Urgency,
    get_taxonomy,
    load_taxonomy,
)
from shared.errors import ConfigError
from shared.settings import PROJECT_ROOT

DATASETS_DIR = PROJECT_ROOT / "eval" / "datasets"
Split = Literal["train", "val", "test"]


class EvalRecord(BaseModel):
    """One labelled record: what the classifier should say about ``text``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    text: str
    labels: tuple[str, ...] = Field(default=(), description="theme ids, main theme first")
    sentiment: Sentiment | None = None
    theme_sentiment: dict[str, Sentiment] = Field(
        default_factory=dict, description="the feeling about each labelled theme"
    )
    urgency: Urgency | None = None
    owner: str | None = None
    split: Split | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class ThemeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str
    definition: str | None = None


class DatasetSpec(BaseModel):
    """``eval/datasets/<name>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    licence: str
    location: Literal["repo", "data_dir"] = "data_dir"
    reader: Literal["jsonl", "intent_csv"] = "jsonl"
    files: dict[Split, str] | None = None
    file: str | None = None
    # Records without a split of their own: this share of ids (by hash) is the test split.
    test_percent: int = Field(default=20, ge=1, le=100)
    # jsonl field names in the source
    labels_field: str | None = "labels"
    polarity_field: str | None = None
    sentiment_field: str | None = "sentiment"
    rating_field: str | None = None
    rating_sentiment: dict[int, Sentiment] = Field(default_factory=dict)
    out_of_scope_field: str | None = None
    # Labels onto themes: "taxonomy: default" maps onto prompts/taxonomy.yaml through
    # label_map (a label mapped to null is dropped; keys may be fnmatch patterns, the first
    # match wins; a value may depend on the label's polarity: {positive: praise, ...});
    # otherwise the dataset's labels are the
    # themes, with owners from `themes`.
    taxonomy: Literal["default", "labels"] = "labels"
    label_map: dict[str, str | dict[str, str | None] | None] = Field(default_factory=dict)
    polarity_map: dict[str, Sentiment] = Field(default_factory=dict)
    themes: dict[str, ThemeSpec] = Field(default_factory=dict)
    single_label: bool = False
    # A stratified-by-hash sample keeps CI fast; None reads everything.
    limit: dict[Split, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.files is None) == (self.file is None):
            raise ValueError("give either `files` (one per split) or `file`")
        return self


class Dataset:
    """A spec with its folder, ready to read."""

    def __init__(self, spec: DatasetSpec, spec_path: Path, data_dir: Path | None) -> None:
        self.spec = spec
        self.spec_path = spec_path
        self.data_dir = data_dir
        self._taxonomy: Taxonomy | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def root(self) -> Path:
        if self.spec.location == "repo":
            return self.spec_path.parent
        if self.data_dir is None:
            raise ConfigError(
                f"dataset {self.name!r} is read from a data directory ({self.spec.licence}); "
                "pass --data-dir (see eval/README.md for where to get it)"
            )
        return self.data_dir

    def available(self) -> bool:
        try:
            root = self.root()
        except ConfigError:
            return False
        paths = self.spec.files.values() if self.spec.files else [self.spec.file or ""]
        return all((root / path).is_file() for path in paths)

    def taxonomy(self) -> Taxonomy:
        """The themes this dataset is scored on (labels mapped), owners included."""
        if self._taxonomy is None:
            self._taxonomy = _dataset_taxonomy(self.spec)
        return self._taxonomy

    def records(self, split: Split | None = None) -> list[EvalRecord]:
        """The dataset's records (of one split), labels mapped onto the taxonomy."""
        taxonomy = self.taxonomy()
        out = [record for record in self._read() if split is None or record.split == split]
        limit = self.spec.limit.get(split) if split else None
        if limit is not None and len(out) > limit:
            out = sorted(out, key=lambda r: _hash(r.id))[:limit]
            out.sort(key=lambda r: r.id)
        # The owner follows from the main theme; a multi-label source does not say which
        # label is the main one, so only one-label records get a derived owner.
        owners = {theme.id: theme.owner for theme in taxonomy.themes}
        return [
            record.model_copy(update={"owner": owners.get(record.labels[0])})
            if record.owner is None and len(record.labels) == 1
            else record
            for record in out
        ]

    def _read(self) -> Iterator[EvalRecord]:
        root = self.root()
        sources: list[tuple[Path, Split | None]] = (
            [(root / path, split) for split, path in self.spec.files.items()]
            if self.spec.files
            else [(root / (self.spec.file or ""), None)]
        )
        for path, split in sources:
            if not path.is_file():
                raise ConfigError(f"dataset {self.name!r}: {path} does not exist")
            rows = _intent_csv(path) if self.spec.reader == "intent_csv" else _jsonl(path)
            for number, row in enumerate(rows, start=1):
                try:
                    yield self._record(row, split, number)
                except (ValidationError, ValueError, KeyError, TypeError) as exc:
                    raise ConfigError(f"{path}:{number}: not an evaluation record: {exc}") from exc

    def _record(self, row: dict[str, Any], split: Split | None, number: int) -> EvalRecord:
        spec = self.spec
        rid = str(row.get("id") or f"{self.name}-{split or 'all'}-{number:06d}")
        labels = self._labels(row)
        theme_sentiment = self._polarity(row)
        sentiment = row.get(spec.sentiment_field) if spec.sentiment_field else None
        if spec.rating_field and row.get(spec.rating_field) is not None:
            sentiment = spec.rating_sentiment.get(int(row[spec.rating_field]))
        record_split = row.get("split") or split or self._hash_split(rid)
        if record_split == "validation":
            record_split = "val"
        known = {"id", "text", "labels", "sentiment", "split", "urgency", "owner", "note"}
        metadata = row.get("metadata") or {
            key: value
            for key, value in row.items()
            if key not in known and isinstance(value, str | int | float | bool)
        }
        return EvalRecord(
            id=rid,
            text=str(row["text"]),
            labels=tuple(labels),
            sentiment=self._sentiment(sentiment),
            theme_sentiment={k: v for k, v in theme_sentiment.items() if k in labels},
            urgency=row.get("urgency"),
            owner=row.get("owner"),
            split=record_split,
            metadata=metadata,
            note=row.get("note"),
        )

    def _labels(self, row: dict[str, Any]) -> list[str]:
        spec = self.spec
        if spec.out_of_scope_field and row.get(spec.out_of_scope_field):
            return [FALLBACK_THEME]
        raw = row.get(spec.labels_field) if spec.labels_field else None
        if raw is None:
            return []
        values = [raw] if isinstance(raw, str) else list(raw)
        polarity = dict(self._source_polarity(row))
        out: list[str] = []
        for value in values:
            theme = self._theme_id(str(value), polarity.get(str(value)))
            if theme is not None and theme not in out:
                out.append(theme)
        return out

    def _theme_id(self, label: str, polarity: str | None = None) -> str | None:
        for pattern, target in self.spec.label_map.items():
            if label == pattern or fnmatch.fnmatchcase(label, pattern):
                if isinstance(target, dict):
                    return target.get(polarity or "", None)
                return target
        return _slug(label) if self.spec.taxonomy == "labels" else label

    def _source_polarity(self, row: dict[str, Any]) -> list[tuple[str, str]]:
        """(source label, source polarity) pairs, from a mapping or a list of objects."""
        field = self.spec.polarity_field
        if not field or row.get(field) is None:
            return []
        raw = row[field]
        if isinstance(raw, dict):
            return [(str(k), str(v)) for k, v in raw.items()]
        return [(str(item["category"]), str(item["polarity"])) for item in raw]

    def _polarity(self, row: dict[str, Any]) -> dict[str, Sentiment]:
        out: dict[str, Sentiment] = {}
        for label, polarity in self._source_polarity(row):
            theme = self._theme_id(label, polarity)
            value = self._sentiment(polarity)
            if theme is None or value is None:
                continue
            # Two source labels on one theme with different feelings make it mixed.
            out[theme] = value if out.get(theme, value) == value else "mixed"
        return out

    def _sentiment(self, value: Any) -> Sentiment | None:
        if value is None:
            return None
        value = self.spec.polarity_map.get(str(value), value)
        if value not in SENTIMENTS:
            raise ValueError(f"unknown sentiment {value!r}: map it with polarity_map")
        return value  # type: ignore[no-any-return]

    def _hash_split(self, rid: str) -> Split:
        return "test" if _hash(rid) % 100 < self.spec.test_percent else "train"


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _slug(label: str) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in label.lower()).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    slug = slug if slug[:1].isalpha() else f"t_{slug}"
    return slug[:40].rstrip("_")  # theme ids are at most 40 characters


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def _intent_csv(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield {"text": row["text"], "labels": [row["category"]]}


def _dataset_taxonomy(spec: DatasetSpec) -> Taxonomy:
    default = get_taxonomy(PROJECT_ROOT / "prompts")
    if spec.taxonomy == "default":
        return default
    try:
        return _labels_taxonomy(spec, default)
    except ValidationError as exc:
        raise ConfigError(
            f"dataset {spec.name!r}: its themes are not a valid taxonomy: {exc}"
        ) from exc


def _labels_taxonomy(spec: DatasetSpec, default: Taxonomy) -> Taxonomy:
    themes = [
        Theme(
            id=_slug(label) if label != FALLBACK_THEME else label,
            definition=theme.definition or label.replace("_", " "),
            owner=theme.owner,
        )
        for label, theme in spec.themes.items()
    ]
    if FALLBACK_THEME not in {theme.id for theme in themes}:
        themes.append(default.theme(FALLBACK_THEME))
    return Taxonomy(
        version=f"{spec.name}-eval",
        sentiments=default.sentiments,
        urgency=default.urgency,
        themes=tuple(themes),
    )


def load_dataset(name_or_path: str | Path, data_dir: Path | None = None) -> Dataset:
    """A dataset by name (``eval/datasets/<name>.yaml``) or by the path of its spec."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = DATASETS_DIR / f"{name_or_path}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = DatasetSpec.model_validate(raw)
    except FileNotFoundError as exc:
        known = ", ".join(sorted(p.stem for p in DATASETS_DIR.glob("*.yaml")))
        raise ConfigError(f"no dataset {name_or_path!r} (known: {known})") from exc
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid dataset spec: {exc}") from exc
    return Dataset(spec, path, data_dir)


def list_datasets() -> list[str]:
    return sorted(path.stem for path in DATASETS_DIR.glob("*.yaml"))


__all__ = [
    "DATASETS_DIR",
    "Dataset",
    "DatasetSpec",
    "EvalRecord",
    "list_datasets",
    "load_dataset",
    "load_taxonomy",
]
