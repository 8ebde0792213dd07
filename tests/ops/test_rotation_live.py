"""A running `ostiary serve` (two gunicorn workers) follows keys rotated by the CLI, without a restart."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
import requests

from tests.factories import RegisteredClient
from tests.flows import machine_token as access_token
from tests.ops.protected_api import create_api
from tests.processes import eventually, free_port, ostiary_env, ostiary_json, serve

# A whole lifecycle in seconds: published 4 s before signing, retired keys kept 3 s (the token lifetime).
FAST_KEYS = {
    "JWKS_MAX_AGE_SECONDS": 1,
    "KEY_RESCAN_SECONDS": 1,
    "KEY_PUBLISH_DELAY_SECONDS": 4,
    "ACCESS_TOKEN_TTL_SECONDS": 3,
    "ID_TOKEN_TTL_SECONDS": 3,
    "KEY_RETIRE_LEEWAY_SECONDS": 0,
}


@pytest.fixture
def env(app, database_url: str, tmp_path: Path) -> dict[str, str]:
    """An installation sharing the test database, with keys of its own."""
    return ostiary_env(database_url, tmp_path / "keys", free_port(), **FAST_KEYS)


def signing_kids(base_url: str, machine: RegisteredClient, count: int = 8) -> set[str]:
    return {jwt.get_unverified_header(access_token(base_url, machine))["kid"] for _ in range(count)}


def published_kids(base_url: str) -> list[str]:
    return [key["kid"] for key in requests.get(f"{base_url}/.well-known/jwks.json").json()["keys"]]


@dataclass
class Sample:
    """One request: when it started and ended, and the kids it saw (the token's, or the published ones)."""

    kind: str
    started: float
    ended: float
    kids: list[str]


def observe(base_url: str, machine: RegisteredClient, until: float) -> list[Sample]:
    """Issue tokens and fetch the key set in turn until the given time."""
    samples = []
    while time.time() < until:
        started = time.time()
        kid = jwt.get_unverified_header(access_token(base_url, machine))["kid"]
        samples.append(Sample("token", started, time.time(), [kid]))
        started = time.time()
        kids = published_kids(base_url)
        samples.append(Sample("jwks", started, time.time(), kids))
    return samples


def test_a_key_rotated_by_the_cli_is_published_then_signs_then_goes(env, make, tmp_path):
    machine = make.machine()
    with serve(env, tmp_path / "server.log", workers=2) as node:
        base_url = node.url
        [first] = signing_kids(base_url, machine)
        added = ostiary_json(env, "keys", "rotate")
        rotated = time.time()  # the key file exists
        new, activates = added["kid"], added["activates_at"]
        removable = activates + FAST_KEYS["ACCESS_TOKEN_TTL_SECONDS"]
        samples = observe(base_url, machine, until=removable + 1.5)
        tokens = [s for s in samples if s.kind == "token"]
        key_sets = [s for s in samples if s.kind == "jwks"]

        # Checked against each request's own start and end, so a slow machine cannot make this flaky.
        assert all(s.kids == [first] for s in tokens if s.ended < activates), "signed before its activation"
        assert all(s.kids == [new] for s in tokens if s.started >= activates), "not signing after its activation"
        assert all(new in s.kids for s in key_sets if s.started >= rotated + FAST_KEYS["KEY_RESCAN_SECONDS"])
        assert all(first in s.kids for s in key_sets if s.ended < removable), "retired key left too early"
        assert all(s.kids == [new] for s in key_sets if s.started >= removable), "expired key still published"
        # Every state was seen: next (published, not signing), current, and the old key's removal.
        assert any(s.ended < activates and new in s.kids for s in key_sets)
        assert any(s.started >= activates for s in tokens) and any(s.started >= removable for s in key_sets)

        assert ostiary_json(env, "keys", "prune") == {"removed": [first]}
        assert [k["kid"] for k in ostiary_json(env, "keys", "list")] == [new]


def test_an_emergency_rotation_signs_at_once_and_the_example_api_refetches_for_it(env, make, tmp_path):
    machine = make.machine(scope="orders:read")
    with serve(env, tmp_path / "server.log", workers=2) as node:
        base_url = node.url
        api = create_api(issuer=base_url, audience=base_url)
        api.extensions["token_verifier"].jwks.cooldown_duration = 0.5  # the 30 s default, shortened for the test
        client = api.test_client()
        leaked_token = access_token(base_url, machine)
        leaked = jwt.get_unverified_header(leaked_token)["kid"]
        assert client.get("/orders", headers={"Authorization": f"Bearer {leaked_token}"}).status_code == 200

        added = ostiary_json(env, "keys", "rotate", "--now")
        eventually(lambda: all(signing_kids(base_url, machine, 1) == {added["kid"]} for _ in range(8)), interval=0.1,
                   what="every worker signs with the new key")
        # The API's cached key set lacks the new kid: it refetches, since the last fetch is older than the interval.
        response = client.get("/orders", headers={"Authorization": f"Bearer {access_token(base_url, machine)}"})
        assert response.status_code == 200, response.get_json()

        ostiary_json(env, "keys", "remove", leaked)
        eventually(lambda: all(published_kids(base_url) == [added["kid"]] for _ in range(8)), interval=0.1,
                   what="every worker publishes the new key alone")
