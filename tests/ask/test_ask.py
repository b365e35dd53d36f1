"""The ask tools over a hand-built Gold: DuckDB locally, and the Databricks SQL Statement
Execution API over real HTTP (databricks-sdk against the loopback server), same answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared.ask import QuoteScanner, ToolInputError
from shared.ask.backends import ASK_TABLE_COLUMNS, DatabricksGold, DuckDbGold
from shared.ask.tools import TOOLS, GoldTools, tool_queries
from shared.enrich.enrichment import PII_CONFIG
from shared.enrich.masking import get_masker
from shared.errors import ConfigError
from shared.report.queries import LocalWarehouse, _duckdb_sql
from shared.settings import Settings
from tests import ask_gold
from tests.ask_gold import APP_KEY, BILLING_KEY, DELIVERY_KEY, LEAKED_EMAIL, OLD_KEY
from tests.databricks_server import STATEMENTS, DatabricksServer, Reply

TOKEN = "dapi-test-token"  # noqa: S105 - the fake workspace's fake PAT
# DuckDB's type names as the Statement Execution API names them.
DATABRICKS_TYPES = {
    "VARCHAR": "STRING",
    "BIGINT": "LONG",
    "HUGEINT": "LONG",  # DuckDB sums BIGINTs into HUGEINT; Databricks into BIGINT
    "INTEGER": "INT",
    "DOUBLE": "DOUBLE",
    "DATE": "DATE",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMP": "TIMESTAMP",
}
PARAMETER_TYPES = {"INT": int, "STRING": str, "DATE": date.fromisoformat}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ask_gold.write_gold(tmp_path_factory.mktemp("gold") / "spark-warehouse")


@pytest.fixture(scope="module")
def scanner() -> QuoteScanner:
    return QuoteScanner(get_masker(Settings().config_dir / PII_CONFIG))


@pytest.fixture(scope="module")
def local_tools(warehouse: Path, scanner: QuoteScanner) -> GoldTools:
    return GoldTools(DuckDbGold(warehouse), scanner, max_rows=50)


def duckdb_statements(warehouse: Path) -> Any:
    """What the loopback warehouse runs: the statement as sent, parameters bound by type."""
    local = LocalWarehouse(warehouse, ASK_TABLE_COLUMNS)

    def run(
        sql: str, parameters: list[dict[str, Any]], _: str
    ) -> tuple[list[tuple[str, str]], list[list[Any]]]:
        bound = {
            p["name"]: None if p.get("value") is None else PARAMETER_TYPES[p["type"]](p["value"])
            for p in parameters
        }
        cursor = local.connection.cursor()
        cursor.execute(_duckdb_sql(sql), bound or None)
        columns = [(c[0], DATABRICKS_TYPES.get(str(c[1]), "STRING")) for c in cursor.description]
        return columns, [list(row) for row in cursor.fetchall()]

    return run


@pytest.fixture(scope="module")
def databricks(warehouse: Path):
    server = DatabricksServer(token=TOKEN).start()
    server.sql = duckdb_statements(warehouse)
    yield server
    server.stop()


def remote_settings(server: DatabricksServer, warehouse_id: str = "wh-1") -> Settings:
    return Settings(
        databricks_host=server.url,
        databricks_token=TOKEN,
        databricks_warehouse_id=warehouse_id,
        databricks_catalog="main",
        databricks_schema="insightloop",
        databricks_retry_timeout_seconds=1,
    )


@pytest.fixture(scope="module")
def remote_tools(databricks: DatabricksServer, scanner: QuoteScanner) -> GoldTools:
    return GoldTools(
        DatabricksGold.from_settings(remote_settings(databricks)), scanner, max_rows=50
    )


@pytest.fixture(params=["duckdb", "databricks"])
def tools(request: pytest.FixtureRequest) -> GoldTools:
    return request.getfixturevalue("local_tools" if request.param == "duckdb" else "remote_tools")


def test_top_insights_rank_by_priority_in_the_window(tools: GoldTools) -> None:
    week = tools.call("top_insights", {"window_days": 7})
    assert [i.insight_key for i in week.insights] == [DELIVERY_KEY, BILLING_KEY, APP_KEY]
    assert week.insights[0].volume == 40 and week.insights[0].priority == 48.0
    assert week.insights[0].window_end == date(2026, 11, 29) and not week.truncated
    three_weeks = tools.call("top_insights", {"window_days": 21})
    assert [i.insight_key for i in three_weeks.insights] == [
        DELIVERY_KEY,
        BILLING_KEY,
        OLD_KEY,
        APP_KEY,
    ]
    speaker = tools.call("top_insights", {"product": "speaker"})
    assert [i.insight_key for i in speaker.insights] == [DELIVERY_KEY, BILLING_KEY]
    business = tools.call("top_insights", {"segment": "business"})
    assert [i.insight_key for i in business.insights] == [BILLING_KEY]
    one = tools.call("top_insights", {"limit": 1})
    assert [i.insight_key for i in one.insights] == [DELIVERY_KEY] and one.truncated


def test_theme_trend_counts_whole_weeks_back_from_the_latest(tools: GoldTools) -> None:
    trend = tools.call("theme_trend", {"theme": "shipping", "weeks": 3})
    assert [(w.week_start, w.records, w.negative_records) for w in trend.weeks] == [
        (date(2026, 11, 9), 10, 5),
        (date(2026, 11, 16), 20, 10),
        (date(2026, 11, 23), 40, 30),
    ]
    assert trend.weeks[-1].negative_share == 0.75 and trend.weeks[-1].velocity == 1.0
    assert len(tools.call("theme_trend", {"theme": "shipping", "weeks": 8}).weeks) == 5
    assert tools.call("theme_trend", {"theme": "nothing"}).weeks == []


def test_search_evidence_returns_masked_quotes_with_record_ids(tools: GoldTools) -> None:
    found = tools.call("search_evidence", {"query": "PARCEL"})
    assert [q.record_id for q in found.quotes] == ["r1", "r5", "r6"]
    negative = tools.call("search_evidence", {"query": "parcel", "sentiment": "negative"})
    assert [q.record_id for q in negative.quotes] == ["r1", "r6"]
    assert [
        q.record_id
        for q in tools.call("search_evidence", {"query": "parcel", "product": "headphones"}).quotes
    ] == ["r5"]
    billing = tools.call("search_evidence", {"query": "charged", "theme": "pricing_billing"})
    assert billing.pii_masked == 1 and LEAKED_EMAIL not in billing.quotes[0].quote
    assert billing.quotes[0].quote.startswith("charged twice, write to <")


def test_search_evidence_binds_the_query_never_splices_it(tools: GoldTools) -> None:
    assert tools.call("search_evidence", {"query": "x' OR '1'='1"}).quotes == []
    assert tools.call("search_evidence", {"query": "%_"}).quotes == []


def test_insight_detail_has_facts_evidence_and_the_routed_ticket(tools: GoldTools) -> None:
    detail = tools.call("insight_detail", {"insight_key": DELIVERY_KEY})
    assert detail.insight.theme == "shipping" and detail.insight.negative_share == 0.75
    assert [(q.record_id, q.quote) for q in detail.evidence] == [
        ("r1", "the parcel arrived two weeks late"),
        ("r2", "courier left the box in the rain"),
    ]
    assert detail.ticket is not None
    assert (detail.ticket.external_id, detail.ticket.status, detail.ticket.destination) == (
        "OPS-9",
        "open",
        "jira",
    )
    billing = tools.call("insight_detail", {"insight_key": BILLING_KEY})
    assert billing.ticket is None and billing.pii_masked == 1
    assert LEAKED_EMAIL not in billing.evidence[0].quote
    with pytest.raises(ToolInputError, match="no insight with insight_key"):
        tools.call("insight_detail", {"insight_key": "0" * 32})


def test_outcomes_before_after_and_p_values(tools: GoldTools) -> None:
    every = tools.call("outcomes", {})
    assert [o.external_id for o in every.outcomes] == ["OPS-9", "OPS-7"]
    resolved = tools.call("outcomes", {"status": "resolved"}).outcomes
    assert len(resolved) == 1
    fixed = resolved[0]
    assert fixed.insight_key == OLD_KEY and fixed.p_value == 0.03 and fixed.significant
    assert (fixed.negative_share_before, fixed.negative_share_after) == (0.5, 0.25)
    assert (fixed.volume_per_day_before, fixed.volume_per_day_after) == (2.0, 1.0)
    assert (fixed.nps_before, fixed.nps_after) == (-20.0, 10.0)
    one = tools.call("outcomes", {"limit": 1})
    assert len(one.outcomes) == 1 and one.truncated


def test_alerts_by_z_score(tools: GoldTools) -> None:
    alerts = tools.call("alerts", {"window_days": 7}).alerts
    assert [(a.theme, a.metric, a.z_score) for a in alerts] == [
        ("shipping", "volume", 4.2),
        ("pricing_billing", "negative_share", 3.1),
    ]


def test_data_health_reads_the_health_dashboard(tools: GoldTools) -> None:
    health = tools.call("data_health", {})
    assert {(r["source"], r["records"]) for r in health.last_ingest} == {
        ("shop", 2),
        ("zendesk", 1),
    }
    gate = {r["source"]: r["batches_quarantined"] for r in health.quality_gate}
    assert gate == {"zendesk": 1, "shop": 0}
    flagged = {r["signal"] for r in health.drift_flags if r["flagged"]}
    assert flagged == {"theme mix shift"}
    assert [(r["expectation"], r["failed_rows"]) for r in health.failing_expectations] == [
        ("has_created_at", 4)
    ]
    assert [(r["source"], r["waiting"]) for r in health.review_queue] == [("shop", 1)]


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        (
            "top_insights",
            {"window_days": 400},
            "window_days: Input should be less than or equal to 91",
        ),
        ("top_insights", {"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ("top_insights", {"limit": 10_000}, "limit: Input should be less than or equal to 500"),
        (
            "top_insights",
            {"sql": "DROP TABLE gold_insights"},
            "sql: Extra inputs are not permitted",
        ),
        ("theme_trend", {}, "theme: Field required"),
        (
            "theme_trend",
            {"theme": "shipping", "weeks": 100},
            "weeks: Input should be less than or equal to 26",
        ),
        ("theme_trend", {"theme": "a'; DROP TABLE x; --"}, "theme: String should match pattern"),
        ("search_evidence", {"query": "x"}, "query: String should have at least 2 characters"),
        ("search_evidence", {"query": "late", "sentiment": "angry"}, "sentiment: Input should be"),
        (
            "insight_detail",
            {"insight_key": "not-a-key"},
            "insight_key: String should match pattern",
        ),
        (
            "outcomes",
            {"status": "done"},
            "status: Input should be 'open', 'triaged', 'rejected' or 'resolved'",
        ),
        ("delete_insight", {}, "no tool 'delete_insight'"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_error(
    local_tools: GoldTools, tool: str, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolInputError, match=None) as raised:
        local_tools.call(tool, arguments)
    assert message in str(raised.value)


def test_the_row_cap_applies_to_every_call(warehouse: Path, scanner: QuoteScanner) -> None:
    capped = GoldTools(DuckDbGold(warehouse), scanner, max_rows=2)
    top = capped.call("top_insights", {"window_days": 21, "limit": 10})
    assert len(top.insights) == 2 and top.truncated
    assert len(capped.call("search_evidence", {"query": "parcel", "limit": 10}).quotes) == 2


def test_the_tool_set_is_read_only_and_each_query_is_a_file() -> None:
    assert set(TOOLS) == {
        "top_insights",
        "theme_trend",
        "search_evidence",
        "insight_detail",
        "outcomes",
        "alerts",
        "data_health",
    }
    for query in tool_queries().values():
        text = query.sql.upper()
        for verb in ("INSERT ", "UPDATE ", "DELETE ", "MERGE ", "DROP ", "CREATE ", "ALTER "):
            assert verb not in text, (query.name, verb)


def test_databricks_receives_the_file_and_bound_parameters(
    databricks: DatabricksServer, remote_tools: GoldTools
) -> None:
    before = len(databricks.seen(STATEMENTS))
    remote_tools.call("search_evidence", {"query": "x' OR '1'='1", "limit": 3})
    sent = databricks.seen(STATEMENTS)[before:]
    assert len(sent) == 1
    body = sent[0].body
    assert body["statement"] == tool_queries()["search_evidence"].sql
    assert {"name": "query", "type": "STRING", "value": "x' OR '1'='1"} in body["parameters"]
    assert {"name": "theme", "type": "STRING"} in body["parameters"]  # null: no value
    assert (body["warehouse_id"], body["catalog"], body["schema"]) == (
        "wh-1",
        "main",
        "insightloop",
    )
    assert (
        body["row_limit"] == 4
        and body["disposition"] == "INLINE"
        and body["format"] == "JSON_ARRAY"
    )
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_databricks_failures_are_clear_errors(
    databricks: DatabricksServer, scanner: QuoteScanner
) -> None:
    unknown = GoldTools(
        DatabricksGold.from_settings(remote_settings(databricks, "wh-missing")), scanner
    )
    with pytest.raises(ConfigError, match=r"rejected the request to run top_insights\.sql"):
        unknown.call("top_insights", {})
    failed = {
        "statement_id": "s",
        "status": {"state": "FAILED", "error": {"message": "TABLE_OR_VIEW_NOT_FOUND gold_alerts"}},
    }
    databricks.queue(STATEMENTS, Reply(200, failed))
    tools = GoldTools(DatabricksGold.from_settings(remote_settings(databricks)), scanner)
    with pytest.raises(
        ConfigError, match=r"alerts\.sql failed on the warehouse: TABLE_OR_VIEW_NOT_FOUND"
    ):
        tools.call("alerts", {})
    with pytest.raises(ConfigError, match="INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID"):
        DatabricksGold.from_settings(Settings())
