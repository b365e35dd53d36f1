"""A deployment's quota, shared by every model call of a process: tokens and requests.

Azure OpenAI admits a request on an estimate (prompt tokens + ``max_tokens``) against
the deployment's tokens/minute, and counts requests against requests/minute; past
either it answers 429 with ``retry-after-ms``. :class:`QuotaLimiter` keeps each process
under its share (the deployment's caps divided by the instances sharing it) with two
token buckets, so calls run as fast as the quota allows and no faster:

* a bucket holds at most ``burst_seconds`` of quota and refills at the rest of the
  minute's share less ``headroom`` (the service's token count is not ours to the token,
  and arrivals jitter), so any 60-second window admits at most the cap;
* a request larger than the bucket grows the bucket to its size and slows the refill by
  as much, so the bound holds (a request over half the minute's share is refused);
* ``x-ratelimit-remaining-tokens`` / ``-requests`` lower the buckets when another
  client uses the same deployment, and a 429's retry-after pauses every caller.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MINUTE_S = 60.0
HEADROOM = 0.02  # of the cap, left for estimate error and arrival jitter


@dataclass(slots=True)
class LimiterStats:
    """What the limiter did, for telemetry and the bench."""

    admitted_requests: int = 0
    admitted_tokens: int = 0
    waited_s: float = 0.0
    throttled: int = 0  # 429s reported by callers
    paused_s: float = 0.0


class _Bucket:
    def __init__(self, per_minute: float, burst_seconds: float, now: float) -> None:
        self.per_minute = per_minute * (1 - HEADROOM)
        self.level = 0.0
        self._size(max(per_minute * burst_seconds / MINUTE_S, 1.0))
        self.level = self.capacity
        self.updated = now

    def _size(self, capacity: float) -> None:
        if capacity > self.per_minute / 2:
            raise ValueError(
                f"one request ({capacity:.0f}) is over half of this instance's quota per "
                f"minute ({self.per_minute:.0f}): raise the quota or lower the batch size"
            )
        self.capacity = capacity
        # The bucket plus a minute of refill never exceed the minute's cap.
        self.rate = (self.per_minute - capacity) / MINUTE_S

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` fits; a request over the bucket's size grows it."""
        if amount > self.capacity:
            self._size(amount)
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate


class QuotaLimiter:
    """Thread-safe; :meth:`acquire` blocks until a call of ``tokens`` fits both caps."""

    def __init__(
        self,
        *,
        tokens_per_minute: int | None,
        requests_per_minute: int | None,
        instances: int = 1,
        burst_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if instances < 1 or burst_seconds <= 0:
            raise ValueError("instances must be >= 1 and burst_seconds > 0")
        self.clock = clock
        self.sleep = sleep
        self.instances = instances
        now = clock()
        self.tokens = (
            _Bucket(tokens_per_minute / instances, burst_seconds, now)
            if tokens_per_minute
            else None
        )
        self.requests = (
            _Bucket(requests_per_minute / instances, burst_seconds, now)
            if requests_per_minute
            else None
        )
        self.tokens_per_minute = tokens_per_minute
        self.requests_per_minute = requests_per_minute
        self.stats = LimiterStats()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> None:
        """Wait until a request estimated at ``tokens`` may be sent, then count it."""
        started = self.clock()
        while True:
            with self._lock:
                now = self.clock()
                wait = max(self._paused_until - now, 0.0)
                for bucket, amount in ((self.tokens, tokens), (self.requests, 1)):
                    if bucket is not None:
                        bucket.refill(now)
                        wait = max(wait, bucket.wait_for(amount))
                if wait <= 0:
                    if self.tokens is not None:
                        self.tokens.level -= tokens
                    if self.requests is not None:
                        self.requests.level -= 1
                    self.stats.admitted_requests += 1
                    self.stats.admitted_tokens += tokens
                    self.stats.waited_s += now - started
                    return
            self.sleep(min(wait, 1.0) + 0.001)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Lower the buckets to what the service says remains (another client shares it)."""
        with self._lock:
            now = self.clock()
            for bucket, name in (
                (self.tokens, "x-ratelimit-remaining-tokens"),
                (self.requests, "x-ratelimit-remaining-requests"),
            ):
                remaining = _number(headers.get(name))
                if bucket is not None and remaining is not None:
                    bucket.refill(now)
                    # The service's count is for every instance; this one's share of it.
                    bucket.level = min(bucket.level, remaining / self.instances)

    def pause(self, seconds: float) -> None:
        """A 429: nobody sends until the service's retry-after has passed."""
        with self._lock:
            self.stats.throttled += 1
            until = self.clock() + seconds
            if until > self._paused_until:
                self.stats.paused_s += until - max(self._paused_until, self.clock())
                self._paused_until = until


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Azure's ``retry-after-ms`` first, then ``retry-after`` (seconds); None if absent."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    return _number(headers.get("retry-after"))


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None  # an HTTP date or garbage: the caller backs off on its own
    return number if math.isfinite(number) and number >= 0 else None


__all__ = ["LimiterStats", "QuotaLimiter", "retry_after_seconds"]
