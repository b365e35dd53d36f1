"""Where the ask tools' SQL runs: DuckDB over the local Gold parquet, or a Databricks warehouse.

Both backends take a :class:`~shared.report.queries.Query` (one SQL file of this project,
never SQL text from a caller) and values for its declared parameters, which are bound as
parameters, never spliced into the text. Each returns at most ``max_rows`` rows and says
whether more were there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shared.errors import ConfigError, TransientError
from shared.gold.jobs import translate_error, workspace_client
from shared.report.queries import Query
from shared.report.tables import TABLE_COLUMNS
from shared.settings import Settings

if TYPE_CHECKING:
    from databricks.sdk.service.sql import StatementExecutionAPI

logger = logging.getLogger(__name__)

# The tables the ask tools read beyond the report's, with the columns they rely on.
ASK_TABLE_COLUMNS: dict[str, dict[str, str]] = {
    **TABLE_COLUMNS,
    "silver_record_themes": {**TABLE_COLUMNS["silver_record_themes"], "evidence": "VARCHAR"},
    "gold_alerts": {
        "alert_id": "VARCHAR",
        "dimension": "VARCHAR",
        "dimension_value": "VARCHAR",
        "theme": "VARCHAR",
        "metric": "VARCHAR",
        "period_start": "DATE",
        "period_end": "DATE",
        "baseline_start": "DATE",
        "baseline_end": "DATE",
        "current_value": "DOUBLE",
        "baseline_value": "DOUBLE",
        "z_score": "DOUBLE",
        "records": "BIGINT",
        "baseline_records": "BIGINT",
        "sensitivity": "DOUBLE",
    },
}


@dataclass(frozen=True, slots=True)
class Rows:
    """A query's rows as dicts (column order kept), and whether ``max_rows`` cut any off."""

    records: list[dict[str, Any]]
    truncated: bool


class GoldBackend(Protocol):
    def run(self, query: Query, parameters: Mapping[str, Any], max_rows: int) -> Rows: ...


