"""Ask the insights, remotely: the ask tools as MCP tools of the function app.

The MCP extension serves them at ``/runtime/webhooks/mcp`` (Streamable HTTP; ``/sse`` for
older clients), guarded by the ``mcp_extension`` system key, or by Entra when App Service
authentication is on (docs/ask.md). One trigger per tool, each named ``ask_<tool>``; the
tool's schema and behaviour are the shared definition (``shared/ask/tools.py``).
"""

import logging
from typing import Any

import azure.functions as func

from shared.ask import TOOLS, handle_tool_call, tool_properties

logger = logging.getLogger(__name__)

bp = func.Blueprint()


def _register(name: str) -> Any:
    @bp.function_name(f"ask_{name}")
    @bp.mcp_tool_trigger(
        arg_name="context",
        tool_name=name,
        description=TOOLS[name].description,
        tool_properties=tool_properties(name),
        use_result_schema=True,
    )
    def handler(context: str) -> str:
        """Fires on an MCP tools/call for this tool; answers from Gold (read-only)."""
        return handle_tool_call(name, context)

    return handler


HANDLERS = {name: _register(name) for name in TOOLS}
