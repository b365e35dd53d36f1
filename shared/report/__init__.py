"""Role-based insight views over the Gold tables: a local HTML report and a Lakeview dashboard.

One SQL file per dataset (``databricks/src/dashboards/queries/``) defines the numbers; the
local report runs them with DuckDB over the pipeline's parquet tables, and the bundle's
Lakeview dashboard embeds the same files.
"""

from shared.report.render import ReportSummary, render_report

__all__ = ["ReportSummary", "render_report"]
