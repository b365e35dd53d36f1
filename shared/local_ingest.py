"""Local ingestion for the CLI and the demo: feed files and messages to the pipeline, print
what happened to every record (the same pipeline the Functions run)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

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

from shared.errors import InsightloopError
from shared.ingest.inbox import split_inbox_path
from shared.models import IngestReport
from shared.pipeline import EventMessage, IngestPipeline
from shared.storage import ObjectStorage

MESSAGE_BATCH = 50  # matches host.json serviceBus.maxMessageBatchSize

console = Console()


def progress_bar() -> Progress:
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
    with progress_bar() as progress:
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
    with progress_bar() as progress:
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


def expand_inputs(paths: list[Path], source: str | None) -> Iterator[tuple[str, str, Path]]:
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


def exit_code(reports: list[IngestReport], strict: bool) -> int:
    if not all(r.reconciled for r in reports):
        return 3
    if strict and any(r.quarantined or r.file_errors for r in reports):
        return 1
    return 0


# --------------------------------------------------------------- commands
