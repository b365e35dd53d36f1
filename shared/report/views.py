"""The role views: which datasets each page shows, as which chart and which table columns.

Both renderings read this one description: the local HTML report (``render.py``) and the
generated Lakeview dashboard (``lakeview.py``). The numbers come from the datasets' SQL
files only; this module decides how they are shown, never what they are.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

# How a value is printed: counts 1,234 / 12.5k, shares 34%, hours 3.5 h, ...
ValueKind = Literal[
    "text", "count", "number", "percent", "signed_percent", "money", "hours", "nps", "date", "flag"
]
SplitField = Literal["source", "product"]


class Column(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    label: str
    kind: ValueKind = "text"


class Chart(BaseModel):
    """``hbar``: one bar per row (category on the y axis, rows in the query's order, first
    ``limit`` shown); ``line``: ``x`` is a date, one line per ``series`` value."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["hbar", "line"]
    x: str
    y: str
    y_label: str
    y_kind: ValueKind = "count"
    series: str | None = None
    limit: int = 12
    # A DATE parameter drawn as a vertical marker line (the release date).
    marker: str | None = None
    # Variants per filter value are pre-rendered only when the chart's rows carry it.
    split_variants: bool = False


class Kpi(BaseModel):
    """A headline number: ``aggregate`` of ``field`` over the dataset's rows."""

    model_config = ConfigDict(frozen=True)

    field: str
    label: str
    aggregate: Literal["sum", "max", "min"] = "sum"
    kind: ValueKind = "count"


