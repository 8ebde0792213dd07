"""Output for a person: times in ISO 8601 UTC with how long ago, lists as aligned columns, no Python reprs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

EMPTY = "-"
# (seconds in the unit, its name): the largest unit that fits at least twice, so "36 hours", not "1 day".
UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def moment(timestamp: float | None, now: float | None = None) -> str:
    """2026-12-01T09:30:00Z (3 hours ago), or - for no time."""
    if timestamp is None:
        return EMPTY
    now = time.time() if now is None else now
    return f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(timestamp))} ({relative(timestamp - now)})"


def relative(seconds: float) -> str:
    """in 5 minutes, 2 days ago, just now."""
    length = abs(round(seconds))
    if length < 5:
        return "just now"
    size, unit = next((size, unit) for size, unit in UNITS if length >= 2 * size or size == 1)
    count = length // size
    span = f"{count} {unit}{'s' if count != 1 else ''}"
    return f"in {span}" if seconds > 0 else f"{span} ago"


def value(name: str, item: Any) -> str:
    """One field as a person reads it: times by their name (*_at), lists and scopes spaced, no None or True."""
    if item is None or item == "" or item == [] or item == {}:
        return EMPTY
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, int) and (name == "at" or name.endswith("_at")):
        return moment(item)
    if isinstance(item, Mapping):
        return " ".join(f"{key}={value(key, inner)}" for key, inner in sorted(item.items()))
    if isinstance(item, list | tuple):
        return " ".join(value(name, inner) for inner in item)
    return str(item)


def details(fields: Mapping[str, Any]) -> str:
    """One object, a field per line: `name   value`."""
    width = max((len(name) for name in fields), default=0)
    return "\n".join(f"{name.ljust(width)}  {value(name, item)}".rstrip() for name, item in fields.items())


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> str:
    """Aligned columns under a header, or `empty` when there is no row; times are given as moment(...)."""
    cells = [[value("", item) for item in row] for row in rows]
    if not cells:
        return empty
    widths = [max(len(line[column]) for line in [list(headers), *cells]) for column in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in [list(headers), *cells])
