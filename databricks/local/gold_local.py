"""Run the Gold pipeline on this machine: OSS Spark, ``spark-pipelines run``, parquet.

The embedded default of the Databricks job: the same transformation files run by
``spark-pipelines`` (Spark Declarative Pipelines, local[*], Java 17) with the JSON file
source instead of Auto Loader and parquet tables instead of Delta, then the
emerging-themes task. A work directory holds the Hive metastore (Derby), the streaming
checkpoints, the tables and each step's log; every run recomputes from the landing::

    python databricks/local/gold_local.py --landing .insightloop/demo/landing \\
        --work .insightloop/demo/gold --small-input
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import pyarrow.parquet as pq
import yaml

BUNDLE = Path(__file__).resolve().parents[1]
SOURCES = BUNDLE / "src"
TRANSFORMATIONS = SOURCES / "insightloop_gold" / "transformations"
SPEC_TEMPLATE = Path(__file__).with_name("spark-pipeline.yml")
EMERGING_TASK = SOURCES / "insightloop_gold" / "emerging_themes.py"
WAREHOUSE = "spark-warehouse"
CONNECT_SERVER = Path(__file__).with_name("connect_server.py")
# Static Spark settings (they cannot go in the spec's configuration, which is applied
# per flow): loopback only, no UI, a Derby metastore so tables survive between runs.
SPARK_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.connect.grpc.binding.address": "127.0.0.1",
    "spark.sql.catalogImplementation": "hive",
    "spark.driver.memory": "4g",
}
# For inputs of a few thousand rows (tests, the demo), about a third less CPU: a JVM that
# compiles less (C1 only) and plans without whole-stage codegen, AQE or shuffle fan-out.
# Big inputs (bench/gold_bench.py) keep Spark's defaults.
SMALL_INPUT_JVM = {
    "spark.driver.extraJavaOptions": (
        "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=256m"
    ),
}
SMALL_INPUT_SQL = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
}


class LocalRunError(RuntimeError):
    """A local run failed or timed out; ``log`` holds the full output."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        details = f"\n{_tail(log)}\nfull log: {log}" if log is not None else ""
        super().__init__(message + details)
        self.log = log


def java_available() -> bool:
    """True when a Java runtime is on PATH or under JAVA_HOME (Spark needs 17+)."""
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


def run_local(
    landing_root: Path,
    work_dir: Path,
    *,
    config: Mapping[str, str] | None = None,
    small_input: bool = False,
    timeout_s: float = 900.0,
    emerging: bool = True,
    refresh: Sequence[str] = (),
) -> dict[str, Path]:
    """Run the pipeline, then the emerging-themes task (unless ``emerging`` is off), over
    ``landing_root``.

    ``config`` overrides pipeline configuration keys (``insightloop.as_of``, ...);
    ``small_input`` tunes Spark for a few thousand rows (:data:`SMALL_INPUT_SQL`);
    ``refresh`` names the only datasets to compute (with their upstream), all by default.
    Returns each table's parquet folder by name. Output goes to ``work_dir/*.log``;
    a step that fails or outlives ``timeout_s`` raises :class:`LocalRunError`.
    """
    if not java_available():
        raise LocalRunError("no Java runtime found: install Java 17 or set JAVA_HOME")
    work_dir = work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / WAREHOUSE
    sql_tuning = SMALL_INPUT_SQL if small_input else {}
    spec = _write_spec(landing_root.resolve(), work_dir, {**sql_tuning, **(config or {})})
    # Static settings also reach the emerging-themes task, which reads no spec.
    env = _spark_env(work_dir, warehouse, {**SMALL_INPUT_JVM, **sql_tuning} if small_input else {})
    deadline = time.monotonic() + timeout_s
    _forget_previous_run(work_dir)
    with _connect_server(work_dir, env, deadline) as remote:
        pipelines = [str(Path(sys.executable).parent / "spark-pipelines"), "--remote", remote]
        selection = ["--refresh", ",".join(refresh)] if refresh else []
        _run(
            [*pipelines, "run", "--spec", str(spec), *selection],
            work_dir,
            env,
            deadline,
            "pipeline",
        )
    if emerging:
        _run(
            [sys.executable, str(EMERGING_TASK), "--parquet-warehouse", str(warehouse)],
            work_dir,
            env,
            deadline,
            "emerging_themes",
        )
    return tables(warehouse)


