"""Ask: answer questions from Gold with read-only tools (MCP over stdio or on Functions).

Reads the Gold tables through the dashboards' SQL files; lands nothing (no write tools).
"""

from __future__ import annotations

from pathlib import Path

from shared.ask.backends import GoldBackend, backend_from_settings
from shared.ask.remote import handle_tool_call, tool_properties
from shared.ask.safety import QuoteScanner
from shared.ask.tools import TOOLS, GoldTools, ToolInputError, validate_input
from shared.settings import Settings


def tools_from_settings(settings: Settings, backend: GoldBackend | None = None) -> GoldTools:
    """The tools over the configured Gold (Databricks with a warehouse id, else local)."""
    from shared.enrich.enrichment import PII_CONFIG
    from shared.enrich.masking import get_masker

    masker = get_masker(Path(settings.config_dir) / PII_CONFIG)
    return GoldTools(
        backend if backend is not None else backend_from_settings(settings),
        QuoteScanner(masker),
        max_rows=settings.ask_max_rows,
    )


__all__ = [
    "TOOLS",
    "GoldTools",
    "QuoteScanner",
    "ToolInputError",
    "handle_tool_call",
    "tool_properties",
    "tools_from_settings",
    "validate_input",
]
