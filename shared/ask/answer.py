"""``insightloop ask``: a question answered from Gold, quotes verified before they print.

With a configured model, the model calls the ask tools (OpenAI function calling over the
same :data:`~shared.ask.tools.TOOLS`) for a few rounds and writes the answer, citing
insight keys and record ids. Every double-quoted passage of two words or more in that
answer is then looked up verbatim in Gold's evidence (of the cited record when one
follows in brackets); a passage not found is removed and the answer says so, so an
invented quote never reaches the reader. Offline (``llm_provider=local``), the question
picks the closest tool by keywords and its table is printed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shared.ask.tools import TOOLS, GoldTools, ToolOutput
from shared.errors import InsightloopError, TransientError
from shared.settings import Settings

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You answer questions about customer feedback using only the insightloop tools, which "
    "read the Gold tables. Cite every insight you mention by its insight_key in brackets, "
    "e.g. [insight 3f2a...]. Quote customers only with quotes a tool returned, verbatim, in "
    'double quotes followed by the record id in brackets: "the parcel was late" [r123]. '
    "Say when the tools return nothing. Be brief."
)
# A double-quoted passage, optionally followed by its record id: "..." [r1] or "..." (r1).
_QUOTE = re.compile(
    r"(?P<open>[\"\u201c])(?P<quote>[^\"\u201c\u201d\n]{1,500})[\"\u201d]"
    r"(?:\s*[\[(](?:record(?:_id)?[:\s]*)?(?P<record>[\w.:-]{1,80})[\])])?"
)
REMOVED = "[quote removed: not found verbatim in Gold]"


@dataclass
class Answer:
    """What ``ask`` prints: the text, how it was made, and what verification took out."""

    text: str
    mode: Literal["model", "offline"]
    tools_used: list[str] = field(default_factory=list)
    removed_quotes: list[str] = field(default_factory=list)
    verified_quotes: int = 0
    unknown_insight_keys: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [self.text.rstrip()]
        if self.removed_quotes:
            lines.append(
                f"\n{len(self.removed_quotes)} quote(s) removed: not found verbatim in Gold's "
                "evidence, so not shown."
            )
        if self.mode == "model":
            used = ", ".join(self.tools_used) or "none"
            lines.append(
                f"\n(tools: {used}; {self.verified_quotes} quote(s) verified against Gold)"
            )
        return "\n".join(lines)


def answer_question(question: str, tools: GoldTools, settings: Settings) -> Answer:
    """The model's verified answer when one is configured, else the offline table."""
    if settings.llm_provider == "local":
        return offline_answer(question, tools, Path(settings.config_dir))
    from shared.decide.factory import chat_model_from_settings

    model = chat_model_from_settings(settings)
    return model_answer(
        question, tools, model.client, model.model, max_rounds=settings.ask_max_tool_rounds
    )


# ------------------------------------------------------------------ with a model


def tool_specs() -> list[dict[str, Any]]:
    """The tools as OpenAI function definitions (the same JSON Schemas MCP lists)."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.input_schema(),
            },
        }
        for tool in TOOLS.values()
    ]


def model_answer(
    question: str, tools: GoldTools, client: Any, model: str, *, max_rounds: int = 4
) -> Answer:
    """Tool calling for up to ``max_rounds`` rounds, then a final answer without tools."""
    import openai

    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question},
    ]
    specs = tool_specs()
    used: list[str] = []
    text = ""
    for round_number in range(max_rounds + 1):
        last = round_number == max_rounds
        try:
            completion = client.chat.completions.create(
                model=model,
                messages=messages,
                tools=specs,
                tool_choice="none" if last else "auto",
            )
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise TransientError(f"the model did not answer ({type(exc).__name__})") from None
        message = completion.choices[0].message
        calls = list(message.tool_calls or []) if not last else []
        if not calls:
            text = message.content or ""
            break
        messages.append(
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.function.name,
                            "arguments": call.function.arguments,
                        },
                    }
                    for call in calls
                ],
            }
        )
        for call in calls:
            used.append(call.function.name)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": _run_tool(tools, call.function),
                }
            )
    verified, removed, kept = verify_quotes(text, tools)
    unknown = sorted({key for key in _KEY.findall(verified) if not tools.knows_insight(key)})
    for key in unknown:
        verified = verified.replace(key, f"{key} (not an insight key in Gold)")
    return Answer(verified, "model", used, removed, kept, unknown)


def _run_tool(tools: GoldTools, function: Any) -> str:
    """The tool's JSON output, or its refusal for the model to correct (never raised)."""
    try:
        arguments = json.loads(function.arguments or "{}")
        if not isinstance(arguments, dict):
            raise InsightloopError("arguments must be a JSON object")
        return tools.call(function.name, arguments).model_dump_json()
    except json.JSONDecodeError:
        return json.dumps({"error": "arguments are not valid JSON"})
    except InsightloopError as exc:
        return json.dumps({"error": str(exc)})