def _forget_previous_run(work_dir: Path) -> None:
    """Start from the landing folder again: drop an earlier run's tables, checkpoints and
    metastore (logs and conf stay). OSS Spark's pipeline runner resolves a dataset that
    already exists in the metastore as an outside table when the graph is built, so on an
    incremental rerun several Silver and Gold flows started before their inputs were
    refreshed and came out empty (seen with pyspark 4.2.1). Databricks keeps its
    tables and runs incrementally; locally the materialized views, most of the work,
    recompute in full on every run anyway."""
    for state in (WAREHOUSE, "storage", "metastore_db"):
        shutil.rmtree(work_dir / state, ignore_errors=True)


def tables(warehouse: Path) -> dict[str, Path]:
    """The parquet folder of every table in a local warehouse, by table name."""
    if not warehouse.is_dir():
        return {}
    return {
        path.name: path
        for path in sorted(warehouse.iterdir())
        if path.is_dir() and not path.name.startswith(("_", "."))
    }


def _write_spec(landing_root: Path, work_dir: Path, config: Mapping[str, str]) -> Path:
    """The template spec with this run's absolute paths and ``config`` merged in."""
    spec = yaml.safe_load(SPEC_TEMPLATE.read_text())
    spec["storage"] = (work_dir / "storage").as_uri()
    # Library globs are relative to the spec's folder (spark-pipelines rejects absolute ones).
    transformations = Path(os.path.relpath(TRANSFORMATIONS, work_dir))
    spec["libraries"] = [{"glob": {"include": f"{transformations.as_posix()}/**"}}]
    spec["configuration"] = {
        **spec["configuration"],
        "insightloop.landing_path": landing_root.as_uri(),
        **config,
    }
    path = work_dir / "spark-pipeline.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _spark_env(work_dir: Path, warehouse: Path, tuning: Mapping[str, str]) -> dict[str, str]:
    """Environment of both steps; static settings go to a spark-defaults.conf of our own."""
    conf_dir = work_dir / "conf"
    conf_dir.mkdir(exist_ok=True)
    defaults = {
        **SPARK_DEFAULTS,
        **tuning,
        "spark.sql.warehouse.dir": warehouse.as_uri(),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={work_dir / 'metastore_db'};create=true"
        ),
    }
    (conf_dir / "spark-defaults.conf").write_text(
        "".join(f"{key} {value}\n" for key, value in defaults.items())
    )
    python_path = [str(SOURCES), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "SPARK_CONF_DIR": str(conf_dir),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(python_path),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


@contextlib.contextmanager
def _connect_server(work_dir: Path, env: Mapping[str, str], deadline: float) -> Iterator[str]:
    """A Spark Connect server of this run's own, on a port the OS picks (see
    connect_server.py); yields its ``sc://`` URL and stops it, by process group, after."""
    port_file = work_dir / "connect.port"
    port_file.unlink(missing_ok=True)
    log = work_dir / "connect.log"
    command = [sys.executable, str(CONNECT_SERVER), "--port-file", str(port_file)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            cwd=work_dir,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not port_file.exists():
            if server.poll() is not None:
                code = server.returncode
                raise LocalRunError(f"the Spark Connect server exited with {code}", log)
            if time.monotonic() > deadline:
                raise LocalRunError("the Spark Connect server did not start in time", log)
            time.sleep(0.2)
        yield f"sc://127.0.0.1:{int(port_file.read_text())}"
    finally:
        with contextlib.suppress(OSError):
            server.stdin.close()  # type: ignore[union-attr]  # EOF: the server stops itself
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15.0)
        _stop_group(server)


def _run(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], deadline: float, step: str
) -> None:
    """Run one step in its own process group, output to ``<step>.log``; on timeout stop
    the whole group (the JVM and its Python workers), never leave it running."""
    log = cwd / f"{step}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise LocalRunError(f"{step} timed out and was stopped", log) from None
        finally:
            _stop_group(process)
    if code != 0:
        raise LocalRunError(f"{step} failed with exit code {code}", log)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the step's process group, then SIGKILL whatever outlives a grace period."""
    for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return  # nothing left in the group
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)


