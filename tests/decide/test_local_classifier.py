"""The offline classifier (rules + VADER) and the `insightloop classify` command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from shared.cli import main
from shared.decide.classifier import MaskedText
from shared.decide.local_classifier import LocalClassifier
from shared.decide.taxonomy import get_taxonomy
from shared.settings import PROJECT_ROOT, get_settings
from tests.openai_server import OpenAIServer, Reply

LOCAL = LocalClassifier(
    get_taxonomy(PROJECT_ROOT / "prompts"), clock=lambda: datetime(2026, 11, 27, tzinfo=UTC)
)


@pytest.mark.parametrize(
    ("text", "themes", "sentiment", "urgency", "review"),
    [
        ("Love it, highly recommend!", ["praise"], "positive", "low", False),
        ("The strap broke after a week.", ["product_quality"], "negative", "medium", False),
        (
            "Love the mug, hated the shipping.",
            ["shipping"],
            "mixed",
            "medium",
            False,
        ),
        ("I was charged twice at checkout!", ["checkout_payment"], "negative", "high", False),
        ("Do you have a shop in Leeds?", ["other"], "neutral", "low", True),
    ],
)
def test_the_local_classifier_answers_through_the_guardrails(
    text: str, themes: list[str], sentiment: str, urgency: str, review: bool
) -> None:
    result = LOCAL.classify_one(MaskedText("0" * 32, text))
    assert [c.theme for c in result.themes] == themes
    assert (result.sentiment, result.urgency, result.needs_review) == (sentiment, urgency, review)
    assert all(text[c.start : c.end] == c.evidence for c in result.themes)
    assert result.method == "local" and result.model == "local-rules-vader"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INSIGHTLOOP_LOCAL_STORAGE_ROOT", str(tmp_path / "storage"))
    for name in ("LLM_PROVIDER", "LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY"):
        monkeypatch.delenv(f"INSIGHTLOOP_{name}", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def feedback_file(tmp_path: Path) -> Path:
    path = tmp_path / "feedback.jsonl"
    path.write_bytes(
        b'{"id": "t-1", "text": "The strap broke, call me on +44 20 7946 0958"}\n'
        b"\n"
        b'{"text": "Love it, highly recommend!"}\n'
    )
    return path


def test_classify_works_offline_and_masks_before_classifying(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["classify", str(feedback_file(tmp_path)), "-o", str(out)]) == 0
    first, second = (orjson.loads(line) for line in out.read_bytes().splitlines())
    assert (first["id"], second["id"]) == ("t-1", 3)
    # the keyword rule leads (and routes); the shipped model may add a theme beside it
    assert first["themes"][0]["theme"] == "product_quality"
    assert first["recommended_owner"] == "product"
    assert second["themes"][0]["theme"] == "praise" and second["sentiment"] == "positive"
    assert "+44 20 7946 0958" not in out.read_text()
    err = capsys.readouterr().err
    assert "classified 2 record(s) with local-rules-svm: 0 for review" in err
    assert "1 PII span(s) masked first" in err


def test_classify_with_a_model_endpoint_sends_only_masked_text(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = OpenAIServer().start()
    try:
        monkeypatch.setenv("INSIGHTLOOP_LLM_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MODEL", "test-model")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MAX_RETRIES", "0")

        def reply_for(ids: list[str]) -> Reply:
            results = [
                {
                    "id": rid,
                    "themes": [{"theme": "product_quality", "evidence": "strap broke"}],
                    "sentiment": "negative",
                    "urgency": "medium",
                    "confidence": 0.9,
                }
                for rid in ids
            ]
            return Reply(content=json.dumps({"results": results}))

        server.queue(reply_for(["1", "2"]))  # the request numbers its records 1, 2
        out = tmp_path / "out.jsonl"
        argv = ["classify", str(feedback_file(tmp_path)), "-o", str(out)]
        assert main([*argv, "--provider", "openai_compatible"]) == 0
        [request] = server.requests
        body = json.dumps(request.body)
        assert "+44 20 7946 0958" not in body and "PHONE_NUMBER" in body
        first, second = (orjson.loads(line) for line in out.read_bytes().splitlines())
        assert first["method"] == "llm" and first["prompt_version"] == "classify/v1"
        assert not first["needs_review"]
        # "strap broke" is not in the second text: no evidence, no claim.
        assert second["needs_review"] and second["dropped_claims"] == 1
    finally:
        server.stop()


def test_classify_refuses_a_line_without_text(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"id": 1, "body": "x"}\n')
    assert main(["classify", str(path)]) == 2
    assert "line 1: expected an object with a `text` string" in capsys.readouterr().out
