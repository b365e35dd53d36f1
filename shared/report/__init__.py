"""Role-based insight views over the Gold tables: a local HTML report and a Lakeview dashboard.

One SQL file per dataset (``databricks/src/dashboards/queries/``) defines the numbers; the
local report runs them with DuckDB over the pipeline's parquet tables, and the bundle's
Lakeview dashboard embeds the same files.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ReportSummary", "render_report"]


def __getattr__(name: str) -> Any:
    # Lazily: the function app reads the dataset files (queries.py) without DuckDB or matplotlib.
    if name in __all__:
        from shared.report import render

        return getattr(render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
