"""Speed of the offline classifier: model load and records/s per core, masking aside.

Beside it, in the same run on the same texts, the naive way: a plain word TF-IDF +
logistic-regression model (one-vs-rest) trained on the same training file, the baseline
``insightloop eval`` prints. Texts: the bundled eval sets (adversarial + held-out), or the
``text`` fields of a JSON Lines file. Pin one core to read "per core":

    taskset -c 0 .venv/bin/python bench/local_classifier_bench.py
    taskset -c 0 .venv/bin/python bench/local_classifier_bench.py \\
        --jsonl ../shared/eval/womens-clothing-reviews/reviews.jsonl --limit 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
IMPORT_STARTED = time.perf_counter()

import orjson  # noqa: E402

from shared.decide import vader  # noqa: E402
from shared.decide.contracts import MaskedText  # noqa: E402
from shared.decide.local_classifier import (  # noqa: E402
    TRAINING_FILE,
    LocalClassifier,
    load_training_examples,
    shipped_text_model,
)
from shared.decide.taxonomy import get_taxonomy  # noqa: E402
from shared.settings import PROJECT_ROOT  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - IMPORT_STARTED  # the classifier's modules
PROMPTS = PROJECT_ROOT / "prompts"
BUNDLED = ("adversarial.jsonl", "adversarial-heldout.jsonl")


def read_texts(path: Path | None, limit: int) -> list[str]:
    paths = [path] if path else [PROJECT_ROOT / "eval" / "datasets" / n for n in BUNDLED]
    texts: list[str] = []
    for source in paths:
        with source.open("rb") as handle:
            texts += [orjson.loads(line)["text"] for line in handle if line.strip()]
    return [t for t in texts if t.strip()][:limit]


def naive_model() -> tuple[float, object]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer

    started = time.perf_counter()
    examples = load_training_examples(PROMPTS / TRAINING_FILE, get_taxonomy(PROMPTS))
    y = MultiLabelBinarizer().fit_transform([e.themes for e in examples])
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        OneVsRestClassifier(LogisticRegression(max_iter=1000)),
    ).fit([e.text for e in examples], y)
    return time.perf_counter() - started, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsonl", type=Path, help="texts to classify (field `text`)")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed passes")
    args = parser.parse_args()
    texts = read_texts(args.jsonl, args.limit)
    while len(texts) < min(args.limit, 1000):
        texts += texts  # the bundled sets are small: repeat them to time ~1,000 records
    items = [MaskedText(f"{i:032x}", text) for i, text in enumerate(texts)]

    started = time.perf_counter()
    model = shipped_text_model(PROMPTS)
    local = LocalClassifier(get_taxonomy(PROMPTS), text_model=model)
    local.classify(items[:1])  # the lexicon loads on first use: part of the load
    load_seconds = IMPORT_SECONDS + time.perf_counter() - started
    naive_load, naive = naive_model()

    def best(run: object) -> float:
        times = []
        for _ in range(args.repeat):
            vader.polarity.cache_clear()  # no warm caches: each pass starts cold
            if model is not None and model.vectorizer is not None:
                model.vectorizer.clear_cache()
            started = time.perf_counter()
            run()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times)

    local_seconds = best(lambda: local.classify(items))
    naive_seconds = best(lambda: naive.predict_proba(texts))  # type: ignore[attr-defined]
    local_rate, naive_rate = len(items) / local_seconds, len(items) / naive_seconds
    print(f"records: {len(items)} ({args.jsonl or 'bundled adversarial sets'})")
    print(
        f"load: local {load_seconds:.2f} s (imports {IMPORT_SECONDS:.2f} s, model + lexicon "
        f"{load_seconds - IMPORT_SECONDS:.2f} s), naive TF-IDF {naive_load:.2f} s"
    )
    print(f"local classifier: {local_rate:,.0f} records/s")
    print(f"naive TF-IDF + LR: {naive_rate:,.0f} records/s")
    print(f"ratio local/naive: {local_rate / naive_rate:.3f}")


if __name__ == "__main__":
    main()
