"""``insightloop demo``: the whole loop on the samples, inbox to outcomes, with no cloud."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from rich.console import Console

from shared.act.routing import Router
from shared.ask.commands import demo_ask
from shared.demo import DemoTimeline, OwnerDesk, load_timeline, routed_insights, with_demo_secrets
from shared.demo_summary import demo_summary, print_demo_summary
from shared.gold.local import (
    EXPORT_DATASETS,
    LocalGoldError,
    LocalGoldRun,
    java_available,
    print_top_gold,
    run_local_gold,
)
from shared.local_ingest import exit_code, ingest_message_files, ingest_stored_inbox, print_reports
from shared.pipeline import IngestPipeline
from shared.settings import PROJECT_ROOT, Settings
from shared.storage import LocalStorage

SAMPLES_DIR = PROJECT_ROOT / "samples"

console = Console()


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
    code = exit_code(first + replay, strict=False)
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
