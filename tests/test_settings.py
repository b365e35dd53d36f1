"""Settings details that deployments depend on."""

from __future__ import annotations

from shared.settings import Settings

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
