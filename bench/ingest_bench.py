#!/usr/bin/env python
"""Ingest benchmark: a generated Judge.me-style reviews CSV through the local pipeline.

Measures, on the same file and each in its own process pinned to one core:

* ``pipeline``     IngestPipeline.ingest_file into a fresh LocalStorage root
                   (hash + parse + validate + ledger + land, the whole call);
* ``replay-file``  the same file again into the same root: skipped by content hash;
* ``replay-rows``  the same rows in a different file (one extra trailing blank line, so
                   the content hash differs): every record is checked against the
                   ledger's existing ids and counted as a duplicate;
* ``naive``        what a notebook would do: ``pandas.read_csv`` of the whole file, one
                   FeedbackRecord per row, JSON lines collected in a list and written as
                   one file. No ledger, no dedup, no quarantine: it does *less* work.

For each: wall seconds around the ingest call only (imports and setup are reported
separately), records/s = rows / seconds, CPU seconds, peak RSS (``ru_maxrss`` of the
child), the RSS after imports and the growth between the two. Results are printed as a
Markdown table (see docs/benchmarks.md).

    .venv/bin/python bench/ingest_bench.py                 # 1,000,000 rows (~360 MiB)
    .venv/bin/python bench/ingest_bench.py --rows 200000
    .venv/bin/python bench/ingest_bench.py --rows 100000 --profile   # cProfile hotspots

The CSV is generated once per (rows, seed) under ``--data-dir`` (gitignored) and reused;
the storage root of the run is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
GEN_VERSION = 2  # bump when the generator changes: cached files are regenerated
SOURCE = "reviews"
MIB = 1024 * 1024

HEADER = [
    "title",
    "body",
    "rating",
    "review_date",
    "source",
    "curated",
    "reviewer_name",
    "reviewer_email",
    "product_id",
    "product_handle",
    "product_title",
    "reply",
    "reply_date",
    "picture_urls",
    "ip_address",
    "location",
]
DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
# Reviews spread over 30 days that straddle a month end (two ledger month partitions).
START = datetime(2025, 9, 20, tzinfo=UTC)
SPAN_SECONDS = 30 * 86_400
# Every BAD_EVERY-th row (offset BAD_OFFSET) has an empty body -> quarantined (0.1 %);
# every DUP_EVERY-th row repeats an earlier row byte for byte -> duplicate (0.2 %).
BAD_EVERY, BAD_OFFSET = 1000, 500
DUP_EVERY = 500
DUP_WINDOW = 30_000  # half the duplicates repeat a row ~30k rows back (an earlier batch)

# ----------------------------------------------------------------- vocabulary

TITLES = [
    "Love it",
    "Great quality",
    "Not what I expected",
    "Five stars",
    "Decent for the price",
    "Would buy again",
    "Disappointed",
    "Fits perfectly",
    "Runs small",
    "Fast shipping",
    "Okay, but pricey",
    'Best "everyday" bag so far',
    "Solid purchase",
    "Meh",
    "Exceeded expectations",
    "Broke after a month",
    "Perfect gift",
    "Good, not great",
    "Exactly as described",
    "Color is off",
    "Comfortable all day",
    "Cheap feel",
    "My new favourite",
    "Customer service saved it",
    "Second time buying",
]

PHRASES = [
    "The fabric feels sturdy and the stitching is neat.",
    "Shipping took longer than promised, about two weeks.",
    "I ordered a medium, and it fits exactly as the size chart says.",
    'The color is more "sage" than green, which I actually prefer.',
    "Customer service answered within a day and sent a replacement.",
    "After three washes it still looks new.",
    "The zipper broke after a month, so one star off.",
    "Packaging was minimal, recyclable, and nothing was damaged.",
    "My daughter uses it every day for school.",
    "It is heavier than it looks in the photos.",
    "Honestly, for this price I expected better.",
    'The "waterproof" claim held up in a real downpour.',
    "Instructions were missing, but setup was easy anyway.",
    "Battery lasts about two days with normal use.",
    "It smells a bit chemical out of the box; airing it out helped.",
    "Second one I bought, the first is still going strong.",
    "Colors match the website, no surprises.",
    "Returned it: the strap was too short for me.",
    "Would recommend to anyone who travels a lot.",
    "Great gift, my partner loved it.",
    "The lid does not close properly unless you press hard.",
    "Arrived a day early and well wrapped.",
    "Smaller than I imagined, check the dimensions first.",
    "Quality is fine, but the logo started peeling.",
    "I was skeptical, yet it works better than my old one.",
    'Support said "this is normal" about the noise, which it is not.',
    "Five minutes to assemble, no tools needed.",
    "The handles dig into your shoulder when it is full.",
    "Worth every cent.",
    "Cleaning it is a pain because of all the corners.",
    "Looks premium, feels premium.",
    "The discount code did not apply at checkout, annoying.",
    "Keeps coffee hot for hours, as advertised.",
    "Sizing is inconsistent between colors.",
    "The pockets are well thought out, laptop fits snugly.",
    "I have had it for six months and use it daily.",
    "Not bad, not amazing, does the job.",
    "Tracking never updated, but it showed up.",
    "The material pills after a few weeks of wear.",
    "Exactly what I needed for the garden.",
]

ADJECTIVES = [
    "Canvas",
    "Leather",
    "Organic",
    "Merino",
    "Bamboo",
    "Recycled",
    "Linen",
    "Ceramic",
    "Steel",
    "Waxed",
    "Quilted",
    "Vintage",
    "Classic",
    "Travel",
    "Everyday",
    "Compact",
    "Rugged",
    "Soft",
    "Insulated",
    "Woven",
]
NOUNS = [
    "Tote Bag",
    "Backpack",
    "Water Bottle",
    "Coffee Mug",
    "Beanie",
    "Wool Socks",
    "Rain Jacket",
    "Desk Lamp",
    "Notebook",
    "Phone Case",
]
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Elif",
    "Farah",
    "Georg",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Lea",
    "Marco",
    "Nina",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tom",
]
LOCATIONS = [
    "Berlin, DE",
    "Austin, US",
    "Lyon, FR",
    "Leeds, GB",
    "Porto, PT",
    "Osaka, JP",
    "Toronto, CA",
    "Melbourne, AU",
    "Utrecht, NL",
    "Denver, US",
]
REVIEW_SOURCES = ["web", "web", "web", "email", "email", "shop-app", "imported"]


def _products() -> list[tuple[str, str, str]]:
    products = []
    for a, adjective in enumerate(ADJECTIVES):
        for n, noun in enumerate(NOUNS):
            title = f"{adjective} {noun}"
            handle = title.lower().replace(" ", "-")
            products.append((str(7_000_000_000 + (a * len(NOUNS) + n) * 7919), handle, title))
    return products


def data_paths(data_dir: Path, rows: int, seed: int) -> tuple[Path, Path]:
    csv_path = data_dir / f"reviews-{rows}-s{seed}.csv"
    return csv_path, csv_path.with_name(csv_path.name + ".json")


def generate(csv_path: Path, meta_path: Path, rows: int, seed: int) -> dict[str, Any]:
    """Stream ``rows`` data rows to ``csv_path`` (row by row, never held in memory)."""
    rng = random.Random(seed)
    products = _products()
    unique_total = rows - rows // DUP_EVERY  # an upper bound, only for the time step
    step = max(SPAN_SECONDS / max(unique_total, 1), 1.0)  # >= 1 s: distinct timestamps
    recent: deque[list[str]] = deque(maxlen=DUP_WINDOW)
    counts = {"unique": 0, "duplicates": 0, "bad": 0}
    tmp = csv_path.with_name(f".{csv_path.name}.{os.getpid()}.tmp")
    started = time.perf_counter()
    with open(tmp, "w", encoding="utf-8", newline="", buffering=MIB) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            if i % DUP_EVERY == DUP_EVERY - 1 and recent:
                # An exact re-export of an earlier row: alternately far back and adjacent.
                writer.writerow(recent[0] if (i // DUP_EVERY) % 2 else recent[-1])
                counts["duplicates"] += 1
                continue
            bad = i % BAD_EVERY == BAD_OFFSET
            u = counts["unique"]
            created = START + timedelta(seconds=int(u * step))
            product_id, handle_name, product_title = products[rng.randrange(len(products))]
            target = rng.randint(150, 230)
            parts: list[str] = []
            length = 0
            while length < target:
                phrase = rng.choice(PHRASES)
                parts.append(phrase)
                length += len(phrase) + 1
            body = ("\n" if rng.random() < 0.01 else " ").join(parts)
            first = rng.choice(FIRST_NAMES)
            name = f"{first} {chr(65 + rng.randrange(26))}."
            has_reply = rng.random() < 0.05
            row = [
                rng.choice(TITLES),
                "" if bad else body,
                str(rng.choices((1, 2, 3, 4, 5), (5, 5, 10, 25, 55))[0]),
                created.strftime(DATE_FORMAT),
                rng.choice(REVIEW_SOURCES),
                "ok" if rng.random() < 0.9 else "not-yet",
                name,
                f"{first.lower()}{rng.randrange(10_000)}@example.com",
                product_id,
                handle_name,
                product_title,
                f"Thanks {first}, glad you like it!" if has_reply else "",
                (created + timedelta(days=1)).strftime(DATE_FORMAT) if has_reply else "",
                f"https://cdn.example.com/r/{i}.jpg" if rng.random() < 0.03 else "",
                ".".join(str(rng.randrange(1, 224 if k == 0 else 255)) for k in range(4)),
                rng.choice(LOCATIONS) if rng.random() < 0.7 else "",
            ]
            writer.writerow(row)
            if bad:
                counts["bad"] += 1
            else:
                counts["unique"] += 1
                recent.append(row)
    os.replace(tmp, csv_path)
    meta = {
        "generator_version": GEN_VERSION,
        "rows": rows,
        "seed": seed,
        **counts,
        "bytes": csv_path.stat().st_size,
        "generate_seconds": round(time.perf_counter() - started, 2),
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


# --------------------------------------------------------------------- child


def _pin(cpu: int) -> list[int]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
        return sorted(os.sched_getaffinity(0))
    return []  # macOS: no affinity API; the figures are then not "one core"


def _maxrss_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def _current_rss_kib() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss // 1024


def _vm_hwm_kib() -> int | None:
    """High-water RSS of this process's own address space (Linux), as a cross-check."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _calibrate() -> float:
    """CPU ns per iteration of a fixed pure-Python loop: how fast this core is right now.

    On a shared VM the same code runs up to 2x slower when the sibling vCPU is busy;
    this figure (taken before and after the ingest) lets runs be compared.
    """
    lookup = {"a": 1}.get
    started = time.process_time()
    for _ in range(1_000_000):
        lookup("a")
    return (time.process_time() - started) * 1e3


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _count_lines(folder: Path) -> int:
    total = 0
    for file in folder.rglob("*.jsonl"):
        with open(file, "rb") as handle:
            while chunk := handle.read(MIB):
                total += chunk.count(b"\n")
    return total


