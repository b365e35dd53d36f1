"""The ask tools behind the Functions MCP tool trigger (``functions/ask.py``).

The trigger hands each call over as JSON text (``{"arguments": {...}, ...}``); the answer
goes back in the shape the azure-functions library gives the host for a ``CallToolResult``
(``type: call_tool_result``), so the client gets structured content, or ``isError`` with
the refusal's text. In Azure, Gold is the Databricks SQL warehouse
(``INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID``); there is no local fallback there.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from shared.ask.backends import DatabricksGold
from shared.ask.tools import TOOLS, GoldTools
from shared.errors import InsightloopError
from shared.settings import get_settings

logger = logging.getLogger(__name__)

_JSON_TYPES = {"integer", "number", "string", "boolean"}


@functools.cache
def remote_tools() -> GoldTools:
    """The tools over the configured warehouse, built on the first call of the process."""
    from shared.ask import tools_from_settings

    settings = get_settings()
    return tools_from_settings(settings, DatabricksGold.from_settings(settings))


def tool_properties(name: str) -> str:
    """The trigger's ``toolProperties`` (JSON), from the tool's one input model."""
    schema = TOOLS[name].input_schema()
    required = set(schema.get("required", ()))
    properties = []
    for field, spec in schema.get("properties", {}).items():
        kinds = [spec.get("type")] + [option.get("type") for option in spec.get("anyOf", ())]
        kind = next((k for k in kinds if k in _JSON_TYPES), "string")
        choices = spec.get("enum") or next(
            (option["enum"] for option in spec.get("anyOf", ()) if "enum" in option), None
        )
        description = spec.get("description") or field.replace("_", " ")
        if choices:
            description += f" (one of: {', '.join(map(str, choices))})"
        if "maximum" in spec:
            description += f" ({spec.get('minimum', 1)}..{spec['maximum']})"
        properties.append(
            {
                "propertyName": field,
                "propertyType": kind,
                "description": description,
                "isArray": False,
                "isRequired": field in required,
            }
        )
    return json.dumps(properties)


def handle_tool_call(
    name: str, context: str | bytes, tools: Callable[[], GoldTools] = remote_tools
) -> str:
    """One MCP tool call: the tool's output as structured content, or a tool error."""
    try:
        request = json.loads(context or b"{}")
        arguments = request.get("arguments") or {} if isinstance(request, dict) else None
        if not isinstance(arguments, dict):
            raise InsightloopError(f"{name}: arguments must be a JSON object")
        payload = tools().call(name, arguments).model_dump(mode="json")
    except json.JSONDecodeError:
        return _result(f"{name}: the tool call is not valid JSON", error=True)
    except InsightloopError as exc:
        return _result(str(exc), error=True)
    except Exception:
        logger.exception("ask tool %s failed", name)
        return _result(
            f"{name} failed unexpectedly; the function app's log has the details", error=True
        )
    return _result(json.dumps(payload, ensure_ascii=False), structured=payload)


def _result(text: str, *, structured: Any = None, error: bool = False) -> str:
    call_result: dict[str, Any] = {"content": [{"type": "text", "text": text}]}
    if structured is not None:
        call_result["structuredContent"] = structured
    if error:
        call_result["isError"] = True
    return json.dumps(
        {
            "type": "call_tool_result",
            "content": json.dumps(call_result, ensure_ascii=False),
            "structuredContent": json.dumps(structured) if structured is not None else None,
        }
    )


__all__ = ["handle_tool_call", "remote_tools", "tool_properties"]
