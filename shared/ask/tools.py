"""The ask tools over Gold, defined once: inputs, outputs, limits, and the SQL each one runs.

Every transport (the stdio MCP server, the Functions MCP trigger, ``insightloop ask``)
lists :data:`TOOLS` and calls :meth:`GoldTools.call`; none has tools of its own. Tools are
read-only: each runs SQL files of this project (the dashboards' where one fits, else
``shared/ask/queries/``) with the caller's values bound as parameters. Inputs are validated
(unknown fields, out-of-range limits and windows are refused with a clear message), every
call returns at most its ``limit`` rows (capped by ``INSIGHTLOOP_ASK_MAX_ROWS``) and says
when rows were cut, and every quote is re-scanned for PII before it leaves.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.ask.backends import GoldBackend
from shared.ask.safety import QuoteScanner
from shared.errors import InsightloopError
from shared.report.queries import QUERIES_DIR, Query, load_queries

logger = logging.getLogger(__name__)

ASK_QUERIES_DIR = Path(__file__).resolve().parent / "queries"
MAX_WINDOW_DAYS = 91  # 13 weeks: Gold keeps the current window, alerts their baseline
MAX_WEEKS = 26
MAX_ROWS = 500  # no setting can raise a call above this
# Rows a Python-side filter may scan (outcomes by status): routed insights, few by nature.
MAX_SCAN_ROWS = 5_000

Sentiment = Literal["positive", "negative", "neutral", "mixed"]
OutcomeStatus = Literal["open", "triaged", "rejected", "resolved"]
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[\w .&/+-]+$")]


class ToolInputError(InsightloopError):
    """A tool was called with parameters it refuses; the message says which and why."""


class ToolInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ToolOutput(BaseModel):
    model_config = ConfigDict(frozen=True)


# ------------------------------------------------------------------ inputs


class TopInsightsInput(ToolInput):
    window_days: int = Field(
        7, ge=1, le=MAX_WINDOW_DAYS, description="days back from Gold's latest window"
    )
    product: Name | None = Field(None, description="only this product")
    segment: Name | None = Field(None, description="only this customer segment")
    limit: int = Field(10, ge=1, le=MAX_ROWS, description="rows at most")


class ThemeTrendInput(ToolInput):
    theme: Name = Field(description="a taxonomy theme, e.g. delivery")
    weeks: int = Field(8, ge=1, le=MAX_WEEKS, description="weeks back from the theme's latest")


class SearchEvidenceInput(ToolInput):
    query: str = Field(min_length=2, max_length=200, description="words the quote contains")
    theme: Name | None = None
    sentiment: Sentiment | None = None
    product: Name | None = None
    limit: int = Field(10, ge=1, le=MAX_ROWS)


class InsightDetailInput(ToolInput):
    insight_key: str = Field(pattern=r"^[0-9a-f]{8,64}$", description="gold_insights.insight_key")


class OutcomesInput(ToolInput):
    status: OutcomeStatus | None = None
    limit: int = Field(20, ge=1, le=MAX_ROWS)


class AlertsInput(ToolInput):
    window_days: int = Field(7, ge=1, le=MAX_WINDOW_DAYS)
    limit: int = Field(20, ge=1, le=MAX_ROWS)


class DataHealthInput(ToolInput):
    pass


# ------------------------------------------------------------------ outputs


class InsightRow(ToolOutput):
    rank: int | None
    insight_key: str
    theme: str
    product: str | None
    segment: str | None
    window_start: date | None
    window_end: date | None
    volume: int
    previous_volume: int | None
    velocity: float | None
    negative_share: float | None
    severity: str | None
    severity_score: float | None
    urgency_high: int | None
    confidence: float | None
    priority: float | None
    suggested_owner: str | None


class TopInsights(ToolOutput):
    insights: list[InsightRow]
    truncated: bool


class TrendWeek(ToolOutput):
    week_start: date
    records: int
    negative_records: int | None
    negative_share: float | None
    records_week_before: int | None
    wow_delta: int | None
    velocity: float | None


class ThemeTrend(ToolOutput):
    theme: str
    weeks: list[TrendWeek]
    truncated: bool


class EvidenceQuote(ToolOutput):
    record_id: str
    quote: str
    theme: str | None = None
    sentiment: str | None = None
    product: str | None = None
    segment: str | None = None
    channel: str | None = None
    created_date: date | None = None


class Evidence(ToolOutput):
    quotes: list[EvidenceQuote]
    truncated: bool
    pii_masked: int = Field(description="PII spans the output re-scan masked")


class RoutedTicket(ToolOutput):
    owner: str | None
    destination: str | None
    external_id: str | None
    external_url: str | None
    status: str | None
    routed_at: datetime | None
    triaged_at: datetime | None
    resolved_at: datetime | None


class InsightDetail(ToolOutput):
    insight: InsightRow
    evidence: list[EvidenceQuote]
    ticket: RoutedTicket | None = Field(description="null until routing created one")
    pii_masked: int


class OutcomeRow(ToolOutput):
    insight_key: str
    insight: str
    owner: str | None
    destination: str | None
    external_id: str | None
    status: str | None
    routed_date: date | None
    resolved_date: date | None
    volume_per_day_before: float | None
    volume_per_day_after: float | None
    negative_share_before: float | None
    negative_share_after: float | None
    negative_share_delta: float | None
    p_value: float | None
    significant: bool | None
    nps_before: float | None
    nps_after: float | None
    after_window_complete: bool | None


class Outcomes(ToolOutput):
    outcomes: list[OutcomeRow]
    truncated: bool


class AlertRow(ToolOutput):
    alert_id: str
    theme: str
    dimension: str
    dimension_value: str | None
    metric: str
    period_start: date
    period_end: date
    current_value: float | None
    baseline_value: float | None
    z_score: float | None
    records: int | None
    baseline_records: int | None
    sensitivity: float | None


class Alerts(ToolOutput):
    alerts: list[AlertRow]
    truncated: bool


class DataHealth(ToolOutput):
    """The health dashboard's datasets, each as rows (their SQL files are the definitions)."""

    last_ingest: list[dict[str, Any]]
    quality_gate: list[dict[str, Any]]
    drift_flags: list[dict[str, Any]]
    failing_expectations: list[dict[str, Any]]
    review_queue: list[dict[str, Any]]
    truncated: bool


