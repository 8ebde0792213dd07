"""Downstream services keep verifying while keys rotate twice: PyJWT, joserfc and node's jose, zero failures."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import jwt
import pytest

from tests.factories import RegisteredClient
from tests.flows import machine_token as access_token
from tests.ops.verifiers import NodeVerifier, install_node_verifier, node_available, python_verifiers
from tests.processes import eventually, free_port, ostiary_env, ostiary_json, serve

MAX_AGE_SECONDS = 2
# Published 4 s before signing (max-age 2 + rescan 1 + 1 s margin); tokens live 60 s, so tokens of the first
# key are still checked after the second rotation.
SETTINGS = {
    "JWKS_MAX_AGE_SECONDS": MAX_AGE_SECONDS,
    "KEY_RESCAN_SECONDS": 1,
    "KEY_PUBLISH_DELAY_SECONDS": 4,
    "ACCESS_TOKEN_TTL_SECONDS": 60,
    "ID_TOKEN_TTL_SECONDS": 60,
    "KEY_RETIRE_LEEWAY_SECONDS": 0,
}

pytestmark = pytest.mark.skipif(not node_available(), reason="node and npm are needed for the jose verifier")


@pytest.fixture
def env(app, database_url: str, tmp_path: Path) -> dict[str, str]:
    return ostiary_env(database_url, tmp_path / "keys", free_port(), **SETTINGS)


class Traffic(threading.Thread):
    """Issues a token at a time and verifies it, plus the oldest token of every key seen, with all three."""

    def __init__(self, base_url: str, machine: RegisteredClient, node: NodeVerifier) -> None:
        super().__init__(daemon=True)
        self.base_url, self.machine, self.node = base_url, machine, node
        self.python = python_verifiers(base_url, MAX_AGE_SECONDS)
        self.first_of: dict[str, str] = {}  # kid -> the first token it signed
        self.verified: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # verifier -> kid -> count
        self.failures: list[tuple[str, str, str]] = []  # (verifier, kid, error)
        self.node_kids: dict[int, str] = {}
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                token = access_token(self.base_url, self.machine)
                kid = jwt.get_unverified_header(token)["kid"]
                self.first_of.setdefault(kid, token)
                for batch_token in {token, *self.first_of.values()}:
                    self.check(batch_token)
                time.sleep(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def check(self, token: str) -> None:
        kid = jwt.get_unverified_header(token)["kid"]
        for name, verifier in self.python.items():
            try:
                verifier.verify(token)
                self.verified[name][kid] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is a finding
                self.failures.append((name, kid, f"{type(exc).__name__}: {exc}"))
        self.node_kids[self.node.submit(token)] = kid

    def signing_kids(self) -> set[str]:
        return set(self.first_of)


def test_three_verifiers_see_no_failure_across_two_rotations(env, make, tmp_path):
    install_node_verifier()
    machine = make.machine()
    with serve(env, tmp_path / "server.log", workers=2) as served:
        base_url = served.url
        node = NodeVerifier(base_url, base_url, MAX_AGE_SECONDS)
        traffic = Traffic(base_url, machine, node)
        traffic.start()
        try:
            time.sleep(2 * MAX_AGE_SECONDS)  # every verifier has cached the key set at least once
            rotations = []
            for _ in range(2):
                kid = ostiary_json(env, "keys", "rotate")["kid"]
                rotations.append(kid)
                eventually(lambda kid=kid: kid in traffic.signing_kids() or traffic.error, timeout=60, interval=0.1,
                           what=f"traffic signed by {kid}")
                time.sleep(MAX_AGE_SECONDS + 1)  # past a cache lifetime, and first-key tokens are still checked
        finally:
            traffic.stop.set()
            traffic.join(timeout=30)
            node_results = node.wait(timeout=30)
            node.close()

    assert traffic.error is None, traffic.error
    for result in node_results.values():
        kid = traffic.node_kids[result["id"]]
        if result["ok"]:
            traffic.verified["jose"][kid] += 1
        else:
            traffic.failures.append(("jose", kid, result["error"]))
    assert len(node_results) == node.submitted
    assert traffic.failures == []
    kids = list(traffic.first_of)
    assert len(kids) == 3 and kids[1:] == rotations
    for name in ("pyjwt", "joserfc", "jose"):
        counts = traffic.verified[name]
        assert set(counts) == set(kids), name
        # The first key's tokens were verified after the second rotation too: retired keys stay published.
        assert counts[kids[0]] > counts[kids[2]] >= 5, (name, dict(counts))
    key_set = traffic.python["joserfc"].key_set
    assert key_set.fetched >= 3 and key_set.not_modified >= 1  # revalidated with the ETag in between changes
    verified = {name: sum(counts.values()) for name, counts in traffic.verified.items()}
    print(f"\nverified through two rotations: {verified}, 0 failures; JWKS via the HTTP cache: "
          f"{key_set.fetched} fetched, {key_set.not_modified} not modified")


@pytest.fixture
def long_cache_env(app, database_url: str, tmp_path: Path) -> dict[str, str]:
    """Key sets cached for a minute: whatever the machine's load, the control below runs inside one cache lifetime."""
    return ostiary_env(database_url, tmp_path / "keys", free_port(),
                       **SETTINGS | {"JWKS_MAX_AGE_SECONDS": 60, "KEY_PUBLISH_DELAY_SECONDS": 61})


def test_the_verifiers_do_catch_a_key_that_signs_before_caches_have_it(long_cache_env, make, tmp_path):
    """The control: `keys rotate --now` skips the publish delay, and each verifier rejects the new key's tokens."""
    install_node_verifier()
    machine = make.machine()
    with serve(long_cache_env, tmp_path / "server.log", workers=2) as served:
        base_url = served.url
        node = NodeVerifier(base_url, base_url, cache_seconds=60)
        python = python_verifiers(base_url, cache_seconds=60)
        try:
            before = access_token(base_url, machine)
            for verifier in python.values():
                verifier.verify(before)  # caches the key set, and starts PyJWKClient's 30 s refetch cooldown
            node.submit(before)
            assert node.wait(timeout=30)[1]["ok"]

            added = ostiary_json(long_cache_env, "keys", "rotate", "--now")
            eventually(lambda: jwt.get_unverified_header(access_token(base_url, machine))["kid"] == added["kid"],
                       interval=0.1, what="tokens signed by the new key")
            token = access_token(base_url, machine)
            failed = {}
            for name, verifier in python.items():
                try:
                    verifier.verify(token)
                except Exception as exc:  # noqa: BLE001 - the expected outcome
                    failed[name] = f"{type(exc).__name__}: {exc}"
            node.submit(token)
            node_result = node.wait(timeout=30)[2]
        finally:
            node.close()
    assert "Unable to find a signing key" in failed["pyjwt"] and "No key for kid" in failed["joserfc"], failed
    assert not node_result["ok"] and "ERR_JWKS_NO_MATCHING_KEY" in node_result["error"], node_result
