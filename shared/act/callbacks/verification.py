"""Request signatures: the hub (X-Hub-Signature) and timestamped (Slack v0) HMAC schemes."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

from shared.act.callbacks.payload import CallbackRefusedError

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


def hub_signature(secret: bytes, body: bytes) -> str:
    """Jira's ``X-Hub-Signature`` (WebSub): ``sha256=`` + HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def timestamped_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """Slack's v0 scheme: ``v0=`` + HMAC-SHA256 of ``v0:<timestamp>:<raw body>``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    if not given:
        return False
    # compare_digest is constant-time; senders may upper-case the hex digits.
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace"))


def verify_hub_signature(secret: bytes, body: bytes, header: str | None) -> None:
    if not _same(hub_signature(secret, body), header):
        raise CallbackRefusedError(401, "invalid signature")


def verify_timestamped_signature(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: datetime,
    window_seconds: int,
) -> None:
    """Refuse a stale or future timestamp (a replay) before checking the signature."""
    timestamp = (timestamp or "").strip()
    if not _TIMESTAMP.match(timestamp):
        raise CallbackRefusedError(401, "missing or invalid request timestamp")
    if abs(now.timestamp() - int(timestamp)) > window_seconds:
        raise CallbackRefusedError(401, "request timestamp outside the replay window")
    if not _same(timestamped_signature(secret, timestamp, body), signature):
        raise CallbackRefusedError(401, "invalid signature")
