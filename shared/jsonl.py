"""The JSON Lines reader of the tools' own inputs (``mask``, ``classify``): one object a line.

Export files go through :func:`shared.ingest.parsing.read_rows` instead (bounded, quarantining).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from shared.errors import PermanentInputError


def json_objects(lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per JSON line of a tool's input; blank lines skipped.

    For the ``mask`` and ``classify`` commands: a line that is not a JSON object is a
    PermanentInputError naming the line (export files go through read_rows instead).
    """
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PermanentInputError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise PermanentInputError(f"line {number}: expected a JSON object")
        yield number, row
