"""`insightloop mcp` driven by the MCP SDK's own client over stdio, against a hand-built Gold.

One server subprocess for the module: the session lists the tools and calls each one, and
the tests check what came back (schemas, hand-computed answers, refusals, limits).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from shared.settings import PROJECT_ROOT
from tests import ask_gold
from tests.ask_gold import DELIVERY_KEY, LEAKED_EMAIL, OLD_KEY

mcp = pytest.importorskip("mcp")

CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "top": ("top_insights", {"window_days": 7}),
    "top_limited": ("top_insights", {"window_days": 21, "limit": 2}),
    "trend": ("theme_trend", {"theme": "shipping", "weeks": 3}),
    "search": ("search_evidence", {"query": "parcel", "sentiment": "negative"}),
    "search_pii": ("search_evidence", {"query": "charged"}),
    "detail": ("insight_detail", {"insight_key": DELIVERY_KEY}),
    "outcomes": ("outcomes", {"status": "resolved"}),
    "alerts": ("alerts", {}),
    "health": ("data_health", {}),
    "bad_window": ("top_insights", {"window_days": 365}),
    "bad_limit": ("search_evidence", {"query": "parcel", "limit": 100_000}),
    "injection": ("top_insights", {"product": "x' OR 1=1 --"}),
    "extra": ("outcomes", {"sql": "DELETE FROM gold_outcomes"}),
    "missing": ("insight_detail", {"insight_key": "0" * 32}),
    "unknown": ("drop_gold", {}),
}


async def _session(
    warehouse: Path, calls: dict[str, tuple[str, dict[str, Any]]] = CALLS
) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = {"INSIGHTLOOP_ASK_MAX_ROWS": "3"}
    if "JAVA_HOME" in os.environ:  # nothing else leaks from this environment
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "shared.cli", "mcp", "--warehouse", str(warehouse)],
        env=env,
        cwd=PROJECT_ROOT,
    )
    results: dict[str, Any] = {}
    with anyio.fail_after(120):
        async with Client(server) as client:
            results["server"] = client.server_info
            results["tools"] = (await client.list_tools()).tools
            for label, (name, arguments) in calls.items():
                results[label] = await client.call_tool(name, arguments)
    return results


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    warehouse = ask_gold.write_gold(tmp_path_factory.mktemp("gold") / "spark-warehouse")
    return anyio.run(_session, warehouse)


def _ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return result.structured_content


def _error(result: Any) -> str:
    assert result.is_error
    return result.content[0].text


def test_lists_seven_read_only_tools_with_schemas(session: dict[str, Any]) -> None:
    assert session["server"].name == "insightloop"
    tools = {tool.name: tool for tool in session["tools"]}
    assert set(tools) == {
        "top_insights",
        "theme_trend",
        "search_evidence",
        "insight_detail",
        "outcomes",
        "alerts",
        "data_health",
    }
    for tool in tools.values():
        assert tool.annotations.read_only_hint and not tool.annotations.destructive_hint
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema.get("additionalProperties") is False
        assert tool.output_schema["type"] == "object" and tool.description
    top = tools["top_insights"].input_schema["properties"]
    assert top["window_days"]["maximum"] == 91 and top["limit"]["maximum"] == 500
    assert tools["theme_trend"].input_schema["required"] == ["theme"]
    assert set(tools["search_evidence"].output_schema["properties"]) == {
        "quotes",
        "truncated",
        "pii_masked",
    }


def test_each_tool_answers_from_gold(session: dict[str, Any]) -> None:
    top = _ok(session["top"])
    assert [i["theme"] for i in top["insights"]] == [
        "shipping",
        "pricing_billing",
        "performance_bugs",
    ]
    assert (
        top["insights"][0]["insight_key"] == DELIVERY_KEY and top["insights"][0]["priority"] == 48.0
    )
    trend = _ok(session["trend"])
    assert [(w["week_start"], w["records"]) for w in trend["weeks"]] == [
        ("2026-11-09", 10),
        ("2026-11-16", 20),
        ("2026-11-23", 40),
    ]
    search = _ok(session["search"])
    assert [(q["record_id"], q["quote"]) for q in search["quotes"]] == [
        ("r1", "the parcel arrived two weeks late"),
        ("r6", "parcel lost, nobody answers"),
    ]
    detail = _ok(session["detail"])
    assert detail["ticket"]["external_id"] == "OPS-9" and detail["ticket"]["status"] == "open"
    assert [q["record_id"] for q in detail["evidence"]] == ["r1", "r2"]
    outcomes = _ok(session["outcomes"])["outcomes"]
    assert [(o["insight_key"], o["p_value"], o["negative_share_after"]) for o in outcomes] == [
        (OLD_KEY, 0.03, 0.25)
    ]
    assert [a["z_score"] for a in _ok(session["alerts"])["alerts"]] == [4.2, 3.1]
    health = _ok(session["health"])
    assert [r["expectation"] for r in health["failing_expectations"]] == ["has_created_at"]


def test_quotes_are_rescanned_for_pii(session: dict[str, Any]) -> None:
    found = _ok(session["search_pii"])
    assert found["pii_masked"] == 1
    assert LEAKED_EMAIL not in session["search_pii"].content[0].text


def test_the_row_cap_of_the_server_applies(session: dict[str, Any]) -> None:
    limited = _ok(session["top_limited"])
    assert len(limited["insights"]) == 2 and limited["truncated"]
    assert len(_ok(session["top"])["insights"]) == 3  # INSIGHTLOOP_ASK_MAX_ROWS=3


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("bad_window", "window_days: Input should be less than or equal to 91"),
        ("bad_limit", "limit: Input should be less than or equal to 500"),
        ("injection", "product: String should match pattern"),
        ("extra", "sql: Extra inputs are not permitted"),
        ("missing", "no insight with insight_key " + "0" * 32),
        ("unknown", "drop_gold"),
    ],
)
def test_bad_parameters_are_refused_as_tool_errors(
    session: dict[str, Any], label: str, message: str
) -> None:
    assert message in _error(session[label])


def test_without_gold_a_call_says_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "no-gold"
    results = anyio.run(_session, missing, {"top": ("top_insights", {})})
    assert len(results["tools"]) == 7  # listing needs no Gold
    assert f"no Gold tables at {missing}" in _error(results["top"])
