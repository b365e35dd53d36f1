#!/usr/bin/env python
"""Gold benchmark: the local Gold pipeline (databricks/local) over N generated records.

For each size, a deterministic landing is generated (feedback + classified JSON Lines in
files of 20,000 rows, as the function app lands them) over 13 weeks: 24 products,
3 segments, 5 channels, 5 languages, 13 themes, 1-3 themes per record, 4% in review,
6% with the theme "other". Then ``run_local`` runs it end to end in a fresh work dir
(``spark-pipelines run`` with the default Spark settings, then the emerging-themes
task) and the wall time, records/s and the growth from the first size to the last
(against linear) are printed as a Markdown table.

The naive way, on the same landing: one pandas process that reads every file into
memory, keeps the latest classification per record, explodes the themes and counts them
per week with their negative share (``gold_theme_volume``'s weekly rows only, one of the
pipeline's twenty datasets). Each runs in a child process whose peak memory (the summed
PSS of it and its descendants, i.e. with the Spark JVM, sampled every 0.2 s) is reported
beside the time: pandas' memory grows with the data, while Spark's driver is capped
(``spark.driver.memory``) and spills instead.

    .venv/bin/python bench/gold_bench.py                          # 100,000 and 1,000,000
    .venv/bin/python bench/gold_bench.py --rows 100000

Landings are cached in ``--data-dir`` (gitignored) by rows and seed; work dirs are
deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil
import pyarrow.parquet as pq

from shared.gold.local import LOCAL_RUNNER, bundle_module

REPO = Path(__file__).resolve().parents[1]
FILE_ROWS = 20_000
WEEKS = 13
END = datetime(2026, 3, 1, 18, tzinfo=UTC)
PRODUCTS = [f"Product {n:02d}" for n in range(24)]
SEGMENTS = ["consumer", "business", "enterprise"]
CHANNELS = ["review", "ticket", "chat", "survey", "social"]
LANGUAGES = ["en", "de", "fr", "es", "nl"]
SENTIMENTS = ["negative", "negative", "positive", "neutral", "mixed"]
URGENCIES = ["low", "medium", "high"]
# theme -> (owner, a phrase the generated text contains as evidence)
THEMES = {
    "shipping": ("logistics", "parcel arrived late"),
    "returns_refunds": ("customer_care", "refund still missing"),
    "pricing_billing": ("billing", "charged twice"),
    "checkout_payment": ("payments", "card was declined"),
    "product_quality": ("product", "stopped working"),
    "sizing_fit": ("merchandising", "runs too small"),
    "setup_usability": ("product", "setup is confusing"),
    "account_login": ("identity", "cannot log in"),
    "performance_bugs": ("engineering", "app keeps crashing"),
    "customer_service": ("customer_care", "agent was helpful"),
    "feature_request": ("product", "please add dark mode"),
    "praise": ("marketing", "love this product"),
}
OTHER_PHRASES = [
    "barcode scanner freezes on the label",
    "gift wrapping option missing at checkout",
    "voice assistant pairing fails every morning",
]


def _iso(stamp: datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(n: int, rng: random.Random) -> tuple[dict, dict]:
    """One feedback row and its classification."""
    created = END - timedelta(seconds=rng.randrange(WEEKS * 7 * 86_400))
    language = rng.choice(LANGUAGES)
    sentiment = rng.choice(SENTIMENTS)
    other = rng.random() < 0.06
    if other:
        phrases = [("other", rng.choice(OTHER_PHRASES))]
    else:
        picked = rng.sample(list(THEMES), rng.choice((1, 1, 1, 2, 2, 3)))
        phrases = [(theme, THEMES[theme][1]) for theme in picked]
    text = f"Order {n % 997}: " + ", and ".join(phrase for _, phrase in phrases) + "."
    record_id = hashlib.blake2b(f"bench-{n}".encode(), digest_size=16).hexdigest()
    feedback = {
        "schema_version": "1.0",
        "record_id": record_id,
        "source": "bench",
        "channel": rng.choice(CHANNELS),
        "source_event_id": str(n),
        "created_at": _iso(created),
        "received_at": _iso(created + timedelta(hours=1)),
        "text": text,
        "title": None,
        "rating": rng.randint(1, 5) if rng.random() < 0.6 else None,
        "nps_score": None,
        "product": rng.choice(PRODUCTS),
        "sku": None,
        "product_category": "general",
        "region": rng.choice(["EU", "UK", "NA"]),
        "locale": f"{language}-XX",
        "language": language,
        "language_confidence": 0.95,
        "customer_segment": rng.choice(SEGMENTS),
        "order_value": None,
        "metadata": {},
    }
    review = (other and rng.random() < 0.6) or rng.random() < 0.04
    claims = []
    for theme, phrase in phrases:
        start = text.index(phrase)
        claims.append(
            {
                "theme": theme,
                "evidence": phrase,
                "start": start,
                "end": start + len(phrase),
                "method": "llm",
                "sentiment": sentiment,
            }
        )
    classification = {
        "schema_version": "1.0",
        "record_id": record_id,
        "themes": claims,
        "sentiment": sentiment,
        "urgency": rng.choice(URGENCIES),
        "recommended_owner": THEMES.get(phrases[0][0], ("customer_care",))[0],
        "confidence": 0.3 if review else round(rng.uniform(0.6, 0.99), 2),
        "method": "llm",
        "taxonomy_version": "bench",
        "prompt_version": "v1",
        "model": "bench",
        "needs_review": review,
        "review_reasons": ["confidence 0.30 is below 0.60"] if review else [],
        "dropped_claims": 0,
        "reviewed_by": None,
        "classified_at": _iso(created + timedelta(hours=1, minutes=1)),
    }
    return feedback, classification


def generate(landing: Path, rows: int, seed: int) -> None:
    """Files of FILE_ROWS records each, in feedback/, classified/ and review/."""
    rng = random.Random(seed)
    for batch, first in enumerate(range(0, rows, FILE_ROWS)):
        out: dict[str, list[bytes]] = {"feedback": [], "classified": [], "review": []}
        for n in range(first, min(first + FILE_ROWS, rows)):
            feedback, classification = _record(n, rng)
            out["feedback"].append(orjson.dumps(feedback))
            queue = "review" if classification["needs_review"] else "classified"
            out[queue].append(orjson.dumps(classification))
        for dataset, lines in out.items():
            folder = landing / dataset / f"ingest_date={END.date().isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"bench-{batch:05d}.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def run(gold_local, landing: Path, keep: bool) -> dict:
    """Wall seconds of the whole local run and of its pipeline step, and table sizes."""
    work = Path(tempfile.mkdtemp(prefix="gold-bench-"))
    try:
        started = time.monotonic()
        tables = gold_local.run_local(landing, work, timeout_s=3 * 3600)
        wall = time.monotonic() - started
        # The pipeline log's last write is the end of the pipeline step.
        pipeline = (work / "pipeline.log").stat().st_mtime - (
            work / "spark-pipeline.yml"
        ).stat().st_mtime
        sizes = {name: _row_count(path) for name, path in tables.items()}
        return {"wall": wall, "pipeline": pipeline, "sizes": sizes}
    finally:
        if keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def naive_theme_volume(landing: Path) -> dict:
    """The pandas way: everything in memory, weekly theme volume and negative share."""
    import pandas as pd

    started = time.monotonic()

    def read(dataset: str) -> pd.DataFrame:
        files = sorted((landing / dataset).glob("ingest_date=*/*.jsonl"))
        return pd.concat((pd.read_json(f, lines=True) for f in files), ignore_index=True)

    feedback = read("feedback").drop_duplicates("record_id", keep="last")
    classified = read("classified")
    latest = classified.sort_values("classified_at").drop_duplicates("record_id", keep="last")
    claims = latest[["record_id", "themes"]].explode("themes").dropna(subset=["themes"])
    claims["theme"] = claims["themes"].map(lambda claim: claim["theme"])
    claims["negative"] = claims["themes"].map(lambda claim: claim["sentiment"] == "negative")
    joined = claims.merge(feedback[["record_id", "created_at"]], on="record_id")
    created = pd.to_datetime(joined["created_at"], utc=True).dt.tz_localize(None)
    joined["week"] = created.dt.to_period("W-SUN").dt.start_time
    weekly = joined.groupby(["theme", "week"]).agg(
        records=("record_id", "nunique"), negative=("negative", "sum")
    )
    weekly["negative_share"] = weekly["negative"] / weekly["records"]
    return {"wall": time.monotonic() - started, "rows": len(weekly)}


def measured(kind: str, landing: Path, keep: bool) -> dict:
    """Run one way in a child process, sampling the summed PSS of that process and all
    its descendants (the Spark Connect server's JVM) every 0.2 s; the peak is reported."""
    command = [sys.executable, __file__, "--measure", kind, str(landing)]
    if keep:
        command.append("--keep")
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, stdout=out, text=True)
        root, peak = psutil.Process(child.pid), 0
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(_pss(process) for process in tree))
            time.sleep(0.2)
        if child.returncode:
            raise SystemExit(f"{kind} run failed with exit code {child.returncode}")
        out.seek(0)
        result = json.loads(out.read().strip().splitlines()[-1])
    return {**result, "peak_pss_mib": peak / 2**20}


