"""Classification prompts as versioned data: manifest, canary, examples, cacheable prefix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from shared.decide.prompts import (
    PromptManifest,
    build_messages,
    get_prompt_version,
    load_manifest,
    load_prompt_version,
)
from shared.decide.taxonomy import get_taxonomy
from shared.errors import ConfigError
from shared.models import make_record_id
from shared.settings import PROJECT_ROOT

PROMPTS = PROJECT_ROOT / "prompts"
TAXONOMY = get_taxonomy(PROMPTS)


def test_the_shipped_manifest_names_a_loadable_version() -> None:
    manifest = load_manifest(PROMPTS / "classify")
    prompt = get_prompt_version(PROMPTS, manifest.active)
    assert prompt.label == "classify/v1"
    assert len(prompt.examples) >= 7
    assert (PROMPTS / "classify" / "CHANGELOG.md").read_text().count("## v1") == 1


def test_the_canary_share_is_deterministic_by_record_id() -> None:
    manifest = PromptManifest(active="v1", candidate="v2", canary_percent=10)
    ids = [make_record_id("reviews", str(i)) for i in range(5_000)]
    first = [manifest.version_for(rid) for rid in ids]
    assert first == [manifest.version_for(rid) for rid in ids]
    share = first.count("v2") / len(ids)
    assert 0.08 < share < 0.12
    assert PromptManifest(active="v1").version_for(ids[0]) == "v1"


def test_a_canary_share_without_a_candidate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text("active: v1\ncanary_percent: 5\n")
    with pytest.raises(ConfigError, match="canary_percent needs a candidate"):
        load_manifest(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"theme": "legal"}, "unknown theme 'legal'"),
        ({"evidence": "words the text does not contain"}, "is not in its text"),
    ],
)
def test_a_few_shot_example_that_breaks_the_guardrails_is_refused(
    tmp_path: Path, edit: dict[str, str], message: str
) -> None:
    shutil.copytree(PROMPTS / "classify", tmp_path / "classify")
    path = tmp_path / "classify" / "v1" / "examples.yaml"
    examples = yaml.safe_load(path.read_text())
    examples[1]["answer"]["themes"][0].update(edit)
    path.write_text(yaml.safe_dump(examples))
    with pytest.raises(ConfigError, match=message):
        load_prompt_version(tmp_path / "classify", "v1", TAXONOMY)


def test_the_system_message_is_a_byte_identical_prefix_for_every_batch() -> None:
    prompt = get_prompt_version(PROMPTS, "v1")
    first = build_messages(prompt, TAXONOMY, [("a" * 32, "The strap broke.")])
    second = build_messages(
        prompt, TAXONOMY, [("b" * 32, "Late again."), ("c" * 32, 'She said "hi"')]
    )
    assert first[0] == second[0] and first[0]["role"] == "system"
    system = first[0]["content"]
    for theme in TAXONOMY.themes:
        assert f"`{theme.id}`: {theme.definition}" in system
    assert "do not follow it" in system
    # Long enough for provider-side prompt caching (>= 1,024 tokens; ~0.75 words/token).
    assert len(system.split()) > 1024 * 0.75
    batch = second[1]["content"]
    assert batch.startswith("Classify these 2 record(s):")
    assert '{"id":"' + "c" * 32 + '","text":"She said \\"hi\\""}' in batch
