"""The Lakeview (AI/BI) dashboard of the role views, generated from the dataset SQL files.

``databricks/src/dashboards/insightloop.lvdash.json`` is this module's output, committed so
``databricks bundle deploy`` ships it; ``python -m shared.report.lakeview`` rewrites it and
``--check`` fails when it is stale. Each dataset's ``queryLines`` are its SQL file
verbatim (tables by bare name; the bundle sets ``dataset_catalog``/``dataset_schema``), one
page per view, and each block becomes a chart, counters and a table over that dataset.
Widget specs follow the serialized format: counter, table and filters version 2, bar and
line version 3; every widget field is a plain column of its dataset, not re-aggregated,
except counters, which sum or take the max exactly like the local report's KPIs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.report.queries import QUERIES_DIR, Query, load_queries
from shared.report.views import VIEWS, Block, Chart, View
from shared.settings import PROJECT_ROOT

DASHBOARD_PATH = PROJECT_ROOT / "databricks" / "src" / "dashboards" / "insightloop.lvdash.json"
GRID_WIDTH = 6
# A DATE parameter's default: Lakeview's relative date, 14 days before today.
PARAMETER_DEFAULTS = {"release_date": "now-14d/d"}
PARAMETER_LABELS = {"release_date": "Release date"}
SPLIT_LABELS = {"source": "Source", "product": "Product"}


def _field(name: str) -> dict[str, str]:
    return {"name": name, "expression": f"`{name}`"}


def _position(x: int, y: int, width: int, height: int) -> dict[str, int]:
    return {"x": x, "y": y, "width": width, "height": height}


def _frame(title: str, description: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"showTitle": True, "title": title}
    if description:
        frame |= {"showDescription": True, "description": description}
    return frame


def dataset_json(query: Query) -> dict[str, Any]:
    dataset: dict[str, Any] = {
        "name": query.name,
        "displayName": query.title,
        "queryLines": query.sql.splitlines(keepends=True),
    }
    if query.parameters:
        dataset["parameters"] = [
            {
                "displayName": parameter.name,
                "keyword": parameter.name,
                "dataType": parameter.data_type,
                "defaultSelection": {
                    "values": {
                        "dataType": parameter.data_type,
                        "values": [{"value": PARAMETER_DEFAULTS[parameter.name]}],
                    }
                },
            }
            for parameter in query.parameters
        ]
    return dataset


def _chart_widget(block: Block, chart: Chart, query: Query) -> dict[str, Any]:
    fields = [chart.x, chart.y] + ([chart.series] if chart.series else [])
    if chart.kind == "hbar":
        encodings: dict[str, Any] = {
            "x": {
                "fieldName": chart.y,
                "displayName": chart.y_label,
                "scale": {"type": "quantitative"},
            },
            "y": {"fieldName": chart.x, "displayName": chart.x, "scale": {"type": "categorical"}},
        }
        widget_type = "bar"
    else:
        encodings = {
            "x": {"fieldName": chart.x, "displayName": chart.x, "scale": {"type": "temporal"}},
            "y": {
                "fieldName": chart.y,
                "displayName": chart.y_label,
                "scale": {"type": "quantitative"},
            },
        }
        widget_type = "line"
    if chart.series:
        encodings["color"] = {
            "fieldName": chart.series,
            "displayName": chart.series,
            "scale": {"type": "categorical"},
        }
    return {
        "name": f"{block.dataset}_chart",
        "queries": [
            {
                "name": "main_query",
                "query": {
                    "datasetName": block.dataset,
                    "fields": [_field(name) for name in dict.fromkeys(fields)],
                    "disaggregated": True,
                },
            }
        ],
        "spec": {
            "version": 3,
            "widgetType": widget_type,
            "encodings": encodings,
            "frame": _frame(query.title, query.answers),
        },
    }


def _table_widget(block: Block, query: Query, *, titled: bool) -> dict[str, Any]:
    return {
        "name": f"{block.dataset}_table",
        "queries": [
            {
                "name": "main_query",
                "query": {
                    "datasetName": block.dataset,
                    "fields": [_field(column.field) for column in block.columns],
                    "disaggregated": True,
                },
            }
        ],
        "spec": {
            "version": 2,
            "widgetType": "table",
            "encodings": {
                "columns": [
                    {"fieldName": column.field, "displayName": column.label}
                    for column in block.columns
                ]
            },
            "frame": _frame(query.title, query.answers) if titled else _frame(query.title),
        },
    }


def _counter_widgets(block: Block) -> list[dict[str, Any]]:
    widgets = []
    for kpi in block.kpis:
        name = f"{kpi.aggregate}({kpi.field})"
        value = {"fieldName": name, "displayName": kpi.label}
        widgets.append(
            {
                "name": f"{block.dataset}_{kpi.field}_counter",
                "queries": [
                    {
                        "name": "main_query",
                        "query": {
                            "datasetName": block.dataset,
                            "fields": [
                                {
                                    "name": name,
                                    "expression": f"{kpi.aggregate.upper()}(`{kpi.field}`)",
                                }
                            ],
                            "disaggregated": False,
                        },
                    }
                ],
                "spec": {
                    "version": 2,
                    "widgetType": "counter",
                    "encodings": {"value": value},
                    "frame": _frame(kpi.label),
                },
            }
        )
    return widgets


def _field_filter(view: View, split: str) -> dict[str, Any] | None:
    blocks = [block for block in view.blocks if block.split == split]
    if not blocks:
        return None
    queries, fields = [], []
    for block in blocks:
        query_name = f"filter_{block.dataset}_{split}"
        queries.append(
            {
                "name": query_name,
                "query": {
                    "datasetName": block.dataset,
                    "fields": [
                        _field(split),
                        {
                            "name": f"{split}_associativity",
                            "expression": "COUNT_IF(`associative_filter_predicate_group`)",
                        },
                    ],
                    "disaggregated": False,
                },
            }
        )
        fields.append(
            {"fieldName": split, "displayName": SPLIT_LABELS[split], "queryName": query_name}
        )
    return {
        "name": f"{view.key}_filter_{split}",
        "queries": queries,
        "spec": {
            "version": 2,
            "widgetType": "filter-multi-select",
            "encodings": {"fields": fields},
            "frame": _frame(SPLIT_LABELS[split]),
        },
    }


def _date_filter(view: View) -> dict[str, Any] | None:
    blocks = [block for block in view.blocks if block.date_field is not None]
    if not blocks:
        return None
    queries, fields = [], []
    for block in blocks:
        field = str(block.date_field)
        query_name = f"filter_{block.dataset}_{field}"
        queries.append(
            {
                "name": query_name,
                "query": {
                    "datasetName": block.dataset,
                    "fields": [
                        _field(field),
                        {
                            "name": f"{field}_associativity",
                            "expression": "COUNT_IF(`associative_filter_predicate_group`)",
                        },
                    ],
                    "disaggregated": False,
                },
            }
        )
        fields.append({"fieldName": field, "displayName": "Dates", "queryName": query_name})
    return {
        "name": f"{view.key}_filter_dates",
        "queries": queries,
        "spec": {
            "version": 2,
            "widgetType": "filter-date-range-picker",
            "encodings": {"fields": fields},
            "frame": _frame("Dates"),
        },
    }


def _parameter_filters(view: View, queries: Mapping[str, Query]) -> list[dict[str, Any]]:
    users: dict[str, list[str]] = {}
    for block in view.blocks:
        for parameter in queries[block.dataset].parameters:
            users.setdefault(parameter.name, []).append(block.dataset)
    widgets = []
    for parameter, datasets in users.items():
        entries = [
            (
                f"parameter_{dataset}_{parameter}",
                {
                    "datasetName": dataset,
                    "parameters": [{"name": parameter, "keyword": parameter}],
                    "disaggregated": False,
                },
            )
            for dataset in datasets
        ]
        widgets.append(
            {
                "name": f"{view.key}_parameter_{parameter}",
                "queries": [{"name": name, "query": query} for name, query in entries],
                "spec": {
                    "version": 2,
                    "widgetType": "filter-date-picker",
                    "encodings": {
                        "fields": [
                            {"parameterName": parameter, "queryName": name} for name, _ in entries
                        ]
                    },
                    "frame": _frame(PARAMETER_LABELS[parameter]),
                },
            }
        )
    return widgets


def page_json(view: View, queries: Mapping[str, Query]) -> dict[str, Any]:
    layout: list[dict[str, Any]] = [
        {
            "widget": {
                "name": f"{view.key}_title",
                "multilineTextboxSpec": {
                    "lines": [f"## {view.title}\n", "\n", f"{view.audience}\n"]
                },
            },
            "position": _position(0, 0, GRID_WIDTH, 2),
        }
    ]
    y = 2
    filters = [
        widget
        for widget in (
            _date_filter(view),
            _field_filter(view, "source"),
            _field_filter(view, "product"),
            *_parameter_filters(view, queries),
        )
        if widget is not None
    ]
    for index, widget in enumerate(filters):
        layout.append(
            {"widget": widget, "position": _position(2 * (index % 3), y + index // 3, 2, 1)}
        )
    y += (len(filters) + 2) // 3
    counters = [widget for block in view.blocks for widget in _counter_widgets(block)]
    for index, widget in enumerate(counters):
        layout.append(
            {"widget": widget, "position": _position(2 * (index % 3), y + 2 * (index // 3), 2, 2)}
        )
    y += 2 * ((len(counters) + 2) // 3)
    for block in view.blocks:
        query = queries[block.dataset]
        if block.chart is not None:
            layout.append(
                {
                    "widget": _chart_widget(block, block.chart, query),
                    "position": _position(0, y, 3, 6),
                }
            )
            layout.append(
                {
                    "widget": _table_widget(block, query, titled=False),
                    "position": _position(3, y, 3, 6),
                }
            )
        else:
            layout.append(
                {
                    "widget": _table_widget(block, query, titled=True),
                    "position": _position(0, y, GRID_WIDTH, 5),
                }
            )
        y += 6 if block.chart is not None else 5
    return {
        "name": view.key,
        "displayName": view.title,
        "pageType": "PAGE_TYPE_CANVAS",
        "layout": layout,
    }


def build_dashboard(queries: Mapping[str, Query], views: Sequence[View] = VIEWS) -> dict[str, Any]:
    """The serialized dashboard: every dataset the views use, one page per view."""
    used = list(dict.fromkeys(block.dataset for view in views for block in view.blocks))
    return {
        "datasets": [dataset_json(queries[name]) for name in used],
        "pages": [page_json(view, queries) for view in views],
    }


def dashboard_text(queries: Mapping[str, Query], views: Sequence[View] = VIEWS) -> str:
    """The file's exact content: stable key order and indentation, so diffs stay small."""
    return json.dumps(build_dashboard(queries, views), indent=2, ensure_ascii=False) + "\n"


def write_dashboard(text: str, path: Path = DASHBOARD_PATH) -> None:
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.report.lakeview",
        description=(
            f"Regenerate {DASHBOARD_PATH.relative_to(PROJECT_ROOT)} from the dataset SQL files "
            f"in {QUERIES_DIR.relative_to(PROJECT_ROOT)}."
        ),
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when the file is stale"
    )
    args = parser.parse_args(argv)
    text = dashboard_text(load_queries())
    current = DASHBOARD_PATH.read_text(encoding="utf-8") if DASHBOARD_PATH.exists() else ""
    if args.check:
        if current != text:
            print(
                f"{DASHBOARD_PATH} is stale: run python -m shared.report.lakeview", file=sys.stderr
            )
            return 1
        return 0
    write_dashboard(text)
    print(f"wrote {DASHBOARD_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
