"""Dashboard datasets: one SQL file each, run locally by DuckDB over the parquet tables.

Each file under ``databricks/src/dashboards/queries/`` is the single definition of its
metrics: the Lakeview dashboard embeds it verbatim and the local report runs it. Files are
Databricks SQL in the subset both engines agree on. Their header says what they are::

    -- title: Queue impact by theme
    -- answers: Which themes fill the support queue ...?
    -- parameter: release_date DATE

Parameters are Databricks named markers (``:release_date``). DuckDB lacks three Databricks
functions the files use; :data:`DATABRICKS_FUNCTIONS` defines them as macros with the same
meaning, so no file needs a local variant.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.errors import ConfigError
from shared.report.tables import TABLE_COLUMNS
from shared.settings import PROJECT_ROOT

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)

QUERIES_DIR = PROJECT_ROOT / "databricks" / "src" / "dashboards" / "queries"
_HEADER = re.compile(r"^--\s*(title|answers|parameter):\s*(.+?)\s*$")
# A named marker (:name), not a cast (::) or a time inside a string ('10:30').
_MARKER = re.compile(r"(?<![\w:]):([A-Za-z_]\w*)")

# Databricks SQL functions DuckDB does not have, with Databricks' meaning.
DATABRICKS_FUNCTIONS = (
    # datediff(end, start): whole days; DuckDB only knows datediff(part, start, end).
    "CREATE MACRO datediff(end_date, start_date) AS "
    "CAST(end_date AS DATE) - CAST(start_date AS DATE)",
    # explode(array) in a select list: one row per element.
    "CREATE MACRO explode(items) AS unnest(items)",
    # try_element_at(array, position): 1-based, NULL past the end.
    "CREATE MACRO try_element_at(items, position) AS list_extract(items, position)",
)


class QueryParameter(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    data_type: Literal["DATE", "STRING", "INT"]  # dashboards use DATE; ask's tools all three


class Query(BaseModel):
    """One dashboard dataset: its SQL file, title, the question it answers, parameters."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    answers: str
    parameters: tuple[QueryParameter, ...] = ()
    sql: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.sql"


class QueryResult(BaseModel):
    """A dataset's rows, as plain Python values, in the query's column order."""

    model_config = ConfigDict(frozen=True)

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


def parse_query(name: str, sql: str) -> Query:
    """Read a dataset file's header; the SQL is kept whole, header comments included."""
    fields: dict[str, str] = {}
    parameters: list[QueryParameter] = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        match = _HEADER.match(line)
        if match is None:
            continue
        key, value = match.groups()
        if key == "parameter":
            parameter_name, _, data_type = value.partition(" ")
            parameters.append(QueryParameter(name=parameter_name, data_type=data_type.strip()))
        else:
            fields[key] = value
    missing = {"title", "answers"} - fields.keys()
    if missing:
        raise ConfigError(f"dashboard query {name}.sql: header lacks {', '.join(sorted(missing))}")
    used = set(_MARKER.findall(_without_comments(sql)))
    declared = {parameter.name for parameter in parameters}
    if used != declared:
        raise ConfigError(
            f"dashboard query {name}.sql: parameters used {sorted(used)} but declared "
            f"{sorted(declared)} (-- parameter: <name> DATE)"
        )
    return Query(
        name=name,
        title=fields["title"],
        answers=fields["answers"],
        parameters=tuple(parameters),
        sql=sql,
    )


def load_queries(directory: Path = QUERIES_DIR) -> dict[str, Query]:
    """Every dataset file in ``directory``, by name (the file's stem)."""
    if not directory.is_dir():
        raise ConfigError(f"no dashboard queries at {directory}")
    return {
        path.stem: parse_query(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.sql"))
    }


def _without_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def _duckdb_sql(sql: str) -> str:
    """Databricks named markers (:name) as DuckDB's ($name); comments cannot hold markers."""
    return _MARKER.sub(r"$\1", _without_comments(sql))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class LocalWarehouse:
    """The pipeline's parquet tables as DuckDB views, ready to run dashboard queries.

    In memory, no network: extension auto-install and auto-load are off, and only the
    table folders are read.
    """

    def __init__(self, warehouse: Path, tables: Mapping[str, Mapping[str, str]] = TABLE_COLUMNS):
        if not warehouse.is_dir():
            raise ConfigError(
                f"no Gold tables at {warehouse}: run databricks/local/gold_local.py first "
                "(see docs/gold.md)"
            )
        import duckdb  # a development dependency: the function app reads the files only

        self.warehouse = warehouse
        self.connection: duckdb.DuckDBPyConnection = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        self.connection.execute("SET TimeZone = 'UTC'")
        # Databricks sorts NULLs first ascending and last descending; DuckDB, last both ways.
        self.connection.execute("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
        for statement in DATABRICKS_FUNCTIONS:
            self.connection.execute(statement)
        self.empty_tables: list[str] = []
        for table, columns in tables.items():
            self._register(table, columns)

    def _register(self, table: str, columns: Mapping[str, str]) -> None:
        files = sorted((self.warehouse / table).glob("*.parquet"))
        if not files:
            self.empty_tables.append(table)
            typed = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns.items())
            self.connection.execute(f"CREATE VIEW {table} AS SELECT {typed} WHERE false")
            return
        source = (
            f"read_parquet([{', '.join(_literal(str(path)) for path in files)}], "
            "union_by_name = true)"
        )
        # Table and column names are this module's constants; file paths are quoted literals.
        described = self.connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()  # noqa: S608
        present = {row[0] for row in described}
        missing = [name for name in columns if name not in present]
        if missing:
            logger.warning(
                "table %s has no column(s) %s: they read as NULL", table, ", ".join(missing)
            )
        filled = "".join(f", CAST(NULL AS {columns[name]}) AS {name}" for name in missing)
        self.connection.execute(f"CREATE VIEW {table} AS SELECT *{filled} FROM {source}")  # noqa: S608

    def run(self, query: Query, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        values = dict(parameters or {})
        unset = [p.name for p in query.parameters if p.name not in values]
        if unset:
            raise ConfigError(f"dashboard query {query.file_name} needs {', '.join(unset)}")
        bound = {p.name: values[p.name] for p in query.parameters}
        cursor = self.connection.execute(_duckdb_sql(query.sql), bound or None)
        columns = tuple(column[0] for column in cursor.description or ())
        return QueryResult(name=query.name, columns=columns, rows=tuple(cursor.fetchall()))

    def run_all(
        self, queries: Sequence[Query], parameters: Mapping[str, date] | None = None
    ) -> dict[str, QueryResult]:
        return {query.name: self.run(query, parameters) for query in queries}

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> LocalWarehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