def verify_quotes(text: str, tools: GoldTools) -> tuple[str, list[str], int]:
    """``text`` with every unverifiable quote removed; (text, removed quotes, verified count).

    A passage of one word in quotes ("shipping") names something and is left alone. A
    verified quote is printed as Gold's re-scanned text holds it (PII masked).
    """
    removed: list[str] = []
    verified = 0

    def check(match: re.Match[str]) -> str:
        nonlocal verified
        quote = match.group("quote").strip()
        if len(quote.split()) < 2:
            return match.group(0)
        found = tools.verify_quote(quote, match.group("record"))
        if found is None:
            removed.append(quote)
            return REMOVED
        verified += 1
        return match.group(0).replace(quote, found, 1)

    return _QUOTE.sub(check, text), removed, verified


# ------------------------------------------------------------------ offline

# Keywords that point at each tool; the most hits wins, ties in this order.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "insight_detail": ("insight key", "detail", "ticket for"),
    "outcomes": ("outcome", "fix", "fixed", "resolved", "worked", "before", "after", "p-value"),
    "alerts": ("alert", "spike", "anomal", "surge", "jump", "unusual"),
    "data_health": ("health", "ingest", "stale", "pipeline", "drift", "quality", "fresh"),
    "theme_trend": ("trend", "over time", "weekly", "per week", "growing", "rising", "falling"),
    "search_evidence": ("quote", "say", "said", "saying", "evidence", "complain", "mention"),
    "top_insights": ("top", "biggest", "priorit", "worst", "insight", "most", "matter"),
}
_KEY = re.compile(r"\b[0-9a-f]{32}\b")
_WORD = re.compile(r"[a-z][a-z'-]{3,}")
_STOP = frozenset(
    [
        "what",
        "which",
        "about",
        "customers",
        "customer",
        "they",
        "their",
        "there",
        "does",
        "this",
        "that",
        "with",
        "from",
        "have",
        "were",
        "when",
        "where",
        "much",
        "many",
        "more",
        "most",
        "show",
        "tell",
        "give",
        "list",
        "find",
        "says",
        "said",
        "saying",
        "quote",
        "quotes",
        "evidence",
        "feedback",
        "people",
        "users",
        "complain",
        "complaining",
        "mention",
        "mentions",
    ]
)


