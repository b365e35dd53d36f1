"""Gold on this machine: the Databricks bundle's pipeline on OSS Spark, then its export.

The embedded default of the Gold job for the demo and ``insightloop gold``: the same
transformation files the Lakeflow pipeline runs (``databricks/local/gold_local.py``)
over the local landing folder, then the job's export task, which writes
``exports/insights/<run_id>.json`` for routing exactly as Databricks would. The bundle
is not a package of the function app, so its modules load by path, on first use
(pyspark and pyarrow are development dependencies, never imported by the functions).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from shared.errors import ConfigError, InsightloopError
from shared.settings import PROJECT_ROOT, Settings
from shared.storage import ObjectStorage

logger = logging.getLogger(__name__)

BUNDLE = PROJECT_ROOT / "databricks"
LOCAL_RUNNER = BUNDLE / "local" / "gold_local.py"
EXPORT_TASK = BUNDLE / "src" / "insightloop_gold" / "export_insights.py"
WAREHOUSE = "spark-warehouse"
# gold_insights and what it reads: enough for the insight export (and so for routing).
EXPORT_DATASETS = (
    "bronze_feedback",
    "bronze_classified",
    "bronze_review",
    "silver_feedback",
    "silver_classifications",
    "silver_record_themes",
    "gold_insights",
)


class LocalGoldError(InsightloopError):
    """The local Spark run failed; the message ends with the tail of its log."""


@dataclass(frozen=True, slots=True)
class LocalGoldRun:
    """What one local Gold run produced."""

    run_id: str
    tables: Mapping[str, Path]
    export_path: str
    export: bytes
    insights: int
    seconds: float

    @property
    def warehouse(self) -> Path:
        return next(iter(self.tables.values())).parent


@functools.cache
def bundle_module(name: str, path: Path) -> ModuleType:
    """A module of the Databricks bundle, imported by path once per process."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing: the Databricks bundle is not in this checkout")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def java_available() -> bool:
    return bool(bundle_module("gold_local", LOCAL_RUNNER).java_available())


def run_local_gold(
    settings: Settings,
    storage: ObjectStorage,
    work_dir: Path,
    *,
    run_id: str | None = None,
    config: Mapping[str, str] | None = None,
    small_input: bool = True,
    timeout_s: float = 900.0,
    emerging: bool = True,
    refresh: Sequence[str] = (),
) -> LocalGoldRun:
    """Run the pipeline over ``<local root>/<landing container>`` into ``work_dir``, then
    export ``gold_insights`` to ``<exports container>/insights/<run_id>.json``.
    ``emerging`` off skips the emerging-themes task; ``refresh`` computes only those
    datasets (:data:`EXPORT_DATASETS`: what the export needs, for routing alone)."""
    if settings.local_storage_root is None:
        raise ConfigError("local Gold reads the local landing folder: set local_storage_root")
    runner = bundle_module("gold_local", LOCAL_RUNNER)
    exporter = bundle_module("export_insights", EXPORT_TASK)
    landing = Path(settings.local_storage_root) / settings.landing_container
    run_id = run_id or f"local-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    started = time.monotonic()
    try:
        tables = runner.run_local(
            landing,
            work_dir,
            config=config,
            small_input=small_input,
            timeout_s=timeout_s,
            emerging=emerging,
            refresh=refresh,
        )
    except runner.LocalRunError as exc:
        raise LocalGoldError(str(exc)) from exc
    import pyarrow.parquet as pq  # a development dependency, like pyspark

    rows = pq.read_table(tables["gold_insights"]).to_pylist()
    document = exporter.insights_document(rows, run_id=run_id, generated_at=datetime.now(UTC))
    export_path = f"insights/{run_id}.json"
    storage.write(settings.exports_container, export_path, document)
    seconds = time.monotonic() - started
    logger.info("local gold run %s: %d insights exported in %.0f s", run_id, len(rows), seconds)
    return LocalGoldRun(run_id, tables, export_path, document, len(rows), seconds)


def print_top_gold(run: LocalGoldRun, *, limit: int = 5) -> None:
    """The bundle's short report of the top Gold rows, on stdout."""
    bundle_module("gold_local", LOCAL_RUNNER).print_top_gold(run.tables, limit=limit)


__all__ = [
    "EXPORT_DATASETS",
    "LocalGoldError",
    "LocalGoldRun",
    "java_available",
    "print_top_gold",
    "run_local_gold",
]
