"""Key states as a pure function of the key files and the clock, so every worker and node agrees unasked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.security.keys import KeyFile

NEXT = "next"  # published, not signing yet: caches fetch it before it signs anything
CURRENT = "current"  # signs
RETIRED = "retired"  # published until every token it signed has expired
EXPIRED = "expired"  # no longer published; `ostiary keys prune` deletes the file


@dataclass(frozen=True)
class KeyState:
    key: KeyFile
    state: str
    retires_at: int | None  # when its successor starts signing
    removable_at: int | None  # retires_at + retention: the last token it signed has expired

    @property
    def kid(self) -> str:
        return self.key.kid

    @property
    def published(self) -> bool:
        return self.state != EXPIRED


@dataclass(frozen=True)
class Schedule:
    states: tuple[KeyState, ...]
    current: KeyState | None
    changes_at: float  # the next instant at which any state changes; math.inf when none will

    def in_state(self, state: str) -> list[KeyState]:
        return [s for s in self.states if s.state == state]


def schedule(keys: Sequence[KeyFile], now: float, retention_seconds: int) -> Schedule:
    """The newest key whose activation has passed signs; before any has, the oldest does (first start)."""
    ordered = sorted(keys)
    started = [key for key in ordered if key.activates_at <= now]
    current = started[-1] if started else (ordered[0] if ordered else None)
    states = []
    for index, key in enumerate(ordered):
        retires_at = ordered[index + 1].activates_at if index + 1 < len(ordered) else None
        removable_at = None if retires_at is None else retires_at + retention_seconds
        if key == current:
            state = CURRENT
        elif key.activates_at > now:
            state = NEXT
        elif removable_at is not None and removable_at <= now:
            state = EXPIRED
        else:
            state = RETIRED
        states.append(KeyState(key, state, retires_at, removable_at))
    upcoming = [k.activates_at for k in ordered] + [s.removable_at for s in states if s.removable_at is not None]
    return Schedule(
        states=tuple(states),
        current=next((s for s in states if s.state == CURRENT), None),
        changes_at=min((t for t in upcoming if t > now), default=math.inf),
    )


def rotation_due(plan: Schedule, now: float, rotation_seconds: int, publish_delay_seconds: int) -> bool:
    """Start the next key early enough that it signs when the current one has signed for rotation_seconds."""
    if rotation_seconds <= 0 or plan.current is None or plan.in_state(NEXT):
        return False
    return now + publish_delay_seconds >= plan.current.key.activates_at + rotation_seconds