class CheckFailedError(Exception):
    pass


def _expect(what: str, actual: Any, expected: Any, failures: list[str]) -> None:
    if actual != expected:
        failures.append(f"{what}: expected {expected}, got {actual}")


def child_main(args: argparse.Namespace) -> int:
    pinned = _pin(args.cpu)
    started = time.perf_counter()
    csv_path, root = Path(args.csv), Path(args.root)
    meta = json.loads(Path(args.meta).read_text())
    variant = args.child
    if variant == "naive":
        import pandas as pd

        from shared.models import FeedbackRecord, make_record_id
    else:
        from shared.pipeline import IngestPipeline
        from shared.settings import Settings
        from shared.storage import LocalStorage

        settings = Settings(local_storage_root=root)
        # The foundation path by default; --enrich adds language, gate and PII masking.
        pipeline = IngestPipeline(LocalStorage(root), settings, enrich=args.enrich)
    startup = time.perf_counter() - started
    baseline_kib = _current_rss_kib()
    calib_before = _calibrate()
    cpu0 = _cpu_seconds()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()

    result: dict[str, Any] = {}
    failures: list[str] = []
    t0 = time.perf_counter()
    if variant == "naive":
        # The straightforward notebook way: whole file in a DataFrame, one model per row.
        df = pd.read_csv(csv_path)
        df = df.dropna(subset=["body"])
        now = datetime.now(UTC)
        lines = []
        for row in df.itertuples(index=False):
            created_at = datetime.strptime(row.review_date, DATE_FORMAT).replace(tzinfo=UTC)
            title = row.title if isinstance(row.title, str) else None
            record = FeedbackRecord(
                record_id=make_record_id(
                    SOURCE,
                    None,
                    text=row.body,
                    title=title,
                    created_at=created_at,
                    product=row.product_title,
                ),
                source=SOURCE,
                channel="review",
                created_at=created_at,
                received_at=now,
                text=row.body,
                title=title,
                rating=int(row.rating),
                product=row.product_title,
                sku=row.product_handle,
                region=row.location if isinstance(row.location, str) else None,
                metadata={"review_source": row.source, "product_id": str(row.product_id)},
            )
            lines.append(record.model_dump_json())
        root.mkdir(parents=True, exist_ok=True)
        (root / "reviews.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        written = len(lines)
    else:
        if profiler is not None:
            profiler.enable()
        report = pipeline.ingest_file(SOURCE, csv_path.name, lambda: open(csv_path, "rb"))  # noqa: SIM115
        if profiler is not None:
            profiler.disable()
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    peak_kib = _maxrss_kib()
    hwm_kib = _vm_hwm_kib()
    calib_ns = (calib_before + _calibrate()) / 2

    # Checks, after the measurement.
    rows, unique, dups, bad = meta["rows"], meta["unique"], meta["duplicates"], meta["bad"]
    if variant == "naive":
        _expect("records written", written, rows - bad, failures)
        counts = {"records_in": rows, "landed": written, "duplicates": 0, "quarantined": bad}
    else:
        counts = {
            "records_in": report.records_in,
            "landed": report.landed,
            "duplicates": report.duplicates,
            "quarantined": report.quarantined,
        }
        expected = {
            "pipeline": (rows, unique, dups, bad),
            "replay-file": (rows, 0, rows, 0),
            "replay-rows": (rows, 0, unique + dups, bad),
        }[variant]
        _expect("counts (in, landed, duplicates, quarantined)", tuple(counts.values()),
                expected, failures)  # fmt: skip
        _expect("reconciled", report.reconciled, True, failures)
        _expect("duplicate_input", report.duplicate_input, variant == "replay-file", failures)
        if report.file_errors:
            failures.append(f"file errors: {report.file_errors}")
        if variant == "pipeline":
            on_disk = _count_lines(root / settings.landing_container / "feedback")
            _expect("landed JSONL lines on disk", on_disk, unique, failures)
    result.update(
        variant=variant,
        rows=rows,
        input_bytes=csv_path.stat().st_size,
        seconds=seconds,
        cpu_seconds=cpu,
        calib_ns=calib_ns,
        startup_seconds=startup,
        baseline_kib=baseline_kib,
        peak_kib=peak_kib,
        vm_hwm_kib=hwm_kib,
        pinned_cpus=pinned,
        counts=counts,
        failures=failures,
    )
    if profiler is not None:
        _print_profile(profiler, args.profile)
    print("RESULT " + json.dumps(result), flush=True)
    return 1 if failures else 0


def stages_main(args: argparse.Namespace) -> int:
    """Where the time goes, without a profiler: cumulative passes over the same file."""
    import hashlib

    from shared.errors import RowError
    from shared.ingest.parsing import ParsedRow, read_rows
    from shared.ingest.sources import RecordMapper, load_mappings
    from shared.pipeline import IngestPipeline
    from shared.settings import Settings
    from shared.storage import LocalStorage

    pinned = _pin(args.cpu)
    csv_path, root = Path(args.csv), Path(args.root)
    rows = json.loads(Path(args.meta).read_text())["rows"]
    settings = Settings(local_storage_root=root)
    mapping = load_mappings(settings.config_dir)[SOURCE]
    limit = settings.max_row_chars
    timings: list[tuple[str, float]] = []

    def timed(label: str, work: Any) -> None:
        started = time.perf_counter()
        work()
        timings.append((label, time.perf_counter() - started))

    def csv_reference() -> None:
        with open(csv_path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for row in reader:
                dict(zip(header, row, strict=True))

    def hash_pass() -> None:
        digest = hashlib.sha256()
        with open(csv_path, "rb") as handle:
            while chunk := handle.read(MIB):
                digest.update(chunk)

    def parse_pass() -> None:
        with open(csv_path, "rb") as handle:
            for _ in read_rows(handle, mapping, csv_path.name, max_row_chars=limit):
                pass

    def map_pass() -> None:
        mapper = RecordMapper(
            mapping,
            received_at=datetime.now(UTC),
            max_text_chars=settings.max_text_chars,
            flat_rows=False,
        )
        with open(csv_path, "rb") as handle:
            for item in read_rows(handle, mapping, csv_path.name, max_row_chars=limit):
                if isinstance(item, ParsedRow):
                    try:  # noqa: SIM105 - cheaper than contextlib.suppress per row
                        mapper.map_fields(item.values)
                    except RowError:
                        pass

    def full_ingest() -> None:
        pipeline = IngestPipeline(LocalStorage(root), settings, enrich=False)
        pipeline.ingest_file(SOURCE, csv_path.name, lambda: open(csv_path, "rb"))  # noqa: SIM115

    timed("reference: csv.reader + dict(zip) alone, no shared/ code", csv_reference)
    timed("A  hash pass (sha256, 1 MiB reads)", hash_pass)
    timed("B  read_rows (parse CSV into row dicts)", parse_pass)
    timed("C  read_rows + RecordMapper.map_fields (checked record dicts)", map_pass)
    timed("D  ingest_file (A + C + serialize + ledger + land)", full_ingest)
    seconds = dict(timings)
    a, b, c, d = (seconds[label] for label, _ in timings[1:])
    derived = [
        ("hash (A)", a),
        ("parse (B)", b),
        ("map + validate (C - B)", c - b),
        ("serialize + ledger + land + report (D - C - A)", d - c - a),
    ]
    print(f"stages on {rows:,} rows, pinned to CPU {pinned}:")
    print("| pass | seconds | us/row |\n| --- | ---: | ---: |")
    for label, value in timings:
        print(f"| {label} | {value:.2f} | {value / rows * 1e6:.1f} |")
    print("\n| stage of ingest_file | seconds | us/row | share |")
    print("| --- | ---: | ---: | ---: |")
    for label, value in derived:
        print(
            f"| {label} | {value:.2f} | {value / rows * 1e6:.1f} | {value / d:.0%} |",
        )
    return 0


def _print_profile(profiler: Any, top: int) -> None:
    import io
    import pstats
    import re

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    shared = re.escape(str(PROJECT / "shared") + os.sep)
    out.write(f"\n=== top {top} by cumulative time, shared/ code only ===\n")
    stats.sort_stats("cumulative").print_stats(shared, top)
    out.write(f"\n=== top {top + 5} by own (total) time, everything ===\n")
    stats.sort_stats("tottime").print_stats(top + 5)
    text = out.getvalue().replace(str(PROJECT) + os.sep, "")
    print(text, file=sys.stderr, flush=True)


# -------------------------------------------------------------------- parent


def _run_child(
    variant: str, csv_path: Path, meta_path: Path, root: Path, args: argparse.Namespace
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        variant,
        "--csv",
        str(csv_path),
        "--meta",
        str(meta_path),
        "--root",
        str(root),
        "--cpu",
        str(args.cpu),
    ]
    if args.profile:
        command += ["--profile", str(args.profile)]
    if args.enrich:
        command.append("--enrich")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  {variant:<12} running (1-min load {load:.2f}) ...", end="", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    if proc.stderr.strip():
        print("\n" + proc.stderr.rstrip(), file=sys.stderr)
    if result is None:
        print(" crashed", flush=True)
        print(proc.stdout, file=sys.stderr)
        raise CheckFailedError(f"{variant}: child exited {proc.returncode} without a result")
    print(f" {result['seconds']:.2f} s (process {wall:.1f} s)", flush=True)
    if result["failures"]:
        for failure in result["failures"]:
            print(f"  FAIL {variant}: {failure}", file=sys.stderr)
        raise CheckFailedError(f"{variant}: {len(result['failures'])} check(s) failed")
    result["load_before"] = load
    return result


def _ensure_data(args: argparse.Namespace) -> tuple[Path, Path, dict[str, Any]]:
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    csv_path, meta_path = data_paths(data_dir, args.rows, args.seed)
    if csv_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("generator_version") == GEN_VERSION and meta["bytes"] == (
            csv_path.stat().st_size
        ):
            print(f"data: reusing {csv_path} ({meta['bytes'] / MIB:.0f} MiB)")
            return csv_path, meta_path, meta
    print(f"data: generating {args.rows:,} rows -> {csv_path} ...", flush=True)
    # In its own process too, so this (small) parent's peak RSS stays small: Linux
    # carries a parent's RSS high-water mark into a child's ru_maxrss across exec.
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "generate",
            "--rows",
            str(args.rows),
            "--seed",
            str(args.seed),
            "--data-dir",
            str(data_dir),
        ],
        check=True,
    )
    meta = json.loads(meta_path.read_text())
    print(f"data: {meta['bytes'] / MIB:.0f} MiB in {meta['generate_seconds']:.1f} s (not measured)")
    return csv_path, meta_path, meta