# ------------------------------------------------------------------ the tools


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    input_model: type[ToolInput]
    output_model: type[ToolOutput]

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema()


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "top_insights",
            "The highest-priority insights (theme x product x customer segment) of Gold's "
            "latest window: volume, velocity, negative share, severity, owner, insight_key.",
            TopInsightsInput,
            TopInsights,
        ),
        Tool(
            "theme_trend",
            "One theme's weekly record count, negative share and week-over-week change.",
            ThemeTrendInput,
            ThemeTrend,
        ),
        Tool(
            "search_evidence",
            "Masked customer quotes containing the query words, with their record ids, "
            "optionally for one theme, sentiment or product. Newest first.",
            SearchEvidenceInput,
            Evidence,
        ),
        Tool(
            "insight_detail",
            "One insight by insight_key: its facts, evidence quotes with record ids, and the "
            "ticket routing created (destination, owner, status).",
            InsightDetailInput,
            InsightDetail,
        ),
        Tool(
            "outcomes",
            "Routed insights and what happened after the fix: volume per day and negative "
            "share before vs after, NPS, the p-value of the change, status.",
            OutcomesInput,
            Outcomes,
        ),
        Tool(
            "alerts",
            "Themes whose volume or negative share per product or segment departed upward "
            "from their own baseline (z-score) in the window.",
            AlertsInput,
            Alerts,
        ),
        Tool(
            "data_health",
            "Is the data trustworthy: last ingest per source, quality-gate failures, drift "
            "flags, failing expectations, the review queue.",
            DataHealthInput,
            DataHealth,
        ),
    )
}

HEALTH_DATASETS = {
    "last_ingest": "health_last_ingest",
    "quality_gate": "health_quality_gate",
    "drift_flags": "health_drift_flags",
    "failing_expectations": "health_expectations",
    "review_queue": "support_review_queue",
}


@functools.cache
def tool_queries() -> dict[str, Query]:
    """The ask queries and the dashboard datasets the tools read, by name (names are unique)."""
    dashboards = load_queries(QUERIES_DIR)
    own = load_queries(ASK_QUERIES_DIR)
    clash = own.keys() & dashboards.keys()
    if clash:
        raise InsightloopError(f"ask queries shadow dashboard datasets: {sorted(clash)}")
    return {**dashboards, **own}


