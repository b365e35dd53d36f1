"""The hand-labelled sets of tests/data/pii_sets/ for bench/pii_bench.py.

* multilingual_{dev,heldout}.txt: non-English (and mixed) feedback with PII marked
  ``{TYPE|value}``; leak rate per split, per language and per entity type.
* pii_free_{dev,heldout}.txt: non-English and English Title Case feedback without PII;
  the share of texts that get any placeholder is over-masking.

Each text is masked with the language the ingest detector gives it (the same decision
ingest makes); naive Presidio runs English on everything, as `insightloop mask` did.
The held-out files were written before any tuning on the dev files and are scored, not
looked at.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

SETS = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_sets"
_MARK = re.compile(r"\{([A-Z_]+)\|([^{}]+)\}")

Span = tuple[str, int, int]


def read_marked(name: str) -> list[tuple[str, str, list[Span]]]:
    """(language label, text, gold spans) per line of a marked-up set file."""
    rows = []
    for line in (SETS / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        language, marked = line.split("\t", 1)
        marked = marked.replace("\\n", "\n")
        text, gold, at = "", [], 0
        for match in _MARK.finditer(marked):
            text += marked[at : match.start()]
            gold.append((match.group(1), len(text), len(text) + len(match.group(2))))
            text += match.group(2)
            at = match.end()
        text += marked[at:]
        rows.append((language, text, gold))
    return rows


def detector() -> Callable[[Sequence[str]], list[str]]:
    """The language detector ingest uses (prompts/quality.yaml), as a batch function."""
    from shared.enrich.language import get_language_detector
    from shared.enrich.quality.config import get_quality_config

    root = Path(__file__).resolve().parent.parent
    detect = get_language_detector(get_quality_config(root / "prompts").language)
    return lambda texts: [guess.language for guess in detect.detect_batch(texts)]


def run_multilingual(naive: Callable, ours: Callable, example: type, score: Callable,
                     print_scores: Callable) -> None:  # fmt: skip
    detect = detector()
    for split in ("dev", "heldout"):
        rows = read_marked(f"multilingual_{split}.txt")
        detected = detect([text for _, text, _ in rows])
        examples = [
            example(text, gold, language=language)
            for (_, text, gold), language in zip(rows, detected, strict=True)
        ]
        naive_pred = [naive(e.text) for e in examples]
        ours_pred = ours([e.text for e in examples], detected)
        title = f"non-English set, {split} (tests/data/pii_sets/multilingual_{split}.txt)"
        print_scores(title, score(examples, naive_pred), score(examples, ours_pred))
        print("\n| language | texts | detected as | naive leak | ours leak |")
        print("| --- | ---: | --- | ---: | ---: |")
        by_label: dict[str, list[int]] = defaultdict(list)
        for index, (label, _, _) in enumerate(rows):
            by_label[label].append(index)
        for label, indexes in sorted(by_label.items()):
            subset = [examples[i] for i in indexes]
            naive_score = score(subset, [naive_pred[i] for i in indexes])
            ours_score = score(subset, [ours_pred[i] for i in indexes])
            seen = sorted({detected[i] for i in indexes})
            print(
                f"| {label} | {len(indexes)} | {', '.join(seen)} | {naive_score.leak:.1%} "
                f"| {ours_score.leak:.1%} |"
            )


def run_pii_free(naive: Callable, ours: Callable) -> None:
    detect = detector()
    print("\n### Over-masking on PII-free non-English and English Title Case texts\n")
    print("| split | language | texts | naive: any mask | ours: any mask | ours by type |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for split in ("dev", "heldout"):
        rows = read_marked(f"pii_free_{split}.txt")
        texts = [text for _, text, _ in rows]
        naive_pred = [naive(text) for text in texts]
        ours_pred = ours(texts, detect(texts))
        groups: dict[str, list[int]] = defaultdict(list)
        for index, (label, _, _) in enumerate(rows):
            groups[label].append(index)
            groups["all"].append(index)
        for label, indexes in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0])):
            naive_any = sum(bool(naive_pred[i]) for i in indexes) / len(indexes)
            ours_any = sum(bool(ours_pred[i]) for i in indexes) / len(indexes)
            kinds: dict[str, int] = defaultdict(int)
            for i in indexes:
                for kind in {k for k, _, _ in ours_pred[i]}:
                    kinds[kind] += 1
            by_type = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            print(
                f"| {split} | {label} | {len(indexes)} | {naive_any:.1%} | {ours_any:.1%} "
                f"| {by_type} |"
            )
