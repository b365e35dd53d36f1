"""The ``insightloop`` command line: the local driver of the same pipeline the Functions run."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shared.act.routing import route_export
from shared.ask.commands import add_ask_parsers
from shared.decide.classifier import MaskedText
from shared.decide.factory import classifier_from_settings, mask_for_classification, rescan_evidence
from shared.decide.overrides import record_overrides
from shared.decide.taxonomy import get_taxonomy
from shared.demo_run import cmd_demo
from shared.enrich.enrichment import PII_CONFIG, Enrichment
from shared.enrich.language import get_language_detector
from shared.enrich.masking import get_masker, mask_jsonl
from shared.enrich.quality.config import get_quality_config
from shared.errors import InsightloopError, PermanentInputError, TransientError
from shared.evaluation.command import add_eval_parser
from shared.gold.local import (
    LocalGoldError,
    print_top_gold,
    run_local_gold,
)
from shared.jsonl import json_objects
from shared.local_ingest import (
    exit_code,
    expand_inputs,
    ingest_files,
    ingest_message_files,
    print_reports,
)
from shared.models import make_record_id
from shared.pipeline import IngestPipeline
from shared.settings import Settings, get_settings
from shared.storage import LocalStorage, storage_from_settings

console = Console()


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    pipeline = IngestPipeline.from_settings(settings)
    reports = ingest_files(pipeline, expand_inputs(args.paths, args.source))
    print_reports("ingest", reports)
    return exit_code(reports, args.strict)


def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    pipeline = IngestPipeline.from_settings(settings)
    reports = ingest_message_files(pipeline, args.files, args.source)
    print_reports("events", reports)
    return exit_code(reports, args.strict)


def cmd_gold(args: argparse.Namespace, settings: Settings) -> int:
    if settings.storage_backend != "local" or settings.local_storage_root is None:
        console.print(
            "[red]insightloop gold runs on local storage[/red] (INSIGHTLOOP_STORAGE_BACKEND)"
        )
        return 2
    if bad := [item for item in args.set if "=" not in item]:
        console.print(f"[red]--set takes KEY=VALUE, not {bad[0]!r}[/red]", highlight=False)
        return 2
    storage = LocalStorage(Path(settings.local_storage_root))
    work = args.work or Path(settings.local_storage_root) / "gold"
    try:
        gold = run_local_gold(
            settings,
            storage,
            work,
            run_id=args.run_id,
            config=dict(item.split("=", 1) for item in args.set),
            small_input=not args.large_input,
        )
    except LocalGoldError as exc:
        console.print(f"[red]Gold failed:[/red] {exc}", highlight=False)
        return 1
    print_top_gold(gold)
    console.print(
        f"Gold tables: {gold.warehouse} ({gold.seconds:.0f} s); {gold.insights} insight(s) "
        f"exported to {storage.describe(settings.exports_container, gold.export_path)}",
        highlight=False,
    )
    return 0


@contextlib.contextmanager
def _streams(args: argparse.Namespace) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """The command's input (FILE or stdin) and output (-o or stdout), closed after."""
    with contextlib.ExitStack() as stack:
        source = (
            sys.stdin.buffer
            if str(args.file) == "-"
            else stack.enter_context(open(args.file, "rb"))
        )
        target = (
            sys.stdout.buffer
            if args.output is None
            else stack.enter_context(open(args.output, "wb"))
        )
        yield source, target


def _add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="JSON Lines file, or - for stdin"
    )
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")


def cmd_mask(args: argparse.Namespace, settings: Settings) -> int:
    masker = get_masker(Path(settings.config_dir) / PII_CONFIG)
    messages = Console(stderr=True)
    # The language decision ingest makes: the detector of the quality config, per record.
    detector = get_language_detector(get_quality_config(Path(settings.config_dir)).language)

    def detect(texts: Sequence[str]) -> list[str]:
        return [guess.language for guess in detector.detect_batch(texts)]

    with _streams(args) as (source, target):
        written = mask_jsonl(source, target, masker, batch_size=args.batch_size, detect=detect)
    messages.print(f"masked {written:,} line(s)", highlight=False, soft_wrap=True)
    return 0


