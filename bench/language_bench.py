"""Language detection benchmark: throughput, memory and honesty on 10,000 real texts.

Reads the evaluation corpora from ``../shared/eval`` at run time (their licences keep
them out of this repository) and mixes short and long texts from several of them:
reviews, support tickets, chatbot queries. Each accuracy mode runs in a fresh process
so that resident memory (RSS) is measured cleanly:

* docs/s of ``LanguageDetector.detect_batch`` (the pipeline's call) vs one text at a
  time (``detect``), and of lingua's bare confidence call for reference;
* RSS added by building the detector (models preloaded) and after detecting;
* honesty: all texts are English, so any other language reported is a false
  assertion; ``und`` rates by text length show where the detector declines to guess.

    .venv/bin/python bench/language_bench.py            # both modes, 10,000 texts
    .venv/bin/python bench/language_bench.py --texts 2000 --modes high
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = PROJECT_ROOT.parent / "shared" / "eval"
# (file, kind): JSON Lines with a "text" field, or CSV with a "text" column.
CORPORA = (
    ("womens-clothing-reviews/reviews.jsonl", "jsonl"),
    ("amazon-alexa-reviews/reviews.jsonl", "jsonl"),
    ("bitext-customer-support/bitext_customer_support.jsonl", "jsonl"),
    ("banking77/test.csv", "csv"),
    ("clinc150/clinc150_full.jsonl", "jsonl"),
    ("semeval2014-restaurants/train.jsonl", "jsonl"),
)
BUCKETS = ((1, 3, "1-3 words"), (4, 7, "4-7 words"), (8, 19, "8-19 words"), (20, 10**9, "20+"))


def load_texts(eval_dir: Path, count: int) -> list[str]:
    """``count`` texts, round-robin over the corpora so short and long ones mix."""
    streams = []
    for name, kind in CORPORA:
        path = eval_dir / name
        if not path.is_file():
            sys.exit(f"missing {path}: the benchmark reads ../shared/eval at run time")
        with open(path, encoding="utf-8") as handle:
            if kind == "csv":
                texts = [row["text"] for row in csv.DictReader(handle)]
            else:
                texts = [json.loads(line)["text"] for line in handle if line.strip()]
        streams.append([t for t in texts if t and t.strip()])
    mixed = (t for group in itertools.zip_longest(*streams) for t in group if t is not None)
    texts = list(itertools.islice(mixed, count))
    if len(texts) < count:
        sys.exit(f"only {len(texts)} texts available, asked for {count}")
    return texts


def bucket(text: str) -> str:
    words = len(text.split())
    return next(label for low, high, label in BUCKETS if low <= words <= high)


def worker(mode: str, eval_dir: Path, count: int) -> dict:
    """Measure one accuracy mode in this (fresh) process."""
    import psutil

    from shared.enrich.language import LanguageDetector, _lingua_detector, get_language_detector
    from shared.enrich.quality import load_quality_config

    process = psutil.Process()
    texts = load_texts(eval_dir, count)
    config = load_quality_config(PROJECT_ROOT / "prompts" / "quality.yaml").language
    config = config.model_copy(update={"low_accuracy_mode": mode == "low"})
    detector: LanguageDetector = get_language_detector(config)

    rss_start = process.memory_info().rss
    started = time.perf_counter()
    lingua = _lingua_detector(config.languages, config.low_accuracy_mode)
    build_s = time.perf_counter() - started
    rss_built = process.memory_info().rss

    started = time.perf_counter()
    batch = detector.detect_batch(texts)
    batch_s = time.perf_counter() - started
    rss_after = process.memory_info().rss

    started = time.perf_counter()
    single = [detector.detect(text) for text in texts]
    single_s = time.perf_counter() - started

    started = time.perf_counter()
    lingua.compute_language_confidence_values_in_parallel(
        [text[: config.max_chars] for text in texts]
    )
    bare_s = time.perf_counter() - started

    per_bucket: dict[str, Counter] = {label: Counter() for *_, label in BUCKETS}
    for text, guess in zip(texts, batch, strict=True):
        counts = per_bucket[bucket(text)]
        counts["texts"] += 1
        if guess.language == "und":
            counts["und"] += 1
        elif guess.language == "en":
            counts["en"] += 1
        else:
            counts["wrong"] += 1
    return {
        "mode": mode,
        "texts": len(texts),
        "mean_words": sum(len(t.split()) for t in texts) / len(texts),
        "build_s": build_s,
        "rss_build_mib": (rss_built - rss_start) / 2**20,
        "rss_total_mib": rss_after / 2**20,
        "batch_docs_s": len(texts) / batch_s,
        "single_docs_s": len(texts) / single_s,
        "bare_lingua_docs_s": len(texts) / bare_s,
        "batch_equals_single": batch == single,
        "buckets": {label: dict(counts) for label, counts in per_bucket.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--modes", nargs="+", choices=["high", "low"], default=["high", "low"])
    parser.add_argument("--worker", choices=["high", "low"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.eval_dir, args.texts)))
        return

    results = []
    for mode in args.modes:
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                mode,
                "--texts",
                str(args.texts),
                "--eval-dir",
                str(args.eval_dir),
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    first = results[0]
    print(
        f"language detection on {first['texts']:,} real texts "
        f"(mean {first['mean_words']:.1f} words, all English); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'mode':<6}{'batch docs/s':>14}{'single docs/s':>15}{'bare lingua':>13}"
        f"{'build s':>9}{'models MiB':>12}{'RSS MiB':>9}  batch==single"
    )
    for r in results:
        print(
            f"{r['mode']:<6}{r['batch_docs_s']:>14,.0f}{r['single_docs_s']:>15,.0f}"
            f"{r['bare_lingua_docs_s']:>13,.0f}{r['build_s']:>9.2f}{r['rss_build_mib']:>12.0f}"
            f"{r['rss_total_mib']:>9.0f}  {r['batch_equals_single']}"
        )
    print("\nhonesty (texts -> en / und / wrong language asserted):")
    for r in results:
        cells = []
        for label, counts in r["buckets"].items():
            n = counts.get("texts", 0) or 1
            cells.append(
                f"{label}: {counts.get('texts', 0):,} -> {counts.get('en', 0) / n:.0%} / "
                f"{counts.get('und', 0) / n:.0%} / {counts.get('wrong', 0)}"
            )
        print(f"  {r['mode']:<5} " + " | ".join(cells))


if __name__ == "__main__":
    main()
