"""Options that take a time: ISO 8601, Unix seconds, or a duration from now (`--since 1h`, `--expires 90d`)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import click

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"(?:[0-9]{1,9}[smhdw])+")
DURATION_PART = re.compile(r"([0-9]+)([smhdw])")
FORMATS = ("an ISO 8601 date or time (2026-12-01, 2026-12-01T09:30:00Z, 2026-12-01T10:30:00+01:00; UTC if no "
           "offset), Unix seconds, or a duration {direction} (30m, 1h, 1h30m, 7d, 2w)")


def duration_seconds(text: str) -> int | None:
    """1h30m -> 5400; None if `text` is not a duration."""
    if not DURATION.fullmatch(text):
        return None
    return sum(int(count) * UNIT_SECONDS[unit] for count, unit in DURATION_PART.findall(text))


def parse_moment(text: str, *, now: float, ago: bool) -> int:
    """Unix seconds of an ISO 8601 date or time, of Unix seconds, or of a duration before (ago) or after now."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    seconds = duration_seconds(text)
    if seconds is not None:
        return int(now - seconds if ago else now + seconds)
    moment = datetime.fromisoformat(text)  # ValueError for anything else
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


class Moment(click.ParamType):
    """A time on the command line; a duration counts back from now (ago=True) or forward."""

    name = "time"

    def __init__(self, *, ago: bool) -> None:
        self.ago = ago

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_moment(str(value), now=time.time(), ago=self.ago)
        except (ValueError, OverflowError, OSError):
            self.fail(f"{value!r} is not {FORMATS.format(direction='ago' if self.ago else 'from now')}", param, ctx)


PAST = Moment(ago=True)
FUTURE = Moment(ago=False)
