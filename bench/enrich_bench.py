"""Where enrichment time goes: language detection vs PII masking, per record, one core.

Maps records from the generated reviews CSV of ``ingest_bench.py`` (run it once first,
or pass ``--csv``), then times ``Enrichment.detect_languages`` and ``Enrichment.mask``
(text + title, as the pipeline does, and text alone) on the same records, after a
warm-up batch so that engine construction is not counted.

    .venv/bin/python bench/enrich_bench.py --records 1000 --cpu 1
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from shared.enrich.enrichment import Enrichment  # noqa: E402
from shared.ingest.parsing import ParsedRow, read_rows  # noqa: E402
from shared.ingest.sources import RecordMapper, load_mappings  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.storage import LocalStorage  # noqa: E402

WARM_UP = 50


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--csv", type=Path, default=HERE / "data" / "reviews-20000-s42.csv")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to")
    args = parser.parse_args(argv)
    if not args.csv.exists():
        parser.error(f"{args.csv} is missing: run bench/ingest_bench.py --rows 20000 first")
    os.sched_setaffinity(0, {args.cpu})

    settings = Settings(local_storage_root=Path(tempfile.mkdtemp(prefix="enrich-bench-")))
    enrichment = Enrichment.from_settings(settings, LocalStorage(settings.local_storage_root))
    mapping = load_mappings(settings.config_dir)["reviews"]
    mapper = RecordMapper(
        mapping, received_at=datetime.now(UTC), max_text_chars=20_000, flat_rows=False
    )
    with open(args.csv, "rb") as handle:
        rows = itertools.islice(
            read_rows(handle, mapping, args.csv.name, max_row_chars=1 << 20),
            (args.records + WARM_UP) * 2,
        )
        records = [
            mapper.map_fields(row.values)
            for row in rows
            if isinstance(row, ParsedRow) and row.values.get("body")
        ][: args.records + WARM_UP]
    warm, measured = records[:WARM_UP], records[WARM_UP:]
    enrichment.detect_languages(warm, enrichment.profiler("reviews"))
    enrichment.mask(warm, mapping)

    def rate(work: object) -> float:
        started = time.perf_counter()
        work()  # type: ignore[operator]
        return len(measured) / (time.perf_counter() - started)

    text_only = copy.deepcopy(measured)
    for record in text_only:
        record["title"] = None
    language = rate(lambda: enrichment.detect_languages(measured, enrichment.profiler("reviews")))
    both = rate(lambda: enrichment.mask(measured, mapping))
    text = rate(lambda: enrichment.mask(text_only, mapping))
    mean_words = sum(len(r["text"].split()) for r in measured) / len(measured)
    print(
        f"{len(measured):,} review records (text mean {mean_words:.0f} words), CPU {args.cpu}, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print("| stage | records/s | ms/record |\n| --- | ---: | ---: |")
    for label, value in (
        ("language detection (`detect_languages`)", language),
        ("PII masking, text + title (`mask`, as the pipeline does)", both),
        ("PII masking, text only", text),
    ):
        print(f"| {label} | {value:,.0f} | {1000 / value:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