def _mib(kib: float) -> float:
    return kib / 1024


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        "| variant | rows | seconds | records/s | input MiB/s | CPU s | peak RSS MiB | "
        "RSS after imports MiB | RSS growth MiB | startup s | calib ns |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = []
    for r in results:
        rate = r["rows"] / r["seconds"] if r["seconds"] else float("inf")
        spread = r.get("seconds_all", [])
        span = f" ({min(spread):.2f}-{max(spread):.2f})" if len(spread) > 1 else ""
        lines.append(
            f"| {r['variant']} | {r['rows']:,} | {r['seconds']:.2f}{span} | {rate:,.0f} | "
            f"{r['input_bytes'] / MIB / r['seconds']:,.0f} | {r['cpu_seconds']:.2f} | "
            f"{_mib(r['peak_kib']):.0f} | "
            f"{_mib(r['baseline_kib']):.0f} | {_mib(r['peak_kib'] - r['baseline_kib']):.0f} | "
            f"{r['startup_seconds']:.2f} | {r['calib_ns']:.0f} |"
        )
    return head + "\n".join(lines)


def _machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT), "status", "--porcelain", "--", "shared", "prompts"],
            capture_output=True, text=True, check=False,
        ).stdout.split()[1::2]  # fmt: skip
    except OSError:
        commit, dirty = "?", []
    changed = f" + uncommitted {', '.join(dirty)}" if dirty else ""
    return (
        f"machine: {os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]} "
        f"({sys.implementation.name}), {sys.platform}; code: {commit}{changed}"
    )


