"""The one exception hierarchy of insightloop.

Permanent errors mean "this input will never work": the pipeline quarantines it with
the message as the reason and carries on. Transient errors mean "try again": handlers
let them propagate so the Functions runtime retries and Service Bus dead-letters.
"""

from __future__ import annotations


class InsightloopError(Exception):
    """Base class for every error the pipeline raises on purpose."""


class ConfigError(InsightloopError):
    """A settings value or a config file (source mapping, taxonomy) is invalid."""


class PermanentInputError(InsightloopError):
    """The input itself is unusable; retrying cannot help, so it is quarantined."""


class UnknownSourceError(PermanentInputError):
    """No source mapping exists for the name the input arrived under."""

    def __init__(self, source: str, known: list[str]) -> None:
        super().__init__(
            f"unknown source {source!r}: no mapping prompts/sources/{source}.yaml; "
            f"known sources: {', '.join(sorted(known)) or 'none'}"
        )
        self.source = source
        self.known = known


class UnreadableFileError(PermanentInputError):
    """The file as a whole cannot be parsed (binary, truncated gzip, no header...)."""


class RowError(PermanentInputError):
    """One row or record is invalid; only that row is quarantined, under ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class PiiMaskingError(InsightloopError):
    """Masking failed; the message never quotes the text. The batch must not land unmasked,
    so this propagates: the runtime retries and, if it keeps failing, dead-letters."""


class ModelAnswerError(InsightloopError):
    """A model's answer cannot be used as it is (a refusal, cut off at the token limit,
    not the schema). The caller splits the batch and retries; in the end the records
    go to human review with this reason, never dropped."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class TransientError(InsightloopError):
    """A dependency failed in a way that may succeed on retry (storage, network)."""


class ConcurrencyConflictError(TransientError):
    """A conditional write lost a race (ETag/If-Match or create-if-absent)."""

    def __init__(self, container: str, path: str) -> None:
        super().__init__(f"conditional write lost a race on {container}/{path}")
        self.container = container
        self.path = path


class AlreadyExistsError(ConcurrencyConflictError):
    """A create-if-absent write found the object already there."""
