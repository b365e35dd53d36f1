"""How the report prints values: 1,234 / 12.5k / 3.4M, 34%, +12%, 3.5 h, 2026-01-05."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.report.views import ValueKind

MISSING = "—"
_SUFFIXES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))
# Below this a count is written out in full (9,999); from it on, abbreviated (12.5k).
ABBREVIATE_FROM = 10_000


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return None if math.isnan(number) else number
    return None


def format_count(value: float) -> str:
    """1,234 below ten thousand; 12.5k, 3.4M, 1.2B above (one decimal, dropped when .0)."""
    magnitude = abs(value)
    if magnitude < ABBREVIATE_FROM:
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    for threshold, suffix in _SUFFIXES:
        if magnitude >= threshold:
            scaled = f"{value / threshold:.1f}".removesuffix(".0")
            return f"{scaled}{suffix}"
    return f"{value:,.0f}"


def format_percent(share: float, *, signed: bool = False) -> str:
    """A share 0..1 as a percentage: whole percents from 10%, one decimal below (4.5%)."""
    percent = share * 100
    decimals = 0 if abs(percent) >= 10 or percent == 0 else 1
    text = f"{percent:.{decimals}f}".removesuffix(".0")
    if text in {"-0", "0"}:
        text = "0"
    sign = "+" if signed and percent > 0 and text != "0" else ""
    return f"{sign}{text}%"


# A weekly row whose week runs past the reporting date carries ``partial = true``.
PARTIAL_FIELD = "partial"
PARTIAL_LABEL = "partial"


def format_value(value: Any, kind: ValueKind) -> str:
    """``value`` as the report shows it; a missing value is an em dash, never "None"."""
    if value is None:
        return MISSING
    if kind == "text":
        return str(value)
    if kind == "date":
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind == "flag":
        return "yes" if value else "no"
    number = _number(value)
    if number is None:
        return str(value)
    if kind == "percent":
        return format_percent(number)
    if kind == "signed_percent":
        return format_percent(number, signed=True)
    if kind == "hours":
        return f"{number:,.1f} h" if number < ABBREVIATE_FROM else f"{format_count(number)} h"
    if kind == "nps":
        return f"{number:+.0f}" if round(number) != 0 else "0"
    if kind == "number" and abs(number) < ABBREVIATE_FROM and not number.is_integer():
        return f"{number:,.2f}".rstrip("0").rstrip(".")
    return format_count(number)
