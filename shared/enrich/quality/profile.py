"""One landing batch counted: empty texts, duplicates, languages, lengths, columns."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from shared.models import normalize_for_identity

# Text length in characters, log2 bins: fixed so that histograms of any batch compare.
LENGTH_EDGES = (1, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


LENGTH_BINS = tuple(
    [f"{low}-{high - 1}" for low, high in itertools.pairwise(LENGTH_EDGES)]
    + [f"{LENGTH_EDGES[-1]}+"]
)


def length_bin(length: int) -> str:
    """The histogram bin of a (non-empty) text length."""
    return LENGTH_BINS[max(bisect.bisect_right(LENGTH_EDGES, length) - 1, 0)]


class BatchProfile(BaseModel):
    """What the gate knows about one batch: counts only, never text."""

    model_config = ConfigDict(extra="forbid")

    source: str
    rows_in: int = Field(ge=0, description="rows seen: texts + empty + duplicates + already landed")
    empty_text: int = Field(default=0, ge=0)
    duplicates: int = Field(default=0, ge=0)
    already_landed: int = Field(
        default=0, ge=0, description="records an earlier input landed (overlapping exports)"
    )
    languages: dict[str, int] = Field(default_factory=dict, description="ISO 639-1 or und")
    length_histogram: dict[str, int] = Field(default_factory=dict)
    columns: list[str] | None = Field(
        default=None, description="columns (CSV header, JSON keys) seen; None = unknown"
    )

    @property
    def with_text(self) -> int:
        """Distinct non-empty texts: what language and length shares are computed over."""
        return sum(self.languages.values())


class BatchProfiler:
    """Accumulates a :class:`BatchProfile` record by record, in bounded memory.

    ``observe_record`` also spots repeated texts of at least ``duplicate_min_chars``
    characters (an export that repeats rows under new ids); a repeat counts as a
    duplicate and is left out of the language and length shares.
    """

    def __init__(self, source: str, *, duplicate_min_chars: int = 40) -> None:
        self.source = source
        self.duplicate_min_chars = duplicate_min_chars
        self.rows_in = 0
        self.empty_text = 0
        self.duplicates = 0
        self.already_landed = 0
        self.languages: dict[str, int] = {}
        self.length_histogram: dict[str, int] = {}
        self._columns: dict[str, None] | None = None
        self._seen_texts: set[int] = set()

    def observe_record(self, text: str, language: str) -> None:
        """A record with its detected language (``und`` when undetermined)."""
        stripped = text.strip()
        if not stripped:
            self.observe_empty()
            return
        if len(stripped) >= self.duplicate_min_chars:
            # An in-process hash of the normalized text: the batch never keeps texts.
            digest = hash(normalize_for_identity(stripped))
            if digest in self._seen_texts:
                self.observe_duplicate()
                return
            self._seen_texts.add(digest)
        self.rows_in += 1
        self.languages[language] = self.languages.get(language, 0) + 1
        label = length_bin(len(stripped))
        self.length_histogram[label] = self.length_histogram.get(label, 0) + 1

    def observe_already_landed(self, count: int) -> None:
        """Records of the batch that earlier inputs landed: rows for the rates, nothing else.

        An export that repeats last week's rows is normal; without them in the
        denominator, its few empty rows would look like an empty export.
        """
        self.rows_in += count
        self.already_landed += count

    def observe_empty(self) -> None:
        """A row without text (quarantined as missing_text, or landed where allowed)."""
        self.rows_in += 1
        self.empty_text += 1

    def observe_duplicate(self) -> None:
        """A row whose record id was already in this batch."""
        self.rows_in += 1
        self.duplicates += 1

    def set_columns(self, columns: Iterable[str]) -> None:
        """The input's columns as a whole (a CSV header)."""
        self._columns = dict.fromkeys(columns)

    def observe_columns(self, columns: Iterable[str]) -> None:
        """Keys of one JSON row; the batch's columns are the union over its rows."""
        if self._columns is None:
            self._columns = {}
        for column in columns:
            if column not in self._columns:
                self._columns[column] = None

    def profile(self) -> BatchProfile:
        return BatchProfile(
            source=self.source,
            rows_in=self.rows_in,
            empty_text=self.empty_text,
            duplicates=self.duplicates,
            already_landed=self.already_landed,
            languages=dict(self.languages),
            length_histogram=dict(self.length_histogram),
            columns=list(self._columns) if self._columns is not None else None,
        )
