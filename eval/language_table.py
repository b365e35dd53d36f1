"""Per-language theme agreement of the offline classifier on the hand-labelled sets.

Mean theme-set Jaccard ("other" = no theme) per language, for the shipped offline
classifier and, beside it, a plain TF-IDF + logistic-regression model trained on the same
training file (prompts/training/feedback.jsonl). A record's language is its
``metadata.language`` when labelled (the held-out set), else the detector's guess
(shared/enrich/language.py; the in-repo mixed-language records mix English in). No masking:
this measures the classifier, not the masking.

    .venv/bin/python eval/language_table.py
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import orjson  # noqa: E402

from shared.decide.contracts import MaskedText  # noqa: E402
from shared.decide.local_classifier import (  # noqa: E402
    TRAINING_FILE,
    LocalClassifier,
    load_training_examples,
    shipped_text_model,
)
from shared.decide.taxonomy import get_taxonomy  # noqa: E402
from shared.enrich.language import DEFAULT_LANGUAGES, LanguageDetector  # noqa: E402
from shared.settings import PROJECT_ROOT  # noqa: E402

PROMPTS = PROJECT_ROOT / "prompts"
SETS = {"adversarial": "mixed_language", "adversarial-heldout": None}


def jaccard(want: set[str], got: set[str]) -> float:
    want, got = want - {"other"}, got - {"other"}
    return len(want & got) / len(want | got) if want | got else 1.0


def naive_predictions(texts: list[str]) -> list[set[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer

    examples = load_training_examples(PROMPTS / TRAINING_FILE, get_taxonomy(PROMPTS))
    binarizer = MultiLabelBinarizer()
    y = binarizer.fit_transform([e.themes for e in examples])
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        OneVsRestClassifier(LogisticRegression(max_iter=1000)),
    ).fit([e.text for e in examples], y)
    out = []
    for row in model.predict_proba(texts):
        picked = {binarizer.classes_[j] for j, p in enumerate(row) if p >= 0.5}
        out.append(picked or {binarizer.classes_[int(row.argmax())]})
    return out


def main() -> None:
    local = LocalClassifier(get_taxonomy(PROMPTS), text_model=shipped_text_model(PROMPTS))
    detector = LanguageDetector(DEFAULT_LANGUAGES, min_confidence=0.0, min_chars=1)
    rows = []
    for name, category in SETS.items():
        with (PROJECT_ROOT / "eval" / "datasets" / f"{name}.jsonl").open("rb") as handle:
            for line in handle:
                row = orjson.loads(line)
                if category is None or row["metadata"].get("category") == category:
                    rows.append((name, row))
    texts = [row["text"] for _, row in rows]
    guesses = detector.detect_batch(texts)
    results = local.classify([MaskedText(f"{i:032x}", t) for i, t in enumerate(texts)])
    naive = naive_predictions(texts)
    table: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for (name, row), guess, result, baseline in zip(
        rows, guesses, results.classifications, naive, strict=True
    ):
        language = row["metadata"].get("language") or guess.language
        want = set(row["labels"])
        scores = (jaccard(want, {t.theme for t in result.themes}), jaccard(want, baseline))
        table[(name, language)].append(scores)
        table[(name, "all")].append(scores)
    print("| set | language | records | local Jaccard | TF-IDF + LR Jaccard |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (name, language), scores in sorted(table.items()):
        local_mean = sum(s for s, _ in scores) / len(scores)
        naive_mean = sum(b for _, b in scores) / len(scores)
        print(f"| {name} | {language} | {len(scores)} | {local_mean:.2f} | {naive_mean:.2f} |")


if __name__ == "__main__":
    main()
