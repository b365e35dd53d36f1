"""The ``insightloop mcp`` and ``insightloop ask`` commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shared.settings import Settings


def _settings(args: argparse.Namespace, settings: Settings) -> Settings:
    if args.warehouse is not None:
        return settings.model_copy(update={"gold_warehouse": args.warehouse})
    return settings


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from shared.ask import tools_from_settings
    from shared.ask.server import serve_stdio

    chosen = _settings(args, settings)
    serve_stdio(lambda: tools_from_settings(chosen))
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from shared.ask import tools_from_settings
    from shared.ask.answer import answer_question

    chosen = _settings(args, settings)
    if args.offline:
        chosen = chosen.model_copy(update={"llm_provider": "local"})
    answer = answer_question(args.question, tools_from_settings(chosen), chosen)
    sys.stdout.write(answer.render() + "\n")
    return 0


DEMO_QUESTION = "What are the top insights this week?"


def demo_ask(warehouse: Path, settings: Settings, console: Any, step: int) -> None:
    """The demo's last step: one question, answered offline from the Gold it just built."""
    from shared.ask import tools_from_settings
    from shared.ask.answer import offline_answer

    console.print(
        f'\n[bold]{step}. Ask[/bold] (docs/ask.md): insightloop ask "{DEMO_QUESTION}"',
        highlight=False,
        soft_wrap=True,
    )
    local = settings.model_copy(update={"gold_warehouse": warehouse, "llm_provider": "local"})
    answer = offline_answer(DEMO_QUESTION, tools_from_settings(local), Path(settings.config_dir))
    console.print(answer.render(), highlight=False, soft_wrap=True, markup=False)


def add_ask_parsers(commands: Any) -> None:
    """``mcp`` and ``ask`` on the CLI's subcommand parser."""
    warehouse_help = (
        "the local Gold tables (default INSIGHTLOOP_GOLD_WAREHOUSE, else "
        "<local root>/gold/spark-warehouse); ignored when INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID "
        "is set"
    )
    mcp = commands.add_parser(
        "mcp",
        help="serve the ask tools over stdio (MCP) for Claude Desktop, VS Code, any MCP client",
        description=(
            "A read-only MCP server over Gold: top_insights, theme_trend, search_evidence, "
            "insight_detail, outcomes, alerts, data_health. stdout is the protocol; logs go "
            "to stderr. docs/ask.md has the client configuration."
        ),
    )
    mcp.add_argument("--warehouse", type=Path, help=warehouse_help)
    mcp.set_defaults(handler=cmd_mcp)

    ask = commands.add_parser(
        "ask",
        help="answer a question from Gold, with verified quotes and record ids",
        description=(
            "With a configured model (INSIGHTLOOP_LLM_PROVIDER), the model calls the ask tools "
            "and answers citing insight keys and record ids; every quote is checked verbatim "
            "against Gold before it is printed. Offline, the question picks the closest tool "
            "by keywords and its table is printed."
        ),
    )
    ask.add_argument("question", help='e.g. "what do customers say about shipping?"')
    ask.add_argument("--warehouse", type=Path, help=warehouse_help)
    ask.add_argument("--offline", action="store_true", help="the keyword fallback, no model")
    ask.set_defaults(handler=cmd_ask)


__all__ = ["add_ask_parsers", "demo_ask"]