def _tail(log: Path, lines: int = 30) -> str:
    """The last lines of a log, without JVM stack frames."""
    if not log.is_file():
        return ""
    text = log.read_text(errors="replace").splitlines()
    kept = [line for line in text if not line.lstrip().startswith("at ")]
    return "\n".join(kept[-lines:])


# ----------------------------------------------------------------------- demo output


def print_top_gold(found: Mapping[str, Path], *, limit: int = 5, out: TextIO | None = None) -> None:
    """A short report of the Gold tables for the demo: insights, alerts, ticket drivers,
    emerging themes and the expectations that have failing rows."""
    say = functools.partial(print, file=out or sys.stdout)  # looked up now: may be redirected

    def rows(name: str, sort_by: str, descending: bool = False) -> list[dict]:
        if name not in found:
            return []
        order = "descending" if descending else "ascending"
        return pq.read_table(found[name]).sort_by([(sort_by, order)]).to_pylist()

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    insights = rows("gold_insights", "rank")
    say(f"Top insights ({len(insights)} candidates)")
    for row in insights[:limit]:
        say(
            f"  {row['rank']:>2}. {row['theme']} | {row['product']} | {row['segment']}: "
            f"{row['volume']} records, velocity {pct(row['velocity'])}, "
            f"negative {pct(row['negative_share'])}, owner {row['suggested_owner'] or '-'}"
        )
        for quote in row["evidence"][:1]:
            say(f'      "{quote["quote"]}" ({quote["record_id"][:8]})')
    alerts = rows("gold_alerts", "z_score", descending=True)
    say(f"Alerts ({len(alerts)})")
    for row in alerts[:limit]:
        say(
            f"  {row['metric']} of {row['theme']} @ {row['dimension']}={row['dimension_value']}:"
            f" {row['current_value']:.2f} vs {row['baseline_value'] or 0:.2f}"
            f" (z {row['z_score']:.1f})"
        )
    say("Ticket drivers")
    for row in rows("gold_ticket_drivers", "rank")[:limit]:
        say(
            f"  {row['rank']:>2}. {row['theme']}: {row['tickets']} tickets"
            f" ({row['trend_delta']:+d} vs the previous window),"
            f" {pct(row['share_of_tickets'])} of all"
        )
    emerging = rows("gold_emerging_themes", "records", descending=True)
    say(f"Emerging themes ({len(emerging)} clusters)")
    for row in emerging[:limit]:
        terms = ", ".join(row["top_terms"])
        say(f"  {terms}: {row['records']} records, growth {pct(row['growth'])}")
    failed = [row for row in rows("silver_expectations", "dataset") if row["failed_rows"]]
    say(f"Expectations with failing rows ({len(failed)})")
    for row in failed:
        rule, count = f"{row['dataset']}.{row['expectation']}", row["failed_rows"]
        say(f"  {rule}: {count} of {row['rows_checked']} rows")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True, help="landing root folder")
    parser.add_argument("--work", type=Path, required=True, help="work dir (tables, checkpoints)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="pipeline configuration, e.g. insightloop.alerts.sensitivity=2.5",
    )
    parser.add_argument(
        "--small-input", action="store_true", help="tune Spark for a few thousand rows (demo)"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if bad := [item for item in args.set if "=" not in item]:
        parser.error(f"--set takes KEY=VALUE, not {bad[0]!r}")
    config = dict(item.split("=", 1) for item in args.set)
    started = time.monotonic()
    try:
        found = run_local(
            args.landing,
            args.work,
            config=config,
            small_input=args.small_input,
            timeout_s=args.timeout,
        )
    except LocalRunError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Gold tables in {args.work / WAREHOUSE} ({time.monotonic() - started:.0f} s)")
    print_top_gold(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
