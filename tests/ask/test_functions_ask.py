"""The remote MCP tools: the ask_* Functions MCP tool triggers called directly, as the worker
would, against the loopback Databricks SQL warehouse over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions import ask
from shared.ask.remote import remote_tools
from shared.ask.tools import TOOLS
from shared.settings import get_settings
from tests import ask_gold
from tests.ask.test_ask import TOKEN, duckdb_statements
from tests.ask_gold import DELIVERY_KEY, LEAKED_EMAIL
from tests.databricks_server import STATEMENTS, DatabricksServer


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ask_gold.write_gold(tmp_path_factory.mktemp("gold") / "spark-warehouse")


@pytest.fixture
def databricks(warehouse: Path) -> Iterator[DatabricksServer]:
    server = DatabricksServer(token=TOKEN).start()
    server.sql = duckdb_statements(warehouse)
    yield server
    server.stop()


@pytest.fixture
def app_settings(databricks: DatabricksServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INSIGHTLOOP_DATABRICKS_HOST", databricks.url)
    monkeypatch.setenv("INSIGHTLOOP_DATABRICKS_TOKEN", TOKEN)
    monkeypatch.setenv("INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID", "wh-1")
    monkeypatch.setenv("INSIGHTLOOP_DATABRICKS_RETRY_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    remote_tools.cache_clear()
    yield
    get_settings.cache_clear()
    remote_tools.cache_clear()


def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What the host gets back: the CallToolResult the worker encodes."""
    answer = json.loads(ask.HANDLERS[tool](json.dumps({"name": tool, "arguments": arguments})))
    assert answer["type"] == "call_tool_result"
    return json.loads(answer["content"])


def test_every_tool_is_an_mcp_tool_trigger_with_its_schema() -> None:
    assert set(ask.HANDLERS) == set(TOOLS)
    for name, handler in ask.HANDLERS.items():
        (binding,) = [b.get_dict_repr() for b in handler.build().get_bindings()]
        assert binding["type"] == "mcpToolTrigger" and binding["toolName"] == name
        assert binding["useResultSchema"] is True
        properties = {p["propertyName"]: p for p in json.loads(binding["toolProperties"])}
        assert set(properties) == set(TOOLS[name].input_schema().get("properties", {}))
    search = {
        p["propertyName"]: p
        for p in json.loads(
            ask.HANDLERS["search_evidence"]
            .build()
            .get_bindings()[0]
            .get_dict_repr()["toolProperties"]
        )
    }
    assert search["query"]["isRequired"] and search["query"]["propertyType"] == "string"
    assert search["limit"]["propertyType"] == "integer" and not search["limit"]["isRequired"]
    assert "negative" in search["sentiment"]["description"]


@pytest.mark.usefixtures("app_settings")
def test_a_call_answers_from_the_warehouse(databricks: DatabricksServer) -> None:
    result = call("top_insights", {"window_days": 7, "limit": 2})
    assert not result.get("isError")
    insights = result["structuredContent"]["insights"]
    assert [i["insight_key"] for i in insights] == [DELIVERY_KEY, "b" * 32]
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    sent = databricks.seen(STATEMENTS)[-1]
    assert sent.body["warehouse_id"] == "wh-1" and sent.body["row_limit"] == 3
    evidence = call("search_evidence", {"query": "charged"})["structuredContent"]
    assert evidence["pii_masked"] == 1 and LEAKED_EMAIL not in json.dumps(evidence)


@pytest.mark.usefixtures("app_settings")
@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("alerts", {"window_days": 1000}, "window_days: Input should be less than or equal to 91"),
        ("outcomes", {"query": "DROP"}, "query: Extra inputs are not permitted"),
        ("insight_detail", {"insight_key": "f" * 32}, "no insight with insight_key"),
    ],
)
def test_refusals_are_tool_errors(tool: str, arguments: dict[str, Any], message: str) -> None:
    result = call(tool, arguments)
    assert result["isError"] and message in result["content"][0]["text"]


def test_without_a_warehouse_the_tools_say_which_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID", raising=False)
    get_settings.cache_clear()
    remote_tools.cache_clear()
    try:
        result = call("data_health", {})
    finally:
        get_settings.cache_clear()
        remote_tools.cache_clear()
    assert (
        result["isError"] and "INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID" in result["content"][0]["text"]
    )


def test_a_malformed_call_is_a_tool_error() -> None:
    answer = json.loads(ask.HANDLERS["alerts"]("not json"))
    assert json.loads(answer["content"])["isError"]


def test_the_deployed_package_keeps_the_sql_files_the_tools_run() -> None:
    """.funcignore has gitignore semantics: git itself says what the package leaves out."""
    import shutil
    import subprocess

    from shared.ask.tools import tool_queries
    from shared.settings import PROJECT_ROOT

    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def ignored(path: str) -> bool:
        check = subprocess.run(
            [
                "git",
                "-c",
                "core.excludesFile=.funcignore",
                "check-ignore",
                "--no-index",
                "-q",
                path,
            ],
            cwd=PROJECT_ROOT,
            check=False,
        )
        return check.returncode == 0

    files = [
        str(
            (PROJECT_ROOT / "databricks/src/dashboards/queries" / f"{name}.sql").relative_to(
                PROJECT_ROOT
            )
        )
        if (PROJECT_ROOT / "databricks/src/dashboards/queries" / f"{name}.sql").exists()
        else f"shared/ask/queries/{name}.sql"
        for name in tool_queries()
    ]
    assert [path for path in files if ignored(path)] == []
    assert ignored("databricks/databricks.yml") and ignored(
        "databricks/src/dashboards/insightloop.lvdash.json"
    )
    assert ignored("tests/ask/test_ask.py")


def test_the_function_app_indexes_without_development_dependencies() -> None:
    """DuckDB, matplotlib, pyarrow and the MCP SDK are not deployed: importing the app (what
    the indexer does) must not need them, or every function would be hidden."""
    import subprocess
    import sys

    from shared.settings import PROJECT_ROOT

    blocked = ["duckdb", "matplotlib", "pyarrow", "mcp", "mcp_types", "pyspark", "pandas"]
    script = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import function_app\n"
        "names = [f.get_function_name() for f in function_app.app.get_functions()]\n"
        "assert 'ask_top_insights' in names, names\n"
        "print(len(names))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
