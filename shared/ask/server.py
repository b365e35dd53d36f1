"""``insightloop mcp``: the ask tools over stdio, with the official MCP Python SDK.

The low-level ``Server`` serves :data:`~shared.ask.tools.TOOLS` as they are defined (input
and output JSON Schemas from the pydantic models, a read-only annotation on each). A call
returns the tool's output as structured content plus the same JSON as text; a refused
parameter or a Gold failure is a tool error (``is_error``) whose text says why, so the
assistant can correct itself. stdout carries the protocol only: logs go to stderr.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.ask.tools import TOOLS, GoldTools
from shared.errors import InsightloopError

if TYPE_CHECKING:
    import mcp_types
    from mcp.server.lowlevel import Server

logger = logging.getLogger(__name__)

SERVER_NAME = "insightloop"
INSTRUCTIONS = (
    "Read-only tools over insightloop's Gold tables (customer feedback insights). Cite "
    "insight_key values and record ids; quote customers only with the quotes the tools return."
)


def _require_mcp() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise InsightloopError(
            "insightloop mcp needs the MCP SDK: pip install -r requirements-dev.txt"
        ) from None


def build_server(tools: Callable[[], GoldTools]) -> Server[Any]:
    """The MCP server; ``tools`` is built on the first call (Gold opens lazily)."""
    _require_mcp()
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server

    listed = [
        types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=tool.input_schema(),
            output_schema=tool.output_schema(),
            annotations=types.ToolAnnotations(
                read_only_hint=True,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=False,
            ),
        )
        for tool in TOOLS.values()
    ]
    opened: list[GoldTools] = []

    def call(name: str, arguments: dict[str, Any] | None) -> mcp_types.CallToolResult:
        try:
            if not opened:
                opened.append(tools())  # a missing Gold is the caller's error, said in the result
            output = opened[0].call(name, arguments)
        except InsightloopError as exc:
            return _error(str(exc))
        except Exception:
            logger.exception("ask tool %s failed", name)
            return _error(f"{name} failed unexpectedly; the server log has the details")
        payload = output.model_dump(mode="json")
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(payload, ensure_ascii=False))],
            structured_content=payload,
        )

    def _error(message: str) -> mcp_types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)

    async def on_list_tools(ctx: Any, params: Any) -> mcp_types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(
        ctx: Any, params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        # Gold queries block: a worker thread keeps the protocol loop answering.
        return await anyio.to_thread.run_sync(call, params.name, params.arguments)

    return Server(
        SERVER_NAME,
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


def serve_stdio(tools: Callable[[], GoldTools]) -> None:
    """Serve until the client closes stdin."""
    server = build_server(tools)
    import anyio
    from mcp.server.stdio import stdio_server

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)


__all__ = ["build_server", "serve_stdio"]
