#!/usr/bin/env python
"""`insightloop ingest` of a chat export with 1 worker vs every core (enrichment workers).

Builds a chat CSV in the shipped ``prompts/sources/chat.yaml`` shape from the first
``--rows`` texts of banking77 (``../shared/eval``; synthetic conversation ids, dates and
metadata), then runs the real CLI on it into a fresh storage root, once per worker count
(INSIGHTLOOP_ENRICH_WORKERS), and prints the wall seconds of each run (process start to
exit: imports and model loading included) with the ratio against one worker.

    .venv/bin/python bench/chat_ingest_bench.py              # 10,000 rows, 1 and 2 workers
    .venv/bin/python bench/chat_ingest_bench.py --workers 1,2,4
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
BANKING77 = ROOT.parent / "shared" / "eval" / "banking77" / "train.csv"
CHAT_MAPPING = ROOT / "prompts" / "sources" / "chat.yaml"


def row_values(i: int, text: str) -> dict[str, str]:
    """One synthetic conversation, by canonical field and metadata key."""
    day, minute = 1 + i % 28, i % 60
    return {
        "source_event_id": f"conv_{i:06d}",
        "created_at": f"2026-11-{day:02d}T10:{minute:02d}:{i % 59:02d}+00:00",
        "text": text,
        "region": ("GB", "ES", "DE", "FR")[i % 4],
        "customer_segment": ("Subscriber", "One-off buyer")[i % 2],
        "product": ("Debit card", "Credit card", "Savings")[i % 3],
        "sku": f"SKU-{i % 40:03d}",
        "product_category": ("cards", "accounts")[i % 2],
        "order_value": f"{(i % 90) + 10}.00",
        "agent_team": ("accounts", "cards", "payments")[i % 3],
        "plan": ("Free", "Plus")[i % 2],
        "app_version": f"5.12.{i % 3}",
    }


def chat_csv(rows: int, out: Path) -> Path:
    """A CSV with every column the shipped chat mapping names (the gate quarantines a batch
    missing a mapped column), so the bench follows the mapping as it changes."""
    from shared.ingest.sources import load_mapping

    mapping = load_mapping(CHAT_MAPPING)
    columns = {**mapping.fields, **mapping.metadata}  # field or metadata key -> column
    unknown = set(columns) - set(row_values(0, ""))
    if unknown:
        raise SystemExit(f"the chat mapping names fields this bench has no values for: {unknown}")
    with open(BANKING77, newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][:rows]
    if len(texts) < rows:
        raise SystemExit(f"banking77 has only {len(texts)} texts")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns.values())
        for i, text in enumerate(texts):
            values = row_values(i, text)
            writer.writerow(values[key] for key in columns)
    return out


def run(csv_path: Path, workers: int, storage: Path) -> tuple[float, dict]:
    shutil.rmtree(storage, ignore_errors=True)
    env = {
        **os.environ,
        "INSIGHTLOOP_ENRICH_WORKERS": str(workers),
        "INSIGHTLOOP_LOCAL_STORAGE_ROOT": str(storage),
    }
    cli = Path(sys.executable).with_name("insightloop")
    began = time.perf_counter()
    done = subprocess.run(
        [str(cli), "ingest", str(csv_path), "--source", "chat"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"ingest failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    reports = sorted((storage / "landing" / "ingest_reports").rglob("*.jsonl"))
    report = json.loads(reports[-1].read_text().splitlines()[-1]) if reports else {}
    shutil.rmtree(storage, ignore_errors=True)
    return seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--data-dir", default=str(HERE / "data"), help="gitignored work dir")
    args = parser.parse_args()
    data = Path(args.data_dir)
    csv_path = chat_csv(args.rows, data / f"chat-{args.rows}.csv")
    print(f"{args.rows:,} chat rows ({csv_path.name}); {os.cpu_count()} CPUs\n")
    print("| enrichment workers | wall seconds | records/s | ratio vs 1 worker | landed |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    base = None
    for workers in (int(w) for w in args.workers.split(",")):
        seconds, report = run(csv_path, workers, data / f"chat-storage-{workers}")
        if report.get("landed") != args.rows:
            # A quarantined batch is fast: its time says nothing about enrichment.
            raise SystemExit(
                f"{workers} worker(s): landed {report.get('landed')} of {args.rows:,} rows "
                f"(quarantined {report.get('quarantined')}); timings would not be comparable"
            )
        base = base or seconds
        print(
            f"| {workers} | {seconds:.1f} | {args.rows / seconds:.0f} | {base / seconds:.2f} "
            f"| {report.get('landed', '?')} |"
        )


if __name__ == "__main__":
    main()
