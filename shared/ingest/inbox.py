"""Naming rule of the inbox: ``inbox/<source>/<name>`` picks the source mapping."""

from __future__ import annotations

from shared.errors import PermanentInputError


def split_inbox_path(path: str) -> tuple[str, str]:
    """``reviews/2026/export.csv`` -> (``reviews``, ``2026/export.csv``)."""
    source, _, name = path.strip("/").partition("/")
    if not source or not name:
        raise PermanentInputError(
            f"inbox path {path!r} is not <source>/<file>: put files in inbox/<source>/"
        )
    return source.lower(), name