class Block(BaseModel):
    """One dataset on a page: an optional chart and KPIs above a table of its rows."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    columns: tuple[Column, ...]
    chart: Chart | None = None
    kpis: tuple[Kpi, ...] = ()
    # Filters: the column the source/product filter matches, the date the date filter reads.
    split: SplitField | None = None
    date_field: str | None = None

    @model_validator(mode="after")
    def _filter_columns_are_shown(self) -> Block:
        fields = {column.field for column in self.columns}
        for needed in (self.split, self.date_field):
            if needed is not None and needed not in fields:
                raise ValueError(f"{self.dataset}: filter column {needed} must be a table column")
        return self


class View(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    title: str
    audience: str
    blocks: tuple[Block, ...]


def _c(field: str, label: str, kind: ValueKind = "text") -> Column:
    return Column(field=field, label=label, kind=kind)


SUPPORT = View(
    key="support",
    title="Support lead",
    audience="Where the queue's work comes from, what keeps coming back, what waits for review.",
    blocks=(
        Block(
            dataset="support_review_queue",
            kpis=(Kpi(field="waiting", label="waiting for review"),),
            columns=(
                _c("source", "source"),
                _c("waiting", "waiting", "count"),
                _c("oldest_waiting_since", "oldest since", "date"),
            ),
            split="source",
        ),
        Block(
            dataset="support_queue_impact",
            chart=Chart(kind="hbar", x="theme", y="contacts", y_label="contacts"),
            columns=(
                _c("theme", "theme"),
                _c("contacts", "contacts", "count"),
                _c("tickets", "tickets", "count"),
                _c("chats", "chats", "count"),
                _c("high_urgency", "high urgency", "count"),
                _c("share_of_queue", "share of queue", "percent"),
            ),
        ),
        Block(
            dataset="support_ticket_drivers",
            chart=Chart(
                kind="hbar", x="theme", y="trend_delta", y_label="tickets vs window before"
            ),
            columns=(
                _c("rank", "#", "count"),
                _c("theme", "theme"),
                _c("tickets", "tickets", "count"),
                _c("previous_tickets", "window before", "count"),
                _c("trend_delta", "change", "count"),
                _c("trend", "trend", "signed_percent"),
                _c("share_of_tickets", "share", "percent"),
                _c("high_urgency_share", "high urgency", "percent"),
            ),
        ),
        Block(
            dataset="support_ticket_trend",
            chart=Chart(
                kind="line", x="week_start", y="tickets", y_label="tickets", series="theme"
            ),
            columns=(
                _c("week_start", "week", "date"),
                _c("theme", "theme"),
                _c("tickets", "tickets", "count"),
            ),
            date_field="week_start",
        ),
        Block(
            dataset="support_kb_candidates",
            columns=(
                _c("theme", "theme"),
                _c("contacts", "contacts", "count"),
                _c("weeks_present", "weeks seen", "count"),
                _c("high_urgency", "high urgency", "count"),
                _c("example_quote", "example (masked)"),
                _c("example_record_id", "record id"),
            ),
        ),
    ),
)

PRODUCT = View(
    key="product",
    title="Product manager",
    audience="How each product's features land, what moved around a release, and the evidence.",
    blocks=(
        Block(
            dataset="product_sentiment",
            chart=Chart(
                kind="hbar",
                x="product_theme",
                y="net_sentiment",
                y_label="net sentiment (positive − negative share)",
                y_kind="signed_percent",
                split_variants=True,
            ),
            columns=(
                _c("product", "product"),
                _c("theme", "feature (theme)"),
                _c("mentions", "mentions", "count"),
                _c("negative_share", "negative", "percent"),
                _c("net_sentiment", "net sentiment", "signed_percent"),
            ),
            split="product",
        ),
        Block(
            dataset="product_release_correlation",
            chart=Chart(
                kind="line",
                x="day",
                y="records",
                y_label="records per day",
                series="theme",
                marker="release_date",
            ),
            columns=(
                _c("day", "day", "date"),
                _c("theme", "theme"),
                _c("records", "records", "count"),
                _c("days_from_release", "days from release", "number"),
            ),
            date_field="day",
        ),
        Block(
            dataset="product_release_shift",
            chart=Chart(kind="hbar", x="theme", y="change", y_label="records after − before"),
            columns=(
                _c("theme", "theme"),
                _c("records_before", "14 days before", "count"),
                _c("records_after", "14 days after", "count"),
                _c("change", "change", "count"),
                _c("relative_change", "relative", "signed_percent"),
            ),
        ),
        Block(
            dataset="product_top_themes",
            chart=Chart(
                kind="hbar",
                x="insight",
                y="priority",
                y_label="priority",
                y_kind="number",
                series="severity",
                split_variants=True,
            ),
            columns=(
                _c("rank", "#", "count"),
                _c("theme", "theme"),
                _c("product", "product"),
                _c("segment", "segment"),
                _c("volume", "volume", "count"),
                _c("negative_share", "negative", "percent"),
                _c("severity", "severity"),
                _c("suggested_owner", "owner"),
            ),
            split="product",
        ),
        Block(
            dataset="product_evidence",
            columns=(
                _c("rank", "#", "count"),
                _c("theme", "theme"),
                _c("product", "product"),
                _c("quote", "quote (masked)"),
                _c("sentiment", "sentiment"),
                _c("record_id", "record id"),
            ),
            split="product",
        ),
        Block(
            dataset="product_canary_agreement",
            chart=Chart(
                kind="line",
                x="week_start",
                y="agreement",
                y_label="agreement",
                y_kind="percent",
                series="series",
            ),
            columns=(
                _c("week_start", "week", "date"),
                _c("prompt_versions", "prompt versions"),
                _c("compared", "compared"),
                _c("agreement", "agreement", "percent"),
                _c("records", "records", "count"),
            ),
            date_field="week_start",
        ),
    ),
)

EXECUTIVE = View(
    key="executive",
    title="Executive",
    audience="Is customer sentiment improving, where is revenue at risk, and do our fixes work?",
    blocks=(
        Block(
            dataset="exec_negative_rate_trend",
            chart=Chart(
                kind="line",
                x="week_start",
                y="negative_rate",
                y_label="negative share",
                y_kind="percent",
                series="series",
            ),
            columns=(
                _c("week_start", "week", "date"),
                _c("series", "feedback"),
                _c("negative_rate", "negative", "percent"),
                _c("records", "records", "count"),
            ),
            date_field="week_start",
        ),
        Block(
            dataset="exec_nps_trend",
            chart=Chart(kind="line", x="week_start", y="nps", y_label="NPS", y_kind="nps"),
            columns=(
                _c("week_start", "week", "date"),
                _c("respondents", "respondents", "count"),
                _c("promoters", "promoters", "count"),
                _c("detractors", "detractors", "count"),
                _c("nps", "NPS", "nps"),
            ),
            date_field="week_start",
        ),
        Block(
            dataset="exec_revenue_at_risk",
            chart=Chart(
                kind="hbar",
                x="theme",
                y="revenue_at_risk",
                y_label="order value at risk",
                y_kind="money",
            ),
            kpis=(Kpi(field="revenue_at_risk", label="order value at risk", kind="money"),),
            columns=(
                _c("theme", "theme"),
                _c("revenue_at_risk", "order value at risk", "money"),
                _c("negative_records", "negative records", "count"),
                _c("records_with_order_value", "with order value", "count"),
            ),
        ),
        Block(
            dataset="exec_outcome_funnel",
            chart=Chart(kind="hbar", x="stage", y="insights", y_label="insights"),
            columns=(_c("stage", "stage"), _c("insights", "insights", "count")),
        ),
        Block(
            dataset="exec_outcomes",
            chart=Chart(
                kind="hbar",
                x="insight",
                y="negative_share_delta",
                y_label="change in negative share after the fix",
                y_kind="signed_percent",
                split_variants=True,
            ),
            columns=(
                _c("theme", "theme"),
                _c("product", "product"),
                _c("owner", "owner"),
                _c("destination", "routed to"),
                _c("external_id", "ticket"),
                _c("status", "status"),
                _c("negative_share_before", "negative before", "percent"),
                _c("negative_share_after", "negative after", "percent"),
                _c("volume_per_day_before", "per day before", "number"),
                _c("volume_per_day_after", "per day after", "number"),
                _c("significant", "significant", "flag"),
                _c("nps_before", "NPS before", "nps"),
                _c("nps_after", "NPS after", "nps"),
            ),
            split="product",
        ),
        Block(
            dataset="exec_response_times",
            chart=Chart(
                kind="hbar",
                x="owner",
                y="median_hours_to_resolution",
                y_label="median hours to resolution",
                y_kind="hours",
            ),
            columns=(
                _c("owner", "owner"),
                _c("routed", "routed", "count"),
                _c("triaged", "triaged", "count"),
                _c("resolved", "resolved", "count"),
                _c("median_hours_to_triage", "to triage", "hours"),
                _c("median_hours_to_resolution", "to resolution", "hours"),
            ),
        ),
    ),
)

HEALTH = View(
    key="health",
    title="Data health",
    audience="Can these numbers be trusted today: fresh sources, a passing gate, no drift?",
    blocks=(
        Block(
            dataset="health_reporting_window",
            kpis=(Kpi(field="records_in_window", label="records in the window"),),
            columns=(
                _c("window_start", "window from", "date"),
                _c("as_of", "as of", "date"),
                _c("records_in_window", "records", "count"),
                _c("sources_in_window", "sources", "count"),
            ),
        ),
        Block(
            dataset="health_last_ingest",
            columns=(
                _c("source", "source"),
                _c("last_received_at", "last ingest", "date"),
                _c("last_feedback_date", "newest feedback", "date"),
                _c("records", "records", "count"),
                _c("records_last_7_days", "last 7 days", "count"),
            ),
            split="source",
        ),
        Block(
            dataset="health_quality_gate",
            chart=Chart(kind="hbar", x="source", y="failures", y_label="gate failures"),
            kpis=(Kpi(field="failures", label="quality-gate failures"),),
            columns=(
                _c("source", "source"),
                _c("batches_checked", "batches", "count"),
                _c("batches_quarantined", "quarantined", "count"),
                _c("volume_alerts", "volume alerts", "count"),
                _c("last_failure_at", "last failure", "date"),
            ),
            split="source",
        ),
        Block(
            dataset="health_drift_flags",
            columns=(
                _c("signal", "signal"),
                _c("dimension", "of"),
                _c("week_start", "week", "date"),
                _c("value", "value", "percent"),
                _c("threshold", "limit", "percent"),
                _c("flagged", "flagged", "flag"),
            ),
        ),
        Block(
            dataset="health_expectations",
            columns=(
                _c("dataset", "dataset"),
                _c("expectation", "rule"),
                _c("failed_rows", "failing rows", "count"),
                _c("failed_share", "share", "percent"),
            ),
        ),
    ),
)

VIEWS: tuple[View, ...] = (SUPPORT, PRODUCT, EXECUTIVE, HEALTH)