def _bound(query: Query, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the query's declared parameters; a missing one is a programming error."""
    unset = [p.name for p in query.parameters if p.name not in parameters]
    if unset:
        raise ConfigError(f"query {query.file_name} needs {', '.join(unset)}")
    return {p.name: parameters[p.name] for p in query.parameters}


class DuckDbGold:
    """The local Gold tables (``<work>/spark-warehouse``) through the report's DuckDB views."""

    def __init__(self, warehouse: Path) -> None:
        from shared.report.queries import LocalWarehouse  # duckdb: a development dependency

        self.warehouse = LocalWarehouse(warehouse, ASK_TABLE_COLUMNS)

    def run(self, query: Query, parameters: Mapping[str, Any], max_rows: int) -> Rows:
        from shared.report.queries import _duckdb_sql

        # The cap is in the SQL (an int of ours, never caller text): DuckDB then plans a top-N,
        # where fetchmany over a streamed result was slower than fetching every row.
        sql = f"SELECT * FROM ({_duckdb_sql(query.sql)}) AS capped LIMIT {int(max_rows) + 1}"  # noqa: S608
        # One connection, one statement at a time: a cursor per call keeps threads apart.
        cursor = self.warehouse.connection.cursor()
        try:
            cursor.execute(sql, _bound(query, parameters) or None)
            columns = [column[0] for column in cursor.description or ()]
            rows = cursor.fetchall()
        finally:
            cursor.close()
        records = [dict(zip(columns, row, strict=True)) for row in rows[:max_rows]]
        return Rows(records, truncated=len(rows) > max_rows)

    def close(self) -> None:
        self.warehouse.close()


# Databricks SQL parameter types for the header's declared types.
_SQL_TYPES = {"DATE": "DATE", "STRING": "STRING", "INT": "INT"}


def _convert(value: str | None, type_name: str) -> Any:
    """A JSON_ARRAY cell (always a string or null) as the Python value DuckDB would give."""
    if value is None:
        return None
    if type_name in {"INT", "LONG", "SHORT", "BYTE"}:
        return int(value)
    if type_name in {"DOUBLE", "FLOAT", "DECIMAL"}:
        return float(value)
    if type_name == "BOOLEAN":
        return value.lower() == "true"
    if type_name == "DATE":
        return date.fromisoformat(value)
    if type_name == "TIMESTAMP":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


class DatabricksGold:
    """Gold in Unity Catalog through the SQL Statement Execution API (``/api/2.0/sql/statements``).

    Auth is the Gold job's (``workspace_client``: managed identity in Azure, a PAT locally).
    Results come inline as JSON arrays; ``row_limit`` makes the warehouse stop at the cap.
    """

    def __init__(
        self,
        statements: Callable[[], StatementExecutionAPI],
        *,
        warehouse_id: str,
        catalog: str | None = None,
        schema: str | None = None,
        wait_seconds: int = 30,
    ) -> None:
        self._statements_factory = statements
        self._statements: StatementExecutionAPI | None = None
        self.warehouse_id = warehouse_id
        self.catalog = catalog
        self.schema = schema
        self.wait_seconds = wait_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabricksGold:
        if not settings.databricks_warehouse_id:
            raise ConfigError(
                "INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID is not set: the ask tools need a SQL warehouse"
            )
        return cls(
            lambda: workspace_client(settings).statement_execution,
            warehouse_id=settings.databricks_warehouse_id,
            catalog=settings.databricks_catalog,
            schema=settings.databricks_schema,
            wait_seconds=settings.databricks_sql_wait_seconds,
        )

    @property
    def statements(self) -> StatementExecutionAPI:
        if self._statements is None:
            self._statements = self._statements_factory()
        return self._statements

    def run(self, query: Query, parameters: Mapping[str, Any], max_rows: int) -> Rows:
        from databricks.sdk.service.sql import (
            Disposition,
            ExecuteStatementRequestOnWaitTimeout,
            Format,
            StatementParameterListItem,
            StatementState,
        )

        types = {p.name: _SQL_TYPES[p.data_type] for p in query.parameters}
        bound = [
            StatementParameterListItem(
                name=name, type=types[name], value=None if value is None else str(value)
            )
            for name, value in _bound(query, parameters).items()
        ]
        try:
            response = self.statements.execute_statement(
                statement=query.sql,
                warehouse_id=self.warehouse_id,
                catalog=self.catalog,
                schema=self.schema,
                parameters=bound or None,
                row_limit=max_rows + 1,
                disposition=Disposition.INLINE,
                format=Format.JSON_ARRAY,
                wait_timeout=f"{self.wait_seconds}s",
                on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CANCEL,
            )
        except Exception as exc:
            raise translate_error(exc, f"run {query.file_name}", 0) from exc
        state = response.status.state if response.status else None
        if state != StatementState.SUCCEEDED:
            error = response.status.error if response.status else None
            message = error.message if error and error.message else "no error message"
            if state in {StatementState.CANCELED, StatementState.CLOSED}:
                raise TransientError(
                    f"{query.file_name}: the warehouse did not answer within "
                    f"{self.wait_seconds} s ({state.value})"
                )
            raise ConfigError(f"{query.file_name} failed on the warehouse: {message}")
        columns = response.manifest.schema.columns if response.manifest else None
        names = [
            (c.name or "", c.type_name.value if c.type_name else "STRING") for c in columns or ()
        ]
        cells = list(response.result.data_array or []) if response.result else []
        chunk = response.result.next_chunk_index if response.result else None
        while chunk is not None and len(cells) <= max_rows:
            part = self.statements.get_statement_result_chunk_n(response.statement_id, chunk)
            cells.extend(part.data_array or [])
            chunk = part.next_chunk_index
        records = [
            {name: _convert(cell, kind) for (name, kind), cell in zip(names, row, strict=True)}
            for row in cells[:max_rows]
        ]
        return Rows(records, truncated=len(cells) > max_rows)


def backend_from_settings(settings: Settings) -> GoldBackend:
    """Databricks when a warehouse is configured, else the local Gold parquet tables."""
    if settings.databricks_warehouse_id:
        return DatabricksGold.from_settings(settings)
    return DuckDbGold(local_gold_warehouse(settings))


def local_gold_warehouse(settings: Settings) -> Path:
    """Where ``insightloop gold`` (and the demo) left the parquet tables."""
    if settings.gold_warehouse is not None:
        return Path(settings.gold_warehouse)
    return Path(settings.local_storage_root) / "gold" / "spark-warehouse"


__all__ = [
    "ASK_TABLE_COLUMNS",
    "DatabricksGold",
    "DuckDbGold",
    "GoldBackend",
    "Rows",
    "backend_from_settings",
    "local_gold_warehouse",
]
