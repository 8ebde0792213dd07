"""`ostiary keys list|rotate|prune|remove`, in-process against an installation of its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.cli import cli
from app.security.keys import create_key_file, key_files
from tests.settings import installation

DAY = 86400


@pytest.fixture
def keys_app(tmp_path: Path) -> Flask:
    """Default key settings: 600 s tokens + 300 s leeway = 900 s retention, 3600 s publish delay, 90-day period."""
    return create_app(installation(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "keys"))


@pytest.fixture
def own_keys(keys_app: Flask) -> Path:
    return Path(keys_app.config["KEYS_DIR"])


def keys(keys_app: Flask, *args: str):
    result = keys_app.test_cli_runner().invoke(cli, ["keys", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def states(keys_app: Flask) -> dict[str, str]:
    return {k["kid"]: k["state"] for k in keys(keys_app, "list")}


def test_a_first_start_has_one_current_key(keys_app, own_keys):
    [only] = keys(keys_app, "list")
    assert only["state"] == "current" and only["retires_at"] is None
    assert (own_keys / only["file"]).exists()


def test_rotate_adds_a_next_key_that_signs_after_the_publish_delay(keys_app):
    [current] = keys(keys_app, "list")
    before = time.time()
    added = keys(keys_app, "rotate")
    assert added["rotated"] is True and added["state"] == "next"
    assert before + 3600 <= added["activates_at"] <= time.time() + 3601
    listed = {k["kid"]: k for k in keys(keys_app, "list")}
    assert listed[current["kid"]]["state"] == "current"
    assert listed[current["kid"]]["retires_at"] == added["activates_at"]
    assert listed[current["kid"]]["removable_at"] == added["activates_at"] + 900


def test_rotate_if_due_follows_the_rotation_period(keys_app, own_keys):
    assert keys(keys_app, "rotate", "--if-due") == {"rotated": False}  # a fresh key is not due
    old = create_key_file(own_keys, int(time.time()) - 90 * DAY)
    for path in own_keys.glob("*.pem"):
        if path.name != old.name:
            path.unlink()
    assert keys(keys_app, "rotate", "--if-due")["rotated"] is True
    assert keys(keys_app, "rotate", "--if-due") == {"rotated": False}  # the next key is on its way: once is enough
    assert len(key_files(own_keys)) == 2


def test_a_second_rotate_while_a_next_key_is_pending_says_so_and_adds_none(keys_app, own_keys):
    pending = keys(keys_app, "rotate")
    again = keys(keys_app, "rotate")
    assert again == {"rotated": False, "pending": pending["kid"], "activates_at": pending["activates_at"]}
    assert len(key_files(own_keys)) == 2
    text = keys_app.test_cli_runner().invoke(cli, ["keys", "rotate"]).stdout
    assert f"{pending['kid']} is already pending" in text and "No key was added" in text


def test_rotate_now_signs_at_once_and_warns(keys_app):
    [old] = keys(keys_app, "list")
    result = keys_app.test_cli_runner().invoke(cli, ["keys", "rotate", "--now"])
    assert result.exit_code == 0
    assert "signs at once" in result.stderr and "600 s" in result.stderr
    listed = states(keys_app)
    assert listed[old["kid"]] == "retired"
    assert sorted(listed.values()) == ["current", "retired"]


def test_rotate_now_and_if_due_exclude_each_other(keys_app):
    result = keys_app.test_cli_runner().invoke(cli, ["keys", "rotate", "--now", "--if-due"])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_prune_deletes_only_keys_whose_tokens_have_all_expired(keys_app, own_keys):
    for path in own_keys.glob("*.pem"):
        path.unlink()
    now = int(time.time())
    gone = create_key_file(own_keys, now - 10_000)  # retired at now-5000: removable since now-4100
    retired = create_key_file(own_keys, now - 5_000)  # retired now: its tokens are still valid
    current = create_key_file(own_keys, now)
    assert states(keys_app) == {gone.kid: "expired", retired.kid: "retired", current.kid: "current"}

    assert keys(keys_app, "prune") == {"removed": [gone.kid]}
    assert key_files(own_keys) == [retired, current]
    assert keys(keys_app, "prune") == {"removed": []}


def test_remove_unpublishes_a_leaked_key_but_never_the_signing_one(keys_app, own_keys):
    [leaked] = keys(keys_app, "list")
    runner = keys_app.test_cli_runner()
    refused = runner.invoke(cli, ["keys", "remove", leaked["kid"]])
    assert refused.exit_code == 1 and "rotate --now" in refused.output
    assert runner.invoke(cli, ["keys", "remove", "no-such-kid"]).exit_code == 1

    runner.invoke(cli, ["keys", "rotate", "--now"])
    assert keys(keys_app, "remove", leaked["kid"]) == {"removed": [leaked["kid"]]}
    assert leaked["kid"] not in states(keys_app)
    assert "Traceback" not in refused.output
