"""Every sink's HTTP client, sending through the one retry policy of shared.retry.

Retries: 429 and 5xx (and connection failures) are retried with exponential backoff,
honouring ``Retry-After``, within a bounded number of attempts and seconds; what is
left is a :class:`~shared.errors.TransientError` (the destination stays pending). A
create whose outcome is unknown (a 5xx or a timeout after the request went out) is not
blindly repeated: the marker lookup runs first. Refused credentials (401/403, Slack
``invalid_auth``...) are a :class:`~shared.errors.ConfigError`; any other rejection is a
:class:`~shared.errors.PermanentInputError`. Error messages carry the method, path and
status only: never a URL (Teams webhook URLs embed a signature) nor feedback text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from shared.errors import ConfigError, PermanentInputError, TransientError
from shared.retry import RetryBudget, RetryPolicy, retry_after_seconds
from shared.settings import Settings

USER_AGENT = "insightloop-routing/0.1"

Found = TypeVar("Found")


def _error_detail(response: httpx.Response) -> str:
    """A short, text-free reason from an error body: field names or an error code."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("errors"), dict) and body["errors"]:
        return " (fields: " + ", ".join(sorted(map(str, body["errors"])))[:200] + ")"
    error = body.get("error")
    if isinstance(error, str) and re.fullmatch(r"[a-z_]{1,60}", error):
        return f" ({error})"
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f" ({error['message'][:100]})"
    return ""


class HttpSender:
    """One sink's HTTP client with the retry rules of the module docstring."""

    def __init__(
        self,
        name: str,
        client: httpx.Client,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.client = client
        self.policy = policy
        self.clock = clock
        self.sleep = sleep

    def budget(self) -> RetryBudget:
        return RetryBudget(self.policy, self.clock, self.sleep)

    def request(
        self, method: str, url: str, *, what: str, budget: RetryBudget | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send, retrying 429, 5xx and transport failures (for requests safe to repeat)."""
        response = self._send(method, url, what, budget or self.budget(), True, kwargs)
        assert response is not None  # retry_unknown=True never returns None
        return response

    def attempt(
        self, method: str, url: str, *, what: str, budget: RetryBudget, **kwargs: Any
    ) -> httpx.Response | None:
        """Send a create: None when its outcome is unknown (the caller looks it up first)."""
        return self._send(method, url, what, budget, False, kwargs)

    def find_or_create(
        self, find: Callable[[RetryBudget], Found | None], url: str, *, what: str, **kwargs: Any
    ) -> tuple[Found | None, httpx.Response | None]:
        """A create never blindly repeated: before each attempt, look for its marker first.

        (found, None) when an earlier attempt landed it, (None, response) when this one did.
        """
        budget = self.budget()
        while True:
            found = find(budget)
            if found is not None:
                return found, None
            response = self.attempt("POST", url, what=what, budget=budget, **kwargs)
            if response is not None:
                return None, response

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        budget: RetryBudget,
        retry_unknown: bool,
        kwargs: dict[str, Any],
    ) -> httpx.Response | None:
        label = f"{self.name} {what}"
        while True:
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise ConfigError(f"{label}: the endpoint setting is not a usable URL") from exc
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the server: always safe to try again.
                budget.wait(budget.backoff(), f"{label}: unreachable ({type(exc).__name__})")
                continue
            except httpx.TransportError as exc:
                budget.wait(budget.backoff(), f"{label}: no answer ({type(exc).__name__})")
                if not retry_unknown:
                    return None
                continue
            status = response.status_code
            if status < 300:
                return response
            if status in (401, 403):
                raise ConfigError(
                    f"{label} was refused (HTTP {status}): check the {self.name} credentials "
                    "and their permissions"
                )
            delay = retry_after_seconds(response.headers.get("retry-after"))
            if status == 429:
                # A throttled request was not processed: repeating it cannot duplicate.
                budget.wait(delay if delay is not None else budget.backoff(), f"{label}: HTTP 429")
                continue
            if status == 408 or status >= 500:
                budget.wait(
                    delay if delay is not None else budget.backoff(), f"{label}: HTTP {status}"
                )
                if not retry_unknown:
                    return None
                continue
            raise PermanentInputError(
                f"{label} was rejected: HTTP {status}{_error_detail(response)}"
            )

    def close(self) -> None:
        self.client.close()


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise TransientError(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise TransientError(f"{what}: the answer is not a JSON object")
    return body


def _client(
    settings: Settings, headers: Mapping[str, str] | None = None, **kwargs: Any
) -> httpx.Client:
    return httpx.Client(
        timeout=settings.routing_http_timeout_seconds,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        follow_redirects=False,
        **kwargs,
    )


def basic_auth_sender(
    name: str,
    settings: Settings,
    policy: RetryPolicy,
    base_url: str | None,
    user: str | None,
    secret: SecretStr | None,
    missing: str,
) -> tuple[str, HttpSender]:
    """(base URL, sender) of a sink that signs in with basic auth; ``missing`` when half set."""
    if not (user and secret):
        raise ConfigError(missing)
    base = (base_url or "").rstrip("/")
    client = _client(settings, base_url=base, auth=(user, secret.get_secret_value()))
    return base, HttpSender(name, client, policy)


def policy_from_settings(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.routing_max_attempts,
        budget_seconds=settings.routing_retry_budget_seconds,
    )