def validate_input(name: str, arguments: Mapping[str, Any] | None) -> ToolInput:
    """The tool's input model, or a ToolInputError naming each refused field and why."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolInputError(f"no tool {name!r}: the tools are {', '.join(TOOLS)}")
    try:
        return tool.input_model.model_validate(dict(arguments or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ToolInputError(f"{name}: {problems}") from None


class GoldTools:
    """Runs the tools against one backend; the row cap applies to every call."""

    def __init__(
        self,
        backend: GoldBackend,
        scanner: QuoteScanner,
        *,
        max_rows: int = 50,
        queries: Callable[[], dict[str, Query]] = tool_queries,
    ) -> None:
        self.backend = backend
        self.scanner = scanner
        self.max_rows = min(max_rows, MAX_ROWS)
        self.queries = queries()

    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> ToolOutput:
        request = validate_input(name, arguments)
        handler: Callable[[Any], ToolOutput] = getattr(self, f"_{name}")
        logger.info("ask tool %s", name)  # arguments may hold customer words: not logged
        return handler(request)

    def _limit(self, requested: int) -> int:
        return min(requested, self.max_rows)

    def _run(
        self, query: str, parameters: Mapping[str, Any], limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        rows = self.backend.run(self.queries[query], parameters, limit)
        return rows.records, rows.truncated

    def _top_insights(self, request: TopInsightsInput) -> TopInsights:
        records, truncated = self._run(
            "top_insights",
            {
                "window_days": request.window_days,
                "product": request.product,
                "segment": request.segment,
            },
            self._limit(request.limit),
        )
        return TopInsights(
            insights=[InsightRow.model_validate(r) for r in records], truncated=truncated
        )

    def _theme_trend(self, request: ThemeTrendInput) -> ThemeTrend:
        records, truncated = self._run(
            "theme_trend", {"theme": request.theme, "weeks": request.weeks}, MAX_WEEKS
        )
        return ThemeTrend(
            theme=request.theme,
            weeks=[TrendWeek.model_validate(r) for r in records],
            truncated=truncated,
        )

    def _search_evidence(self, request: SearchEvidenceInput) -> Evidence:
        records, truncated = self._run(
            "search_evidence",
            {
                "query": request.query,
                "theme": request.theme,
                "sentiment": request.sentiment,
                "product": request.product,
            },
            self._limit(request.limit),
        )
        quotes, masked = self._scanned([EvidenceQuote.model_validate(r) for r in records])
        return Evidence(quotes=quotes, truncated=truncated, pii_masked=masked)

    def _insight_detail(self, request: InsightDetailInput) -> InsightDetail:
        records, _ = self._run("insight_detail", {"insight_key": request.insight_key}, 1)
        if not records:
            raise ToolInputError(
                f"insight_detail: no insight with insight_key {request.insight_key} in Gold "
                "(top_insights lists the current ones)"
            )
        row = records[0]
        evidence, _ = self._run(
            "insight_evidence", {"insight_key": request.insight_key}, self.max_rows
        )
        quotes, masked = self._scanned([EvidenceQuote.model_validate(r) for r in evidence])
        ticket = (
            RoutedTicket.model_validate(row)
            if row.get("routed_at") or row.get("external_id")
            else None
        )
        return InsightDetail(
            insight=InsightRow.model_validate(row),
            evidence=quotes,
            ticket=ticket,
            pii_masked=masked,
        )

    def _outcomes(self, request: OutcomesInput) -> Outcomes:
        records, scan_cut = self._run("exec_outcomes", {}, MAX_SCAN_ROWS)
        if request.status is not None:
            records = [r for r in records if r.get("status") == request.status]
        limit = self._limit(request.limit)
        return Outcomes(
            outcomes=[OutcomeRow.model_validate(r) for r in records[:limit]],
            truncated=scan_cut or len(records) > limit,
        )

    def _alerts(self, request: AlertsInput) -> Alerts:
        records, truncated = self._run(
            "alerts", {"window_days": request.window_days}, self._limit(request.limit)
        )
        return Alerts(alerts=[AlertRow.model_validate(r) for r in records], truncated=truncated)

    def _data_health(self, request: DataHealthInput) -> DataHealth:
        parts: dict[str, list[dict[str, Any]]] = {}
        truncated = False
        for field, query in HEALTH_DATASETS.items():
            parts[field], cut = self._run(query, {}, self.max_rows)
            truncated = truncated or cut
        return DataHealth(**parts, truncated=truncated)

    def verify_quote(self, quote: str, record_id: str | None = None) -> str | None:
        """The quote as Gold's re-scanned evidence holds it, or None when Gold has no such
        quote verbatim (in ``record_id``'s evidence when given). Not a tool: ``ask`` uses it."""
        if not quote.strip() or len(quote) > 500:
            return None
        records, _ = self._run("verify_quote", {"quote": quote, "record_id": record_id}, 1)
        if not records:
            return None
        texts, _ = self.scanner.rescan([quote])
        return texts[0]

    def knows_insight(self, insight_key: str) -> bool:
        """Whether Gold has this insight key (current or routed). Not a tool: ``ask`` uses it."""
        records, _ = self._run("verify_insight_key", {"insight_key": insight_key}, 1)
        return bool(records)

    def _scanned(self, quotes: list[EvidenceQuote]) -> tuple[list[EvidenceQuote], int]:
        texts, masked = self.scanner.rescan([q.quote for q in quotes])
        return [
            q.model_copy(update={"quote": t}) for q, t in zip(quotes, texts, strict=True)
        ], masked


__all__ = [
    "TOOLS",
    "GoldTools",
    "Tool",
    "ToolInput",
    "ToolInputError",
    "ToolOutput",
    "tool_queries",
    "validate_input",
]
