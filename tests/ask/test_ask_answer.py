"""`insightloop ask`: the real openai SDK doing tool calls against the loopback model server,
quotes verified against a hand-built Gold; and the offline keyword fallback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.ask import GoldTools, QuoteScanner
from shared.ask.answer import REMOVED, answer_question, choose_tool, model_answer
from shared.ask.backends import DuckDbGold
from shared.cli import main
from shared.enrich.enrichment import PII_CONFIG
from shared.enrich.masking import get_masker
from shared.settings import Settings
from tests import ask_gold
from tests.ask_gold import DELIVERY_KEY, LEAKED_EMAIL, OLD_KEY
from tests.openai_server import OpenAIServer, Reply

INVENTED = "the courier threw my parcel over the fence"
THEMES = [
    ("shipping", ("delivery", "courier", "parcel", "late")),
    ("pricing_billing", ("charged", "invoice", "price")),
    ("performance_bugs", ("crash", "slow", "bug")),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ask_gold.write_gold(tmp_path_factory.mktemp("gold") / "spark-warehouse")


@pytest.fixture(scope="module")
def tools(warehouse: Path) -> GoldTools:
    scanner = QuoteScanner(get_masker(Settings().config_dir / PII_CONFIG))
    return GoldTools(DuckDbGold(warehouse), scanner, max_rows=20)


@pytest.fixture
def model():
    server = OpenAIServer().start()
    yield server
    server.stop()


def _settings(server: OpenAIServer, warehouse: Path) -> Settings:
    return Settings(
        llm_provider="openai_compatible",
        llm_base_url=f"{server.url}/v1",
        llm_model="test-model",
        llm_max_retries=0,
        gold_warehouse=warehouse,
    )


def test_the_model_calls_tools_and_an_invented_quote_never_prints(
    model: OpenAIServer, tools: GoldTools, warehouse: Path
) -> None:
    model.queue(
        Reply(tool_calls=[("top_insights", json.dumps({"window_days": 7, "limit": 1}))]),
        Reply(
            tool_calls=[("search_evidence", json.dumps({"query": "parcel", "theme": "shipping"}))]
        ),
        Reply(
            content=(
                f"Shipping is the top insight [insight {DELIVERY_KEY}]: volume doubled to 40. "
                'Customers say "the parcel arrived two weeks late" [r1] and '
                f'"{INVENTED}" [r6]. Another wrote "parcel lost, nobody answers".'
            )
        ),
    )
    answer = answer_question("What hurts shipping?", tools, _settings(model, warehouse))
    printed = answer.render()
    assert INVENTED not in printed
    assert REMOVED in printed and "1 quote(s) removed" in printed
    assert '"the parcel arrived two weeks late" [r1]' in printed
    assert '"parcel lost, nobody answers"' in printed  # verified without a record id
    assert DELIVERY_KEY in printed and answer.verified_quotes == 2
    assert answer.tools_used == ["top_insights", "search_evidence"]
    # The model saw the tools' real output: the second request carries the top insight.
    requests = [r.body for r in model.requests]
    assert [t["function"]["name"] for t in requests[0]["tools"]][:2] == [
        "top_insights",
        "theme_trend",
    ]
    tool_reply = json.loads(requests[1]["messages"][-1]["content"])
    assert tool_reply["insights"][0]["insight_key"] == DELIVERY_KEY
    assert requests[1]["messages"][-1]["role"] == "tool"


def test_an_insight_key_gold_does_not_know_is_flagged(
    model: OpenAIServer, tools: GoldTools
) -> None:
    invented = "9" * 32
    model.queue(Reply(content=f"See [insight {DELIVERY_KEY}] and [insight {invented}]."))
    answer = model_answer("keys?", tools, _client(model), "test-model")
    assert answer.unknown_insight_keys == [invented]
    assert f"{invented} (not an insight key in Gold)" in answer.render()
    assert f"{DELIVERY_KEY} (not" not in answer.render()


def test_a_real_quote_attributed_to_the_wrong_record_is_removed(
    model: OpenAIServer, tools: GoldTools
) -> None:
    model.queue(Reply(content='One customer: "the app crashes when pairing" [r1].'))
    answer = model_answer("bugs?", tools, _client(model), "test-model")
    assert "the app crashes when pairing" not in answer.render()
    assert answer.removed_quotes == ["the app crashes when pairing"]


def test_a_quote_with_pii_is_printed_masked(model: OpenAIServer, tools: GoldTools) -> None:
    model.queue(
        Reply(content=f'A business customer: "charged twice, write to {LEAKED_EMAIL}" [r3]')
    )
    printed = model_answer("billing?", tools, _client(model), "test-model").render()
    assert LEAKED_EMAIL not in printed and '"charged twice, write to <' in printed


def test_a_refused_tool_call_goes_back_to_the_model(model: OpenAIServer, tools: GoldTools) -> None:
    model.queue(
        Reply(tool_calls=[("outcomes", json.dumps({"status": "done"}))]),
        Reply(tool_calls=[("outcomes", json.dumps({"status": "resolved"}))]),
        Reply(content=f"The fix worked [insight {OLD_KEY}]: negative share 50% -> 25%, p=0.03."),
    )
    answer = model_answer("did the fixes work?", tools, _client(model), "test-model")
    refusal = json.loads(model.requests[1].body["messages"][-1]["content"])
    assert "status: Input should be" in refusal["error"]
    fixed = json.loads(model.requests[2].body["messages"][-1]["content"])
    assert fixed["outcomes"][0]["p_value"] == 0.03
    assert OLD_KEY in answer.text and not answer.removed_quotes


def test_tool_rounds_are_capped(model: OpenAIServer, tools: GoldTools) -> None:
    model.queue(
        Reply(tool_calls=[("alerts", "{}")]),
        Reply(tool_calls=[("alerts", "{}")]),
        Reply(content="Two alerts."),
    )
    answer = model_answer("alerts?", tools, _client(model), "test-model", max_rounds=2)
    assert answer.text == "Two alerts." and answer.tools_used == ["alerts", "alerts"]
    assert model.requests[-1].body["tool_choice"] == "none"


def _client(server: OpenAIServer) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)


@pytest.mark.parametrize(
    ("question", "tool", "arguments"),
    [
        ("What are the top insights this week?", "top_insights", {}),
        (
            "what do customers say about late delivery?",
            "search_evidence",
            {"query": "delivery", "theme": "shipping"},
        ),
        ('Find quotes with "two weeks"', "search_evidence", {"query": "two weeks"}),
        (
            "Is shipping growing week over week? show the trend",
            "theme_trend",
            {"theme": "shipping"},
        ),
        ("Did the fixes work? before and after", "outcomes", {}),
        ("any alerts or spikes?", "alerts", {}),
        ("Is the pipeline healthy, any stale ingest?", "data_health", {}),
        (f"tell me about {DELIVERY_KEY}", "insight_detail", {"insight_key": DELIVERY_KEY}),
        ("hello", "top_insights", {}),
    ],
)
def test_offline_the_question_picks_the_closest_tool(
    question: str, tool: str, arguments: dict[str, Any]
) -> None:
    assert choose_tool(question, THEMES) == (tool, arguments)


def test_offline_ask_prints_the_tools_table(
    warehouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INSIGHTLOOP_LLM_PROVIDER", raising=False)
    code = main(
        ["ask", "--offline", "--warehouse", str(warehouse), "what do customers say about parcels?"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("search_evidence(query=parcel, theme=shipping)")
    assert "r1" in out and "the parcel arrived two weeks late" in out
    code = main(["ask", "--warehouse", str(warehouse), "did the fixes work?"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("outcomes()")
    assert "OPS-7" not in out and OLD_KEY in out and "0.03" in out