def _pss(process: psutil.Process) -> int:
    """Proportional set size: pages shared by forked Python workers are counted once."""
    try:
        return process.memory_full_info().pss
    except psutil.Error:  # gone between listing and reading
        return 0


def _measure(kind: str, landing: Path, keep: bool) -> None:
    if kind == "spark":
        result = run(bundle_module("gold_local", LOCAL_RUNNER), landing, keep)
    else:
        result = naive_theme_volume(landing)
    print(json.dumps(result))


def _row_count(table: Path) -> int:
    return sum(pq.read_metadata(part).num_rows for part in table.glob("*.parquet"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench" / "data" / "gold")
    parser.add_argument("--keep", action="store_true", help="keep the work dirs")
    parser.add_argument("--no-naive", action="store_true", help="skip the pandas comparison")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "LANDING"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        _measure(args.measure[0], Path(args.measure[1]), args.keep)
        return 0
    if not bundle_module("gold_local", LOCAL_RUNNER).java_available():
        print("Java 17 is needed to run Spark", file=sys.stderr)
        return 1
    results = []
    for rows in args.rows:
        landing = args.data_dir / f"landing-{rows}-{args.seed}"
        if not landing.is_dir():
            started = time.monotonic()
            partial = landing.with_name(landing.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            generate(partial, rows, args.seed)
            partial.rename(landing)
            print(f"generated {rows:,} records in {time.monotonic() - started:.0f} s: {landing}")
        spark = measured("spark", landing, args.keep)
        naive = None if args.no_naive else measured("naive", landing, args.keep)
        results.append((rows, spark, naive))
        sizes = spark["sizes"]
        print(
            f"{rows:,} records: {spark['wall']:.0f} s ({spark['pipeline']:.0f} s pipeline),"
            f" {rows / spark['wall']:,.0f} records/s, peak PSS {spark['peak_pss_mib']:,.0f} MiB;"
            f" silver_record_themes {sizes.get('silver_record_themes', 0):,} rows,"
            f" gold_insights {sizes.get('gold_insights', 0):,},"
            f" gold_emerging_themes {sizes.get('gold_emerging_themes', 0):,}"
            + (
                ""
                if naive is None
                else f"; pandas weekly theme volume only: {naive['wall']:.0f} s,"
                f" peak PSS {naive['peak_pss_mib']:,.0f} MiB"
            ),
            flush=True,
        )
    print(
        "\n| records | Spark wall s | pipeline s | emerging themes s | records/s"
        " | Spark peak PSS MiB | pandas (1 table) s | pandas peak PSS MiB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rows, spark, naive in results:
        wall, pipeline = spark["wall"], spark["pipeline"]
        cells = [
            f"{rows:,}",
            f"{wall:.0f}",
            f"{pipeline:.0f}",
            f"{wall - pipeline:.0f}",
            f"{rows / wall:,.0f}",
            f"{spark['peak_pss_mib']:,.0f}",
            "-" if naive is None else f"{naive['wall']:.0f}",
            "-" if naive is None else f"{naive['peak_pss_mib']:,.0f}",
        ]
        print(f"| {' | '.join(cells)} |")
    if len(results) > 1:
        (small, small_spark, small_naive), (large, large_spark, large_naive) = (
            results[0],
            results[-1],
        )
        line = (
            f"\n{small:,} -> {large:,} records: Spark wall x"
            f"{large_spark['wall'] / small_spark['wall']:.1f}, peak PSS x"
            f"{large_spark['peak_pss_mib'] / small_spark['peak_pss_mib']:.1f}"
        )
        if small_naive and large_naive:
            line += (
                f"; pandas wall x{large_naive['wall'] / small_naive['wall']:.1f}, peak PSS x"
                f"{large_naive['peak_pss_mib'] / small_naive['peak_pss_mib']:.1f}"
            )
        print(line + f" (linear would be x{large / small:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
