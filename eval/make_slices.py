"""Rebuild the small dataset slices kept in the repository for the baseline gate.

    python eval/make_slices.py ../shared/eval

Only datasets whose licence allows copies are sliced (banking77: CC BY 4.0; MAMS-ACSA:
Apache-2.0); the slice is fixed by sorting on a hash of each text, so re-running it
gives byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data"


def _rank(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def banking77(source: Path, per_intent: dict[str, int]) -> None:
    target = OUT / "banking77-slice"
    target.mkdir(parents=True, exist_ok=True)
    for split, keep in per_intent.items():
        with (source / "banking77" / f"{split}.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: _rank(r["text"])):
            by_intent[row["category"]].append(row)
        chosen = sorted(
            (row for group in by_intent.values() for row in group[:keep]),
            key=lambda r: (r["category"], r["text"]),
        )
        with (target / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "category"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(chosen)


def mams(source: Path, keep: dict[str, int]) -> None:
    target = OUT / "mams-acsa-slice"
    target.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in (source / "mams-acsa" / "mams_acsa.jsonl").open()]
    for split, count in keep.items():
        chosen = sorted((r for r in rows if r["split"] == split), key=lambda r: _rank(r["text"]))
        lines = [
            json.dumps(r, ensure_ascii=False) for r in sorted(chosen[:count], key=lambda r: r["id"])
        ]
        (target / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/eval")
    banking77(root, {"train": 20, "test": 5})
    mams(root, {"train": 800, "test": 200})