def parent_main(args: argparse.Namespace) -> int:
    print(_machine())
    csv_path, meta_path, meta = _ensure_data(args)
    print(
        f"file: {meta['rows']:,} rows = {meta['unique']:,} unique + {meta['duplicates']:,} "
        f"exact duplicates + {meta['bad']:,} empty-body rows; {meta['bytes'] / MIB:.1f} MiB"
    )
    if args.stages:
        run_dir = Path(args.data_dir) / f"run-{args.rows}-{os.getpid()}-stages"
        shutil.rmtree(run_dir, ignore_errors=True)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "stages"]
        command += ["--csv", str(csv_path), "--meta", str(meta_path)]
        command += ["--root", str(run_dir / "storage"), "--cpu", str(args.cpu)]
        try:
            return subprocess.run(
                command, env={**os.environ, "PYTHONPATH": str(PROJECT)}
            ).returncode
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
    variants = ["pipeline"] if args.profile else ["pipeline", "replay-file", "replay-rows"]
    if not args.skip_naive and not args.profile:
        variants.append("naive")
    print(f"running {', '.join(variants)} (each in its own process pinned to CPU {args.cpu})")
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    for attempt in range(1, args.repeat + 1):
        if args.repeat > 1:
            print(f"round {attempt}/{args.repeat}")
        run_dir = Path(args.data_dir) / f"run-{args.rows}-{os.getpid()}-{attempt}"
        shutil.rmtree(run_dir, ignore_errors=True)
        root = run_dir / "storage"  # fresh per round: replays reuse the round's root
        try:
            for variant in variants:
                path = csv_path
                if variant == "replay-rows":
                    # Same rows, one more trailing blank line: a different content hash.
                    path = run_dir / f"copy-{csv_path.name}"
                    shutil.copyfile(csv_path, path)
                    with open(path, "ab") as handle:
                        handle.write(b"\n")
                target = run_dir / "naive" if variant == "naive" else root
                runs[variant].append(_run_child(variant, path, meta_path, target, args))
        except CheckFailedError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            if args.keep and attempt == args.repeat:
                print(f"kept {run_dir}")
            else:
                shutil.rmtree(run_dir, ignore_errors=True)

    # Per variant: the run with the median wall time; peak RSS is the worst of all rounds.
    results = []
    for done in runs.values():
        ordered = sorted(done, key=lambda r: r["seconds"])
        median = dict(ordered[(len(ordered) - 1) // 2])
        median["seconds_all"] = [r["seconds"] for r in done]
        median["peak_kib"] = max(r["peak_kib"] for r in done)
        results.append(median)

    print()
    if args.repeat > 1:
        print(
            f"seconds: median of {args.repeat} rounds (the faster middle one when even), "
            "range in brackets; peak RSS: the largest of all rounds"
        )
    print(_table(results))
    print(
        "calib ns: CPU ns per iteration of a fixed Python loop in the child, before/after "
        "the ingest (higher = a slower or shared core at that moment)"
    )
    by_name = {r["variant"]: r for r in results}
    if "naive" in by_name:
        pipe, naive = by_name["pipeline"], by_name["naive"]
        print()
        print(
            f"pipeline vs naive: {naive['seconds'] / pipe['seconds']:.2f}x the speed, "
            f"{naive['peak_kib'] / pipe['peak_kib']:.1f}x less peak RSS "
            f"({_mib(pipe['peak_kib']):.0f} vs {_mib(naive['peak_kib']):.0f} MiB)"
        )
    pipe = by_name["pipeline"]
    rate = pipe["rows"] / pipe["seconds"]
    parent_peak = _mib(_maxrss_kib())
    cross = ", ".join(
        f"{r['variant']} {_mib(r['vm_hwm_kib']):.0f}" for r in results if r["vm_hwm_kib"]
    )
    print(f"(cross-check VmHWM MiB: {cross}; this parent's own peak {parent_peak:.0f} MiB)")
    print(
        f"targets: >= 20,000 records/s: {'met' if rate >= 20_000 else 'MISSED'} ({rate:,.0f}); "
        f"peak RSS < 300 MB: "
        f"{'met' if pipe['peak_kib'] * 1024 < 300e6 else 'MISSED'} "
        f"({pipe['peak_kib'] * 1024 / 1e6:.0f} MB)"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        everything = {"data": meta, "results": results, "runs": runs}
        Path(args.json).write_text(json.dumps(everything, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the CSV")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", default=str(HERE / "data"), help="gitignored work dir")
    parser.add_argument("--skip-naive", action="store_true", help="skip the pandas baseline")
    parser.add_argument("--keep", action="store_true", help="keep the storage root and copies")
    parser.add_argument("--cpu", type=int, default=0, help="CPU the measured children run on")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=10,
        default=0,
        help="run only the pipeline under cProfile and print the top N hotspots",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds; the table shows the median wall time"
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="instead: time hash / parse / map / full ingest passes (no profiler)",
    )
    parser.add_argument(
        "--enrich",
        action="store_true",
        help="run the pipeline with enrichment (language, quality gate, PII masking)",
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    # Internal: one measured variant in this process.
    parser.add_argument(
        "--child",
        choices=["generate", "stages", "pipeline", "replay-file", "replay-rows", "naive"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--meta", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")
    if args.child == "generate":
        csv_path, meta_path = data_paths(Path(args.data_dir), args.rows, args.seed)
        generate(csv_path, meta_path, args.rows, args.seed)
        return 0
    if args.child == "stages":
        return stages_main(args)
    if args.child:
        return child_main(args)
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
