"""`ostiary keys ...`: rotate, list and prune the signing keys in OSTIARY_KEYS_DIR."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from flask import current_app

from app.cli.common import Group, emit, warn
from app.cli.display import moment, table
from app.config import key_retention_seconds
from app.errors import ConflictError, NotFoundError
from app.security.key_schedule import EXPIRED, NEXT, KeyState, Schedule, rotation_due, schedule
from app.security.keys import add_next_key, create_key_file, key_files, keys_lock, remove_key_file

DAY_SECONDS = 24 * 3600


def _keys_dir() -> Path:
    return Path(current_app.config["KEYS_DIR"])


def _plan(now: float) -> Schedule:
    return schedule(key_files(_keys_dir()), now, key_retention_seconds(current_app.config))


def key_dict(state: KeyState) -> dict[str, Any]:
    return {"kid": state.kid, "state": state.state, "activates_at": state.key.activates_at,
            "retires_at": state.retires_at, "removable_at": state.removable_at, "file": state.key.name}


def key_table(states: Sequence[KeyState], now: float) -> str:
    rows = [(s.kid, s.state, moment(s.key.activates_at, now), moment(s.retires_at, now),
             moment(s.removable_at, now)) for s in states]
    return table(("KID", "STATE", "ACTIVATES", "RETIRES", "REMOVABLE"), rows, "No keys.")


@click.group("keys", cls=Group)
def keys_group() -> None:
    """Manage signing keys: next (published), current (signs), retired (published until its tokens expire)."""


@keys_group.command("list")
def keys_list() -> None:
    """Every key file with its state and schedule (times in UTC)."""
    now = time.time()
    plan = _plan(now)
    emit([key_dict(s) for s in plan.states], key_table(plan.states, now))


@keys_group.command("rotate")
@click.option("--now", "immediately", is_flag=True,
              help="Sign with the new key at once. Verifiers whose cached JWKS lacks it reject its tokens until "
                   "they refetch: for emergencies (a leaked key) only.")
@click.option("--if-due", is_flag=True,
              help="Only when the current key has signed for OSTIARY_KEY_ROTATION_DAYS (less the publish delay); "
                   "safe to run from cron.")
def keys_rotate(immediately: bool, if_due: bool) -> None:
    """Add a next key: published now, signing after OSTIARY_KEY_PUBLISH_DELAY_SECONDS, when the current one retires."""
    if immediately and if_due:
        raise click.UsageError("--now and --if-due exclude each other")
    config = current_app.config
    with keys_lock(_keys_dir()):
        now = time.time()
        plan = _plan(now)
        rotation_seconds = config["KEY_ROTATION_DAYS"] * DAY_SECONDS
        if if_due and not rotation_due(plan, now, rotation_seconds, config["KEY_PUBLISH_DELAY_SECONDS"]):
            emit({"rotated": False}, "Not due: no key was added.")
            return
        pending = plan.in_state(NEXT)
        if pending and not immediately:
            # The rotation asked for is on its way; a second next key would retire the first soon after it signs.
            waiting = pending[-1].key
            emit({"rotated": False, "pending": waiting.kid, "activates_at": waiting.activates_at},
                 f"{waiting.kid} is already pending: published, it signs from {moment(waiting.activates_at)}. "
                 "No key was added.")
            return
        if immediately:
            # Strictly after the current key's activation, so the two never tie: at most a second from now.
            behind = plan.current is None or plan.current.key.activates_at < int(now)
            added = create_key_file(_keys_dir(), int(now) if behind else int(now) + 1)
        else:
            added = add_next_key(_keys_dir(), config["KEY_PUBLISH_DELAY_SECONDS"], now)
    if immediately:
        time.sleep(max(0.0, added.activates_at - time.time()))  # at most a second: it signs when this returns
        warn(f"{added.kid} signs at once; verifiers that cached the key set in the last "
             f"{config['JWKS_MAX_AGE_SECONDS']} s reject its tokens until they refetch it.")
    state = next(s for s in _plan(time.time()).states if s.key == added)
    emit({"rotated": True, **key_dict(state)},
         f"Added {added.kid}: published now, signs from {moment(added.activates_at)}.")


@keys_group.command("prune")
def keys_prune() -> None:
    """Delete the files of keys no longer published: every token they signed has expired. Safe to run from cron."""
    with keys_lock(_keys_dir()):
        expired = _plan(time.time()).in_state(EXPIRED)
        for state in expired:
            remove_key_file(_keys_dir(), state.key)
    kids = [s.kid for s in expired]
    emit({"removed": kids}, "\n".join(f"Removed {kid}" for kid in kids) or "Nothing to remove.")


@keys_group.command("remove")
@click.argument("kid")
def keys_remove(kid: str) -> None:
    """Unpublish and delete a key now (a leaked one): every token it signed stops verifying."""
    with keys_lock(_keys_dir()):
        plan = _plan(time.time())
        found = next((s for s in plan.states if s.kid == kid), None)
        if found is None:
            raise NotFoundError(f"no key {kid}")
        if found is plan.current:
            raise ConflictError(f"{kid} is signing: run `ostiary keys rotate --now` first")
        remove_key_file(_keys_dir(), found.key)
    emit({"removed": [kid]}, f"Removed {kid}")