def choose_tool(
    question: str, themes: Sequence[tuple[str, Sequence[str]]]
) -> tuple[str, dict[str, Any]]:
    """The closest tool for ``question`` by keywords, with arguments drawn from it."""
    lowered = question.lower()
    key = _KEY.search(lowered)
    if key:
        return "insight_detail", {"insight_key": key.group(0)}
    scores = {name: sum(word in lowered for word in words) for name, words in KEYWORDS.items()}
    best = max(scores, key=lambda name: scores[name])  # first of the ties: dict order
    if scores[best] == 0:
        best = "top_insights"
    theme = _theme_in(lowered, themes)
    if best == "theme_trend":
        return ("theme_trend", {"theme": theme}) if theme else ("top_insights", {})
    if best == "search_evidence":
        phrase = re.search(r"[\"\u201c]([^\"\u201d]{2,200})[\"\u201d]", question)
        if phrase:
            return best, {"query": phrase.group(1)}
        words = [w for w in _WORD.findall(lowered) if w not in _STOP]
        if theme and (theme_words := _theme_words(theme, themes)):
            hits = [w for w in words if any(w.startswith(k[:5]) for k in theme_words)]
            words = hits or words
        if not words:
            return "top_insights", {}
        word = max(words, key=len)
        if word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # "parcels" finds "parcel" and "parcels" (a substring search)
        return best, {"query": word, **({"theme": theme} if theme else {})}
    if best == "top_insights" or best == "insight_detail":
        return "top_insights", {}
    return best, {}


def _theme_in(lowered: str, themes: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    for theme, keywords in themes:
        names = [theme.replace("_", " "), *theme.split("_"), *keywords]
        if any(
            re.search(rf"\b{re.escape(name.lower())}", lowered) for name in names if len(name) > 2
        ):
            return theme
    return None


def _theme_words(theme: str, themes: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    for name, keywords in themes:
        if name == theme:
            return [*name.split("_"), *(k.lower() for k in keywords)]
    return []


def offline_answer(question: str, tools: GoldTools, config_dir: Path) -> Answer:
    from shared.decide.taxonomy import get_taxonomy

    themes = [(t.id, t.keywords) for t in get_taxonomy(config_dir).themes if t.id != "other"]
    name, arguments = choose_tool(question, themes)
    output = tools.call(name, arguments)
    shown = ", ".join(f"{k}={v}" for k, v in arguments.items())
    header = f"{name}({shown}): offline, the tool closest to the question by its keywords"
    return Answer(f"{header}\n{format_output(output)}", "offline", [name])


# ------------------------------------------------------------------ tables

COLUMNS: dict[str, tuple[str, ...]] = {
    "insights": (
        "rank",
        "insight_key",
        "theme",
        "product",
        "segment",
        "volume",
        "negative_share",
        "severity",
        "priority",
    ),
    "weeks": ("week_start", "records", "negative_share", "wow_delta", "velocity"),
    "quotes": ("record_id", "theme", "sentiment", "created_date", "quote"),
    "evidence": ("record_id", "sentiment", "created_date", "quote"),
    "outcomes": (
        "insight_key",
        "insight",
        "status",
        "volume_per_day_before",
        "volume_per_day_after",
        "negative_share_before",
        "negative_share_after",
        "p_value",
        "significant",
    ),
    "alerts": (
        "theme",
        "dimension",
        "dimension_value",
        "metric",
        "current_value",
        "baseline_value",
        "z_score",
    ),
}


def format_output(output: ToolOutput) -> str:
    """A tool's output as plain text tables (each list field; scalars as one line)."""
    data = output.model_dump(mode="json")
    parts: list[str] = []
    scalars = []
    for name, value in data.items():
        if isinstance(value, list):
            parts.append(f"{name}:\n{format_table(value, COLUMNS.get(name))}")
        elif isinstance(value, dict):
            parts.append(f"{name}:\n{format_table([value], COLUMNS.get(name))}")
        elif value not in (None, False, 0) or name == "truncated":
            scalars.append(f"{name}={value}")
    if scalars:
        parts.append(" ".join(scalars))
    return "\n".join(parts)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "  (none)"
    names = list(columns) if columns else list(rows[0])
    cells = [[_cell(row.get(name)) for name in names] for row in rows]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(names)]
    lines = ["  " + "  ".join(name.ljust(widths[i]) for i, name in enumerate(names)).rstrip()]
    lines += [
        "  " + "  ".join(row[i].ljust(widths[i]) for i in range(len(names))).rstrip()
        for row in cells
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)  # never cut: a quote is shown verbatim or not at all


__all__ = [
    "Answer",
    "answer_question",
    "choose_tool",
    "model_answer",
    "offline_answer",
    "verify_quotes",
]
