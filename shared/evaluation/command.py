"""The ``insightloop eval`` command: arguments, runs, files written, exit code."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from shared.errors import ConfigError
from shared.evaluation.datasets import list_datasets, load_dataset
from shared.evaluation.harness import (
    BASELINES_DIR,
    CandidateSpec,
    Evaluation,
    baseline_diff,
    baseline_payload,
    check_baseline,
    compare,
)
from shared.evaluation.metrics import HEADLINE_METRICS, REVIEW_RATE_METRIC, metric
from shared.settings import Settings

console = Console()
GATED_RUN = "local"
DEFAULT_TOLERANCE = 0.02


def add_eval_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "eval",
        help="score classifiers on labelled datasets (with a TF-IDF baseline beside them)",
        description=(
            "Run the production path (mask, classify, guardrails) over a dataset's test "
            "split and score it: per-theme precision/recall/F1, sentiment, polarity, "
            "urgency, routing, evidence validity, review rate, tokens and cost. A TF-IDF + "
            "logistic-regression baseline trained on the train split is scored beside it. "
            f"Datasets: {', '.join(list_datasets())} (eval/datasets/*.yaml)."
        ),
    )
    parser.add_argument("datasets", nargs="+", metavar="DATASET", help="name or spec path")
    parser.add_argument(
        "--data-dir", type=Path, help="folder holding datasets not kept in the repository"
    )
    parser.add_argument(
        "--candidate",
        action="append",
        metavar="PROVIDER[:VERSION]",
        help="local, openai_compatible or azure_openai, optionally with a prompt version "
        "(repeatable; default: local)",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="run A and B side by side; exit 1 when B regresses beyond --tolerance",
    )
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    parser.add_argument(
        "--gate",
        action="store_true",
        help=f"exit 1 when `{GATED_RUN}` drops below eval/baselines/<dataset>.json",
    )
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help=f"rewrite eval/baselines/<dataset>.json from this `{GATED_RUN}` run; prints the diff",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(".insightloop/eval"), help="reports folder"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(".insightloop/eval-cache"),
        help="masked texts and model answers from earlier runs",
    )
    parser.set_defaults(handler=cmd_eval)


def _candidates(args: argparse.Namespace) -> list[CandidateSpec]:
    names = list(args.compare or []) + list(args.candidate or [])
    specs = [CandidateSpec.parse(name) for name in names or [GATED_RUN]]
    if (args.gate or args.update_baseline) and all(s.name != GATED_RUN for s in specs):
        specs.insert(0, CandidateSpec(GATED_RUN))
    unique: dict[str, CandidateSpec] = {spec.name: spec for spec in specs}
    return list(unique.values())


def _write(out: Path, stem: str, payload: dict[str, Any], markdown: str, html: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    (out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    (out / f"{stem}.html").write_text(html, encoding="utf-8")


def _summary(report: dict[str, Any]) -> Table:
    dataset = report["dataset"]
    table = Table(title=f"{dataset['name']} ({dataset['split']}, {dataset['records']:,} records)")
    table.add_column("metric")
    for run in report["runs"]:
        table.add_column(run["name"], justify="right")
    for dotted, label in (*HEADLINE_METRICS, REVIEW_RATE_METRIC):
        values = [metric(run["metrics"], dotted) for run in report["runs"]]
        if any(v is not None for v in values):
            table.add_row(label, *("—" if v is None else f"{v:.3f}" for v in values))
    table.add_row(
        "records/s", *(f"{run['stats']['records_per_s'] or 0:,.0f}" for run in report["runs"])
    )
    return table


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from shared.evaluation.report import (
        render_compare_html,
        render_compare_markdown,
        render_html,
        render_markdown,
    )

    command = "insightloop " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "insightloop eval"
    specs = _candidates(args)
    failed = False
    for name in args.datasets:
        dataset = load_dataset(name, args.data_dir)
        evaluation = Evaluation(dataset, settings, args.cache_dir)
        runs = [evaluation.run(spec) for spec in specs]
        if not args.no_baseline and (baseline := evaluation.run_baseline()) is not None:
            runs.append(baseline)
        report = evaluation.report(runs, command)
        _write(args.out, dataset.name, report, render_markdown(report), render_html(report))
        console.print(_summary(report))
        console.print(f"report: {args.out / dataset.name}.{{md,html,json}}", highlight=False)
        if args.compare:
            by_name = {run["name"]: run for run in report["runs"]}
            a, b = (by_name[CandidateSpec.parse(n).name] for n in args.compare)
            comparison = compare(a, b, dataset=dataset.name, tolerance=args.tolerance)
            stem = f"{dataset.name}-compare"
            _write(
                args.out,
                stem,
                comparison,
                render_compare_markdown(comparison),
                render_compare_html(comparison),
            )
            console.print(render_compare_markdown(comparison), highlight=False, markup=False)
            failed |= comparison["regressed"]
        failed |= _baseline_gate(args, report, dataset.name)
    return 1 if failed else 0


def _baseline_gate(args: argparse.Namespace, report: dict[str, Any], name: str) -> bool:
    path = BASELINES_DIR / f"{name}.json"
    committed = orjson.loads(path.read_bytes()) if path.is_file() else None
    if args.update_baseline:
        tolerance = committed["tolerance"] if committed else args.tolerance
        new = baseline_payload(report, GATED_RUN, tolerance)
        lines = baseline_diff(committed, new)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            orjson.dumps(new, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
        console.print(
            f"baseline {path}: " + ("unchanged" if not lines else "changed"), highlight=False
        )
        for line in lines:
            console.print(f"  {line}", highlight=False)
        return False
    if not args.gate:
        return False
    if committed is None:
        raise ConfigError(f"no committed baseline {path}: create it with --update-baseline")
    problems = check_baseline(report, committed)
    for problem in problems:
        console.print(f"[red]gate:[/red] {name}: {problem}", highlight=False)
    if not problems:
        console.print(f"gate: {name}: `{GATED_RUN}` holds its baseline", highlight=False)
    return bool(problems)


__all__ = ["add_eval_parser", "cmd_eval"]