def read_classify_input(lines: Iterable[bytes]) -> Iterator[tuple[Any, str, str | None]]:
    """(id, text, language) per JSON line; blank lines skipped, bad ones refused."""
    for number, row in json_objects(lines):
        if not isinstance(row.get("text"), str):
            raise PermanentInputError(f"line {number}: expected an object with a `text` string")
        language = row.get("language") if isinstance(row.get("language"), str) else None
        yield row.get("id", number), row["text"], language


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    if args.provider:
        settings = Settings(**{**settings.model_dump(), "llm_provider": args.provider})
    if args.batch or args.poll_batches:
        return classify_batch(settings, poll=args.poll_batches)
    if args.pending:
        return classify_pending(settings)
    classifier = classifier_from_settings(
        settings, args.prompt_version, storage=storage_from_settings(settings)
    )
    masker = get_masker(Path(settings.config_dir) / PII_CONFIG)
    messages = Console(stderr=True)
    totals: Counter[str] = Counter()
    with _streams(args) as (source, target):
        rows = read_classify_input(source)
        while chunk := list(itertools.islice(rows, args.chunk)):
            masked, spans = mask_for_classification(
                masker, [text for _, text, _ in chunk], [language for _, _, language in chunk]
            )
            items = [
                MaskedText(make_record_id("cli", str(row_id)), text)
                for (row_id, _, _), text in zip(chunk, masked, strict=True)
            ]
            outcome = classifier.classify(items)
            languages = {
                item.record_id: language
                for item, (_, _, language) in zip(items, chunk, strict=True)
            }
            results, evidence_hits = rescan_evidence(masker, outcome.classifications, languages)
            by_id = {c.record_id: c for c in results}
            for (row_id, _, _), item in zip(chunk, items, strict=True):
                result = by_id[item.record_id].model_dump(mode="json")
                target.write(orjson.dumps({"id": row_id, **result}) + b"\n")
            totals.update(
                records=len(items),
                review=outcome.in_review,
                cache_hits=outcome.cache_hits,
                masked_spans=spans + evidence_hits,
                calls=len(outcome.calls),
                prompt_tokens=sum(c.prompt_tokens for c in outcome.calls),
                completion_tokens=sum(c.completion_tokens for c in outcome.calls),
                cached_tokens=sum(c.cached_tokens for c in outcome.calls),
            )
    messages.print(
        f"classified {totals['records']:,} record(s) with {classifier.model}: "
        f"{totals['review']:,} for review; {totals['masked_spans']:,} PII span(s) masked first; "
        f"{totals['calls']:,} model call(s), {totals['prompt_tokens']:,} prompt tokens "
        f"({totals['cached_tokens']:,} cached), {totals['completion_tokens']:,} completion tokens, "
        f"{totals['cache_hits']:,} duplicate text(s) answered from cache",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def classify_batch(settings: Settings, *, poll: bool) -> int:
    """Submit the pending backlog to the Batch API, or collect the batches that ended."""
    from shared.decide.batch_backfill import backfill_from_settings
    from shared.decide.classify_stage import ClassifyStage

    stage = ClassifyStage.from_settings(settings, storage_from_settings(settings))
    backfill = backfill_from_settings(stage, requeue=stage.run_items)
    console = Console(stderr=True)
    if not poll:
        items = stage.pending.pending()
        batch_id = backfill.submit(items)
        console.print(
            f"submitted {len(items):,} pending work item(s) as batch {batch_id}"
            if batch_id
            else "nothing pending to submit",
            highlight=False,
        )
        return 0
    from shared.telemetry import record_batch_poll

    for result in backfill.poll():
        record_batch_poll(result, model=backfill.model)
        console.print(
            f"batch {result.batch_id} {result.status}: {result.answered_records:,} record(s) "
            f"answered, {result.failed_requests:,} failed and {result.missing_requests:,} "
            f"unanswered request(s) asked online; {result.requeued_items:,} item(s) landed",
            highlight=False,
            soft_wrap=True,
        )
    return 0


def classify_pending(settings: Settings) -> int:
    """Resume the classify stage: every work item ingest queued and nobody finished."""
    from shared.decide.classify_stage import ClassifyStage
    from shared.telemetry import record_classify_item

    stage = ClassifyStage.from_settings(settings, storage_from_settings(settings))
    threshold = settings.classify_batch_min_records
    if threshold and sum(i.stop - i.start for i in stage.pending.pending()) >= threshold:
        return classify_batch(settings, poll=False)  # a backfill: half the price
    results = []
    for item in stage.pending.pending():
        results.append(stage.run(item))
        record_classify_item(results[-1], trigger="cli", quota=stage.quota_gauges())
    calls = [call for result in results for call in result.calls]
    Console(stderr=True).print(
        f"classified {len(results):,} pending work item(s) with {stage.classifier.model}: "
        f"{sum(r.records for r in results):,} record(s), "
        f"{sum(r.classified for r in results):,} classified, "
        f"{sum(r.in_review for r in results):,} for review; {len(calls):,} model call(s), "
        f"{sum(r.cache_hits for r in results):,} answered from the cache",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def cmd_override(args: argparse.Namespace, settings: Settings) -> int:
    data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    outcome = record_overrides(
        storage_from_settings(settings),
        settings.landing_container,
        get_taxonomy(Path(settings.config_dir)),
        data.splitlines(),
    )
    for number, reason in outcome.refused:
        console.print(f"[red]refused[/red] line {number}: {reason}", highlight=False)
    console.print(
        f"{len(outcome.applied):,} override(s) landed, {len(outcome.refused):,} refused",
        highlight=False,
    )
    return 1 if outcome.refused else 0


def cmd_route(args: argparse.Namespace, settings: Settings) -> int:
    table = Table(title="routing")
    for column in ("export", "insights", "created", "updated", "unchanged", "review", "pending"):
        table.add_column(column, justify="left" if column == "export" else "right")
    pending = 0
    for path in args.files:
        report = route_export(path.read_bytes(), f"insights/{path.name}")
        pending += report.pending + report.failed
        table.add_row(
            path.name,
            *(
                f"{value:,}"
                for value in (
                    report.insights,
                    report.created,
                    report.updated,
                    report.unchanged,
                    report.in_review,
                    report.pending + report.failed,
                )
            ),
        )
        if report.rejected:
            console.print(f"[red]rejected[/red] {path.name}: {report.rejected}", highlight=False)
    console.print(table)
    return 1 if pending else 0


def cmd_reset_baseline(args: argparse.Namespace, settings: Settings) -> int:
    storage = storage_from_settings(settings)
    gate = Enrichment.from_settings(settings, storage).gate
    baseline, _ = gate.load_baseline(args.source)
    gate.reset_baseline(args.source)
    console.print(
        f"baseline of {args.source!r} reset (it held {baseline.batches} batch(es), "
        f"{baseline.rows:,} rows); the gate relearns it from the next passing batches",
        highlight=False,
    )
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here so that matplotlib and DuckDB load only for this command.
    from shared.report import render_report

    summary = render_report(args.warehouse, args.out, release_date=args.release_date)
    window = (
        f"window {summary.window_start} to {summary.as_of}" if summary.as_of else "no window yet"
    )
    console.print(
        f"report: {summary.path} ({window}; {summary.views} views, {summary.datasets} datasets, "
        f"{summary.charts} charts, {summary.bytes:,} bytes)",
        highlight=False,
        soft_wrap=True,
    )
    if summary.empty_datasets:
        console.print(
            f"empty (shown as such): {', '.join(summary.empty_datasets)}",
            highlight=False,
            soft_wrap=True,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="insightloop",
        description=(
            "Turn customer feedback exports into canonical records at Auto Loader landing "
            "paths. Runs the same pipeline as the Azure Functions, on local storage by "
            "default (INSIGHTLOOP_* environment variables configure it)."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest",
        help="ingest export files (CSV, JSON, JSON Lines, gzipped or not)",
        description=(
            "Ingest export files. The source mapping is --source, else each file's folder "
            "name (inbox/<source>/<file>). Replays and overlapping exports land nothing twice."
        ),
    )
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    ingest.add_argument("--source", help="source mapping (prompts/sources/<source>.yaml)")
    ingest.add_argument(
        "--strict", action="store_true", help="exit 1 when any row or file was quarantined"
    )
    ingest.set_defaults(handler=cmd_ingest)

    events = commands.add_parser(
        "events",
        help="ingest Service Bus message bodies from a file (one body per line)",
        description="Feed message bodies through the same code path as the Service Bus trigger.",
    )
    events.add_argument("files", nargs="+", type=Path, metavar="FILE")
    events.add_argument("--source", help="the messages' source property (default: events)")
    events.add_argument("--strict", action="store_true", help="exit 1 when anything is quarantined")
    events.set_defaults(handler=cmd_events)

    demo = commands.add_parser(
        "demo",
        help="run the pipeline end to end on the bundled samples/, then replay it",
        description=(
            "Drop samples/ into a fresh local inbox, ingest and replay it, then run Gold on "
            "local Spark, export its insights and route them to the local outbox."
        ),
    )
    demo.add_argument(
        "--root", type=Path, default=Path(".insightloop/demo"), help="local storage folder"
    )
    demo.add_argument("--keep", action="store_true", help="keep storage from an earlier run")
    demo.add_argument(
        "--no-gold", action="store_true", help="stop after ingestion (no Spark, no routing)"
    )
    demo.set_defaults(handler=cmd_demo)

    gold = commands.add_parser(
        "gold",
        help="run the Gold pipeline on local Spark over the local landing folder, then export",
        description=(
            "Run the Databricks bundle's pipeline (databricks/) with OSS Spark over "
            "<local root>/landing (needs Java 17), then its export task: "
            "exports/insights/<run_id>.json, which `insightloop route` reads. Each run "
            "recomputes Gold from everything landed."
        ),
    )
    gold.add_argument("--work", type=Path, help="tables and checkpoints (default <root>/gold)")
    gold.add_argument("--run-id", help="names the export (default local-<UTC time>)")
    gold.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="pipeline configuration, e.g. insightloop.as_of=2026-03-01",
    )
    gold.add_argument(
        "--large-input", action="store_true", help="Spark's defaults (for 100k+ records)"
    )
    gold.set_defaults(handler=cmd_gold)

    mask = commands.add_parser(
        "mask",
        help="mask PII in JSON Lines (check the masking config on your own data)",
        description=(
            "Read JSON Lines with a `text` field (and optionally `language`), write the same "
            "lines with `text` masked and `entities` added: type, start/end offsets in the "
            "original text, score. Uses prompts/pii.yaml; makes no network call."
        ),
    )
    _add_stream_arguments(mask)
    mask.add_argument(
        "--batch-size", type=int, default=256, help="texts per spaCy batch (default 256)"
    )
    mask.set_defaults(handler=cmd_mask)

    classify = commands.add_parser(
        "classify",
        help="classify JSON Lines of feedback (mask, rules, model, guardrails)",
        description=(
            "Read JSON Lines with `text` (and optionally `id`, `language`), mask PII, classify "
            "with the configured provider (INSIGHTLOOP_LLM_PROVIDER; `local` works offline) "
            "and write one Classification per line: themes with verbatim evidence, "
            "sentiment, urgency, owner, confidence, needs_review and its reasons."
        ),
    )
    _add_stream_arguments(classify)
    classify.add_argument(
        "--provider",
        choices=["local", "openai_compatible", "azure_openai"],
        help="override INSIGHTLOOP_LLM_PROVIDER",
    )
    classify.add_argument(
        "--prompt-version", help="prompt version under prompts/classify (default: the active one)"
    )
    classify.add_argument(
        "--chunk", type=int, default=200, help="records masked and classified at a time"
    )
    classify.add_argument(
        "--batch",
        action="store_true",
        help="instead: submit the pending work items to the Batch API (half the price, "
        "within 24 hours); --poll-batches collects them",
    )
    classify.add_argument(
        "--poll-batches",
        action="store_true",
        help="instead: collect ended Batch API jobs and land their records",
    )
    classify.add_argument(
        "--pending",
        action="store_true",
        help="instead: classify the landed records still waiting (work items ingest queued "
        "that an outage or a crash left unfinished)",
    )
    classify.set_defaults(handler=cmd_classify)

    reset = commands.add_parser(
        "reset-baseline",
        help="forget a source's quality-gate baseline (accept a lasting change)",
        description=(
            "The gate compares each batch with a rolling baseline of the source's passing "
            "batches. After a real, lasting change (a new market, a new export format), "
            "reset it; then replay the quarantined inputs: their records land."
        ),
    )
    reset.add_argument("source", help="source name, e.g. reviews")
    reset.set_defaults(handler=cmd_reset_baseline)

    override = commands.add_parser(
        "override",
        help="record reviewers' decisions over classifications (JSON Lines)",
        description=(
            "Each line: record_id, reviewer, and any of themes ([{theme, evidence?, "
            "sentiment?}]), sentiment, urgency, owner, reason. Checked like a model's answer "
            "(taxonomy themes, evidence quoted from the masked text, known owners), then "
            "landed as a human classification (landing/classified) with a before/after "
            "audit row (landing/audit). Exits 1 when any line was refused."
        ),
    )
    override.add_argument("file", type=Path, help="JSON Lines of overrides, or - for stdin")
    override.set_defaults(handler=cmd_override)

    route = commands.add_parser(
        "route",
        help="route insight export files (exports/insights/<run>.json) to their owners",
        description=(
            "Feed Gold's insight exports through the same routing as the route_insights "
            "trigger: prompts/routing.yaml picks owners and destinations; Jira, ServiceNow, "
            "Slack and Teams when configured, else the local outbox. Re-routing an export "
            "updates tickets instead of duplicating them."
        ),
    )
    route.add_argument("files", nargs="+", type=Path, metavar="FILE")
    route.set_defaults(handler=cmd_route)

    report = commands.add_parser(
        "report",
        help="render the role views (support, product, executive, data health) as one HTML file",
        description=(
            "Run the dashboard datasets (databricks/src/dashboards/queries/*.sql) over the local "
            "Gold tables with DuckDB and write a self-contained HTML report: charts, tables "
            "with masked evidence, filters. The Lakeview dashboard shows the same datasets."
        ),
    )
    report.add_argument(
        "--warehouse",
        type=Path,
        default=Path(".insightloop/demo/gold/spark-warehouse"),
        help="the local Gold run's spark-warehouse folder",
    )
    report.add_argument(
        "--out", type=Path, default=Path(".insightloop/demo/report.html"), help="HTML file"
    )
    report.add_argument(
        "--release-date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the release marker of the product view (default: 14 days before as_of)",
    )
    report.set_defaults(handler=cmd_report)

    add_eval_parser(commands)
    add_ask_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args, get_settings())
    except (InsightloopError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        if isinstance(exc, TransientError) and args.handler in (cmd_ingest, cmd_events):
            console.print(
                "  records landed before the error wait in the classify backlog: "
                "`insightloop classify --pending` resumes them once the cause is fixed",
                highlight=False,
                soft_wrap=True,
            )
        return 2


if __name__ == "__main__":
    sys.exit(main())
