"""Settings details that deployments depend on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import Settings, SettingsError, describe_settings_errors, get_settings

REFERENCE = "@Microsoft.KeyVault(SecretUri=https://vault.vault.azure.net/secrets/slack/)"


def test_an_unresolved_key_vault_reference_counts_as_unset() -> None:
    # App Service passes a reference it cannot resolve as literal text; using it as the
    # secret would fail every signature check instead of answering "not configured".
    settings = Settings(slack_bot_token=REFERENCE, callbacks_slack_signing_secret=REFERENCE)
    assert settings.slack_bot_token is None
    assert settings.callbacks_slack_signing_secret is None
    real = Settings(slack_bot_token="xoxb-123")  # noqa: S106 - a test value
    assert real.slack_bot_token is not None
    assert real.slack_bot_token.get_secret_value() == "xoxb-123"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("INSIGHTLOOP_CLASSIFY_BATCH_SIZE", "abc", "expected a valid integer"),
        ("INSIGHTLOOP_CLASSIFY_BATCH_SIZE", "500", "expected less than or equal to 100"),
        ("INSIGHTLOOP_STORAGE_BACKEND", "blobs", "expected 'local' or 'blob'"),
        ("INSIGHTLOOP_CALLBACKS_REQUIRE_SIGNATURES", "maybe", "expected a valid boolean"),
    ],
)
def test_a_bad_environment_variable_is_named_with_its_value_and_what_is_expected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    (line,) = caught.value.problems
    assert line.startswith(f"{variable}={value!r}: {expected}")
    assert "pydantic" not in str(caught.value)
    assert "http" not in str(caught.value)


def test_every_problem_gets_its_own_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INSIGHTLOOP_CLASSIFY_BATCH_SIZE", "0")
    monkeypatch.setenv("INSIGHTLOOP_LLM_TIMEOUT_SECONDS", "soon")
    monkeypatch.setenv("INSIGHTLOOP_SLACK_BOT_TOKEN", "")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert len(caught.value.problems) == 2
    assert str(caught.value).splitlines()[0] == "2 invalid setting(s):"
    assert sorted(caught.value.problems) == [
        "INSIGHTLOOP_CLASSIFY_BATCH_SIZE='0': expected greater than or equal to 1",
        "INSIGHTLOOP_LLM_TIMEOUT_SECONDS='soon': expected a valid number, unable to parse "
        "string as a number",
    ]


def test_a_cross_field_rule_keeps_its_own_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTLOOP_STORAGE_BACKEND", "blob")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert caught.value.problems == [
        "INSIGHTLOOP_STORAGE_BACKEND=blob needs INSIGHTLOOP_STORAGE_ACCOUNT_URL "
        "(managed identity) or INSIGHTLOOP_STORAGE_CONNECTION_STRING (Azurite)"
    ]


def test_a_bad_secret_is_named_but_not_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(llm_api_key=["not", "a", "string"])  # type: ignore[arg-type]
    (line,) = describe_settings_errors(caught.value)
    assert line.startswith("INSIGHTLOOP_LLM_API_KEY=(hidden: a secret): expected")
    assert "not" not in line.split(":", 1)[0]


def test_the_cli_prints_the_lines_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.cli import main

    monkeypatch.setenv("INSIGHTLOOP_CLASSIFY_BATCH_SIZE", "lots")
    get_settings.cache_clear()
    try:
        code = main(["demo", "--no-gold"])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert code == 2
    assert "INSIGHTLOOP_CLASSIFY_BATCH_SIZE='lots': expected a valid integer" in out
    assert "errors.pydantic.dev" not in out
