"""Reading a sender's body: a JSON object validated into a model, a refusal naming the field."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import PermanentInputError


class CallbackRefusedError(PermanentInputError):
    """A refused request: ``status`` is the HTTP answer, ``message`` is safe to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_Model = TypeVar("_Model", bound=BaseModel)


class _Lenient(BaseModel):
    # Senders add fields freely; only what is read here is checked.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _validated(model: type[_Model], value: Any, what: str) -> _Model:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        # Only the location and pydantic's message: never the input value itself.
        raise CallbackRefusedError(400, f"not a {what}: {where}: {first['msg']}") from None


def _json_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise CallbackRefusedError(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise CallbackRefusedError(400, f"{what} is not a JSON object")
    return value


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)
