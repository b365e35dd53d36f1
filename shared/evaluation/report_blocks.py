"""The blocks an evaluation report is made of: the Markdown and the HTML renderers walk
the same list, so both say the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field

DASH = "—"  # a missing value, in both renderers


@dataclass(slots=True)
class Heading:
    level: int
    text: str


@dataclass(slots=True)
class Para:
    text: str
    strong: bool = False
    tone: str = ""


@dataclass(slots=True)
class Facts:
    items: list[tuple[str, str]]


@dataclass(slots=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    align: str = ""  # "l"/"r" per column; default: first left, the rest right
    row_classes: list[str] = field(default_factory=list)

    def alignment(self) -> str:
        return self.align or "l" + "r" * (len(self.header) - 1)


@dataclass(slots=True)
class Bars:
    title: str
    labels: list[str]
    values: list[list[float | None]]  # one list per label, one value per series
    series: list[tuple[str, str]]  # (name, colour)


@dataclass(slots=True)
class Heatmap:
    pairs: list[tuple[str, str, int]]


Block = Heading | Para | Facts | Table | Bars | Heatmap
