"""The ``insightloop`` command line: the local driver of the same pipeline the Functions run."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from shared.act.routing import Router, route_export
from shared.ask.commands import add_ask_parsers, demo_ask
from shared.decide.classifier import MaskedText
from shared.decide.factory import classifier_from_settings, mask_for_classification, rescan_evidence
from shared.decide.overrides import record_overrides
from shared.decide.taxonomy import get_taxonomy
from shared.demo import DemoTimeline, OwnerDesk, load_timeline, routed_insights, with_demo_secrets
from shared.demo_summary import demo_summary, print_demo_summary
from shared.enrich.enrichment import PII_CONFIG, Enrichment
from shared.enrich.language import get_language_detector
from shared.enrich.masking import get_masker, mask_jsonl
from shared.enrich.quality.config import get_quality_config
from shared.errors import InsightloopError, PermanentInputError, TransientError
from shared.evaluation.command import add_eval_parser
from shared.gold.local import (
    EXPORT_DATASETS,
    LocalGoldError,
    LocalGoldRun,
    java_available,
    print_top_gold,
    run_local_gold,
)
from shared.ingest.inbox import split_inbox_path
from shared.jsonl import json_objects
from shared.models import IngestReport, make_record_id
from shared.pipeline import EventMessage, IngestPipeline
from shared.settings import PROJECT_ROOT, Settings, get_settings
from shared.storage import LocalStorage, ObjectStorage, storage_from_settings

SAMPLES_DIR = PROJECT_ROOT / "samples"
MESSAGE_BATCH = 50  # matches host.json serviceBus.maxMessageBatchSize

console = Console()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def ingest_files(
    pipeline: IngestPipeline, files: Iterable[tuple[str, str, Path]]
) -> list[IngestReport]:
    """Ingest local files, each as (source, name, path), with a progress bar per file."""
    reports = []
    with _progress() as progress:
        for source, name, path in files:
            task = progress.add_task(f"{source}/{name}", total=path.stat().st_size)
            reports.append(
                pipeline.ingest_file(
                    source,
                    name,
                    lambda path=path: open(path, "rb"),  # noqa: SIM115 - pipeline closes it
                    on_progress=lambda n, task=task: progress.advance(task, n),
                )
            )
            progress.remove_task(task)
    return reports


def ingest_stored_inbox(pipeline: IngestPipeline, storage: ObjectStorage) -> list[IngestReport]:
    """Ingest every object in the inbox container, as the blob trigger would."""
    container = pipeline.settings.inbox_container
    reports = []
    with _progress() as progress:
        for path in storage.list(container):
            source, name = split_inbox_path(path)
            task = progress.add_task(path, total=storage.size(container, path))
            reports.append(
                pipeline.ingest_file(
                    source,
                    name,
                    lambda path=path: storage.open_read(container, path),
                    on_progress=lambda n, task=task: progress.advance(task, n),
                )
            )
            progress.remove_task(task)
    return reports


def read_messages(path: Path, source: str | None) -> Iterator[EventMessage]:
    """Each non-blank line of a file is one Service Bus message body."""
    properties = {"source": source} if source else {}
    with open(path, "rb") as handle:
        for line_no, line in enumerate(handle, 1):
            if line.strip():
                yield EventMessage(line.rstrip(b"\r\n"), f"{path.name}:{line_no}", properties)


def ingest_message_files(
    pipeline: IngestPipeline, paths: Iterable[Path], source: str | None
) -> list[IngestReport]:
    reports: list[IngestReport] = []
    for path in paths:
        messages = list(read_messages(path, source))
        for start in range(0, len(messages), MESSAGE_BATCH):
            reports.extend(pipeline.ingest_messages(messages[start : start + MESSAGE_BATCH]))
    return reports


def _expand(paths: list[Path], source: str | None) -> Iterator[tuple[str, str, Path]]:
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                raise InsightloopError(f"no such file: {file}")
            yield (source or file.parent.name).lower(), file.name, file


# ----------------------------------------------------------------- output


def print_reports(title: str, reports: list[IngestReport]) -> None:
    """A table of counts per input, then every problem in full below it."""
    table = Table(title=title, title_justify="left")
    table.add_column("source")
    table.add_column("input", overflow="fold")
    for column in ("in", "landed", "duplicates", "quarantined"):
        table.add_column(column, justify="right")
    table.add_column("notes")
    problems: list[str] = []
    for report in reports:
        name = report.input_name.split("/", 1)[-1]
        notes = []
        if report.duplicate_input:
            notes.append("replay skipped")
        if report.file_errors:
            notes.append("[red]file error[/red]")
            problems.extend(f"{report.input_name}: {error}" for error in report.file_errors)
        if report.quarantine_reasons:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(report.quarantine_reasons.items()))
            problems.append(f"{report.input_name}: quarantined rows: {reasons}")
        if report.raced_duplicates:
            notes.append(f"raced {report.raced_duplicates}")
        if report.quarantine_reasons.get("quality_gate"):
            notes.append("[red]gate failed[/red]")
        problems.extend(
            f"{report.input_name}: {warning}"
            for warning in report.warnings
            if not report.duplicate_input and not warning.startswith("input copied")
        )
        table.add_row(
            report.source,
            name,
            f"{report.records_in:,}",
            f"{report.landed:,}",
            f"{report.duplicates:,}",
            f"{report.quarantined:,}",
            ", ".join(notes),
        )
    totals = _totals(reports)
    table.add_section()
    table.add_row(
        "[bold]total",
        f"{len(reports)} input(s)",
        *(f"[bold]{totals[key]:,}" for key in ("in", "landed", "duplicates", "quarantined")),
        "",
    )
    console.print(table)
    for problem in problems:
        console.print(f"  - {problem}", soft_wrap=True, highlight=False)
    classified, in_review = sum(r.classified for r in reports), sum(r.in_review for r in reports)
    if classified or in_review:
        calls = sum(r.model_calls for r in reports)
        console.print(
            f"  classified {classified:,}, queued for review {in_review:,}"
            + (f" ({calls:,} model calls)" if calls else ""),
            highlight=False,
        )
    languages, entities = _enrichment_totals(reports)
    if languages:
        shown = ", ".join(f"{code} {n:,}" for code, n in languages.most_common())
        console.print(f"  languages of landed records: {shown}", highlight=False)
    if entities:
        shown = ", ".join(f"{kind} {n:,}" for kind, n in entities.most_common())
        console.print(f"  PII masked before landing: {shown}", highlight=False)
    balanced = totals["in"] == totals["landed"] + totals["duplicates"] + totals["quarantined"]
    mark = "[green]reconciled[/green]" if balanced else "[red]NOT reconciled[/red]"
    console.print(
        f"  in {totals['in']:,} = landed {totals['landed']:,} + duplicates "
        f"{totals['duplicates']:,} + quarantined {totals['quarantined']:,}: {mark}\n",
        highlight=False,
    )


def _totals(reports: list[IngestReport]) -> dict[str, int]:
    return {
        "in": sum(r.records_in for r in reports),
        "landed": sum(r.landed for r in reports),
        "duplicates": sum(r.duplicates for r in reports),
        "quarantined": sum(r.quarantined for r in reports),
    }


def _enrichment_totals(reports: list[IngestReport]) -> tuple[Counter[str], Counter[str]]:
    languages: Counter[str] = Counter()
    entities: Counter[str] = Counter()
    for report in reports:
        languages.update(report.languages)
        entities.update(report.masked_entities)
    return languages, entities


def _exit_code(reports: list[IngestReport], strict: bool) -> int:
    if not all(r.reconciled for r in reports):
        return 3
    if strict and any(r.quarantined or r.file_errors for r in reports):
        return 1
    return 0


# --------------------------------------------------------------- commands


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    pipeline = IngestPipeline.from_settings(settings)
    reports = ingest_files(pipeline, _expand(args.paths, args.source))
    print_reports("ingest", reports)
    return _exit_code(reports, args.strict)


def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    pipeline = IngestPipeline.from_settings(settings)
    reports = ingest_message_files(pipeline, args.files, args.source)
    print_reports("events", reports)
    return _exit_code(reports, args.strict)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    root: Path = args.root
    if root.exists() and not args.keep:
        shutil.rmtree(root)
    settings = settings.model_copy(update={"storage_backend": "local", "local_storage_root": root})
    storage = LocalStorage(root)
    pipeline = IngestPipeline(storage, settings)
    inbox = SAMPLES_DIR / "inbox"
    dropped = 0
    for file in sorted(p for p in inbox.rglob("*") if p.is_file()):
        with open(file, "rb") as handle:
            storage.upload_stream(
                settings.inbox_container, file.relative_to(inbox).as_posix(), handle
            )
        dropped += 1
    event_files = sorted((SAMPLES_DIR / "events").glob("*.jsonl"))
    console.print(
        f"[bold]insightloop demo[/bold]: {dropped} sample export(s) dropped into "
        f"{storage.describe(settings.inbox_container, '')}, "
        f"{len(event_files)} file(s) of Service Bus messages\n"
    )
    first = ingest_stored_inbox(pipeline, storage)
    first += ingest_message_files(pipeline, event_files, None)
    print_reports("1. first delivery", first)

    replay = ingest_stored_inbox(pipeline, storage)
    replay += ingest_message_files(pipeline, event_files, None)
    print_reports("2. replay of every file and message (must land nothing)", replay)

    landed_rows = sum(
        len(storage.read(settings.landing_container, path)[0].splitlines())  # type: ignore[index]
        for path in storage.list(settings.landing_container, "feedback/")
    )
    landing = settings.landing_container
    console.print(
        f"Landed for Auto Loader: {landed_rows:,} rows in {storage.describe(landing, 'feedback')}\n"
        f"Ingest reports:         {storage.describe(landing, 'ingest_reports')}\n"
        f"Quarantine (reasons):   {storage.describe(settings.quarantine_container, '')}"
    )
    replay_landed = sum(r.landed for r in replay)
    if replay_landed:
        console.print(f"[red]replay landed {replay_landed} rows: idempotency is broken[/red]")
        return 3
    code = _exit_code(first + replay, strict=False)
    if args.no_gold:
        return code
    # Tickets go to the outbox here, whatever sinks the environment configures.
    outbox_only = settings.model_copy(
        update={"jira_base_url": None, "servicenow_instance_url": None, "slack_bot_token": None}
    )
    return code or _demo_gold_and_routing(root, outbox_only, storage)


def _demo_gold_and_routing(root: Path, settings: Settings, storage: LocalStorage) -> int:
    """Gold as of the routing day -> routing -> the owners act -> Gold over everything ->
    outcomes -> report. Gold runs twice: routing needs insights as they stood on the
    routing day, and the owners' callbacks need routed insight keys; the second run
    measures what followed (the first skips the emerging-themes task)."""
    if not java_available():
        console.print(
            "[red]Spark needs a Java 17 runtime and none was found (java on PATH or "
            "JAVA_HOME)[/red]: install it, or run `insightloop demo --no-gold`"
        )
        return 4
    timeline = load_timeline(SAMPLES_DIR)
    routed_at = timeline.routed_at
    console.print(
        f"\n[bold]3. Gold as of {timeline.first_gold_as_of}[/bold]: the Databricks pipeline "
        "(databricks/) on local Spark over the landing folder, then its export task",
        soft_wrap=True,
    )
    first = _demo_gold(settings, storage, root, timeline, routing_day=True)
    if first is None:
        return 4
    console.print(
        f"{first.insights} insight(s) in the window to {timeline.first_gold_as_of} "
        f"({first.seconds:.0f} s)",
        highlight=False,
    )
    console.print(
        f"\n[bold]4. Routing on {routed_at:%Y-%m-%d %H:%M} UTC[/bold] (prompts/routing.yaml; "
        "no sink configured: outbox)",
        soft_wrap=True,
    )
    router = Router.from_settings(settings, storage, environ={}, clock=lambda: routed_at)
    report = router.route_bytes(first.export, first.export_path)
    if report.rejected:
        console.print(f"[red]export rejected:[/red] {report.rejected}", highlight=False)
        return 5
    console.print(
        f"{report.insights} insight(s): {report.created} ticket(s)/message(s) created, "
        f"{report.in_review} queued for review, {report.pending + report.failed} pending\n"
        f"Outbox (what Jira, ServiceNow, Slack and Teams would get): "
        f"{storage.describe(settings.outbox_container, '')}",
        highlight=False,
        soft_wrap=True,
    )
    _demo_owners(settings, storage, timeline)
    console.print(
        "\n[bold]6. Gold over everything[/bold] (as of the last day with feedback): "
        "gold_outcomes measures each routed insight before and after its fix",
        soft_wrap=True,
    )
    gold = _demo_gold(settings, storage, root, timeline, routing_day=False)
    if gold is None:
        return 4
    print_top_gold(gold)
    console.print(
        f"Gold tables:            {gold.warehouse} ({gold.seconds:.0f} s)\n"
        f"Insight export:         {storage.describe(settings.exports_container, gold.export_path)}",
        highlight=False,
        soft_wrap=True,  # paths stay on one line, to copy
    )
    from shared.report import render_report  # matplotlib and DuckDB load only here

    summary = demo_summary(gold.warehouse, timeline)
    print_demo_summary(console, summary)
    report_file = render_report(
        gold.warehouse, root / "report.html", release_date=timeline.release.date
    )
    empty = ", ".join(report_file.empty_datasets) or "none"
    console.print(
        f"\n[bold]8. Report[/bold]: {report_file.views} role views, {report_file.charts} charts, "
        f"{report_file.datasets} datasets (empty: {empty}), release marker "
        f"{report_file.release_date} (open it in a browser): {report_file.path}",
        highlight=False,
        soft_wrap=True,
    )
    demo_ask(gold.warehouse, settings, console, step=9)
    return 0


def _demo_gold(
    settings: Settings,
    storage: LocalStorage,
    root: Path,
    timeline: DemoTimeline,
    *,
    routing_day: bool,
) -> LocalGoldRun | None:
    """Gold as of the routing day (only what the export needs), or over everything."""
    config = timeline.gold_config()
    if routing_day:
        config["insightloop.as_of"] = timeline.first_gold_as_of.isoformat()
    try:
        return run_local_gold(
            settings,
            storage,
            root / "gold",
            run_id=f"demo-{timeline.first_gold_as_of}" if routing_day else "demo",
            config=config,
            emerging=not routing_day,
            refresh=EXPORT_DATASETS if routing_day else (),
        )
    except LocalGoldError as exc:
        console.print(f"[red]Gold failed:[/red] {exc}", highlight=False)
        return None


def _demo_owners(settings: Settings, storage: LocalStorage, timeline: DemoTimeline) -> None:
    """The owners' side, through the real callback service with signed requests."""
    console.print(
        "\n[bold]5. The owners act[/bold] (signed Jira webhooks, Slack actions and a review, "
        "through the callback service the Functions routes call)",
        soft_wrap=True,
    )
    signed = with_demo_secrets(settings)
    played = OwnerDesk(storage, signed).play(timeline.owners, routed_insights(storage, signed))
    for step in played:
        action = step.action
        about = action.insight or f"record {step.target[:8]} ({action.language})"
        extra = f" -> {action.new_owner}" if action.new_owner else ""
        extra += f" ({action.note})" if action.note and action.via == "jira" else ""
        console.print(
            f"  {action.at:%Y-%m-%d %H:%M} {action.via} {action.action}{extra}: {about} "
            f"\\[{step.outcome.status}]",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"Routing events (for gold_outcomes): "
        f"{storage.describe(settings.landing_container, 'routing_events')}",
        highlight=False,
        soft_wrap=True,
    )


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
        record_batch_poll(
            result, model=backfill.model, prompt_version=backfill.classifier.prompt.label
        )
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
