"""The one retry policy: exponential backoff with jitter, ``Retry-After``, a bounded budget.

Per operation, at most ``max_attempts`` requests and ``budget_seconds`` of waiting; what is left
is a :class:`~shared.errors.TransientError`. The sinks send through it
(:class:`shared.act.sinks.http.HttpSender`); the OpenAI and Databricks SDKs retry on their own
(``max_retries``, ``retry_timeout_seconds``), so a client of them needs it only around calls the
SDK does not retry. Compare-and-swap loops on storage wait with :func:`wait_after_conflict`.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.errors import TransientError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per operation: at most ``max_attempts`` requests and ``budget_seconds`` of waiting."""

    max_attempts: int = 4
    budget_seconds: float = 30.0
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0


def retry_after_seconds(
    value: str | None, now: Callable[[], datetime] | None = None
) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


class RetryBudget:
    """The attempts and seconds one operation (e.g. find-or-create) may still spend."""

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + policy.budget_seconds
        self.attempts = 1

    def backoff(self) -> float:
        base = min(
            self.policy.max_backoff_seconds, self.policy.backoff_seconds * 2 ** (self.attempts - 1)
        )
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security

    def wait(self, delay: float, why: str) -> None:
        """Sleep before the next attempt, or raise TransientError when the budget is spent."""
        if self.attempts >= self.policy.max_attempts:
            raise TransientError(f"{why}; gave up after {self.attempts} attempts")
        if self.clock() + delay > self.deadline:
            raise TransientError(
                f"{why}; a {delay:.1f}s wait would exceed the {self.policy.budget_seconds:g}s "
                "retry budget"
            )
        self.attempts += 1
        self.sleep(delay)


def wait_after_conflict(attempt: int) -> None:
    """Before re-reading an object another writer changed: a short, jittered exponential wait."""
    time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter only
