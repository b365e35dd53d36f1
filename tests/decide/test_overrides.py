"""Human overrides: a reviewer's decision lands as a human classification plus an audit
row with the before and after; what the taxonomy cannot hold is refused, line by line."""

from __future__ import annotations

import json
from pathlib import Path

from shared.cli import main
from shared.pipeline import IngestPipeline
from shared.settings import Settings
from shared.storage import LocalStorage
from tests.enrich.test_enrich import ingest, jsonl, reviews_csv

TEXTS = [
    "The strap broke after a week.",
    "Do you have a shop in Leeds? Also the parcel came late.",
]


def _landed(pipeline: IngestPipeline, storage: LocalStorage, tmp_path: Path) -> dict[str, dict]:
    ingest(pipeline, tmp_path, "decide.csv", reviews_csv(TEXTS))
    feedback = {row["text"]: row["record_id"] for row in jsonl(storage, "landing", "feedback/")}
    rows = jsonl(storage, "landing", "classified/") + jsonl(storage, "landing", "review/")
    by_id = {row["record_id"]: row for row in rows}
    return {text: by_id[rid] for text, rid in feedback.items()}


def test_overrides_land_as_human_decisions_with_an_audit_and_refusals_say_why(
    pipeline: IngestPipeline,
    local_storage: LocalStorage,
    settings: Settings,
    tmp_path: Path,
    monkeypatch,
    capsys,
) -> None:
    landed = _landed(pipeline, local_storage, tmp_path)
    strap = landed[TEXTS[0]]
    parcel = landed[TEXTS[1]]
    lines = [
        # keep the claimed theme (no quote needed), add a new one with a quote, lower urgency
        {
            "record_id": strap["record_id"],
            "reviewer": "agent-17",
            "reason": "also a returns case",
            "themes": [
                {"theme": "product_quality"},
                {"theme": "returns_refunds", "evidence": "strap  BROKE", "sentiment": "negative"},
            ],
            "urgency": "low",
        },
        {"record_id": parcel["record_id"], "reviewer": "agent-17", "themes": [{"theme": "legal"}]},
        {
            "record_id": parcel["record_id"],
            "reviewer": "agent-17",
            "themes": [{"theme": "shipping", "evidence": "never arrived"}],
        },
        {"record_id": parcel["record_id"], "reviewer": "agent-17", "owner": "legal_team"},
        {"record_id": "f" * 32, "reviewer": "agent-17", "sentiment": "negative"},
        "not json at all",
        {
            "record_id": parcel["record_id"],
            "reviewer": "lead-2",
            "themes": [{"theme": "shipping", "evidence": "the parcel came late"}],
            "owner": "logistics",
        },
    ]
    path = tmp_path / "overrides.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    monkeypatch.setenv("INSIGHTLOOP_LOCAL_STORAGE_ROOT", str(settings.local_storage_root))
    from shared.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["override", str(path)]) == 1  # some lines were refused
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "2 override(s) landed, 5 refused" in out
    assert "line 2: theme 'legal' is not in the taxonomy" in out
    assert "line 3: theme 'shipping': the evidence is not a quote of the text" in out
    assert "line 4: owner 'legal_team' is not a team of the taxonomy" in out
    assert f"line 5: no classification of record {'f' * 32}" in out
    assert "line 6: not an override" in out

    human = [r for r in jsonl(local_storage, "landing", "classified/") if r["method"] == "human"]
    by_id = {r["record_id"]: r for r in human}
    fixed = by_id[strap["record_id"]]
    assert [t["theme"] for t in fixed["themes"]] == ["product_quality", "returns_refunds"]
    quote = fixed["themes"][1]
    assert (
        quote["evidence"] == "strap broke"
        and TEXTS[0][quote["start"] : quote["end"]] == "strap broke"
    )
    assert fixed["urgency"] == "low" and fixed["sentiment"] == strap["sentiment"]
    assert fixed["reviewed_by"] == "agent-17" and not fixed["needs_review"]
    assert fixed["recommended_owner"] == "product"
    rerouted = by_id[parcel["record_id"]]
    assert rerouted["themes"][0]["evidence"] == "the parcel came late"
    assert rerouted["recommended_owner"] == "logistics" and rerouted["confidence"] == 1.0

    audit = [
        r for r in jsonl(local_storage, "landing", "audit/") if r.get("kind") == "human_override"
    ]
    assert {a["record_id"] for a in audit} == {strap["record_id"], parcel["record_id"]}
    strap_audit = next(a for a in audit if a["record_id"] == strap["record_id"])
    assert strap_audit["before"]["method"] == "local" and strap_audit["after"]["method"] == "human"
    assert strap_audit["reason"] == "also a returns case"
