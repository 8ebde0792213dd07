"""Two Ostiary nodes on one PostgreSQL database behave as one server.

In production both sit behind one load balancer under one issuer URL. Here nothing listens on the
issuer's port: the test talks to each node directly, and both nodes are configured exactly alike
(issuer, database, keys directory, secret key), as every node of a deployment must be.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask

from tests.factories import Factories, RegisteredClient
from tests.flows import (
    Browser,
    assert_oauth_error,
    authorization_params,
    consent_form,
    exchange_code,
    introspect,
    machine_token,
    pkce_pair,
    query_of,
    refresh,
    revoke,
    tokens_for,
    userinfo,
)
from tests.ops.nodes import migrated_app, postgres_database
from tests.processes import Node, eventually, free_port, ostiary_env, ostiary_json
from tests.settings import redis_url

USER = "roaming@example.com"
CC_LOAD = Path(__file__).resolve().parents[3] / "shared" / "bench" / "cc_load.sh"
LOAD_SECONDS = 5
# A Redis database of these tests' own, emptied first: a lockout of 127.0.0.1 left by an earlier run would answer 429
# where these tests expect 200 or 401.
REDIS_URL = redis_url("two_nodes")
SIGN_IN_LIMIT = 4


@dataclass
class Cluster:
    app: Flask
    env: dict[str, str]
    a: Node
    b: Node
    web: RegisteredClient
    machine: RegisteredClient


@pytest.fixture
def cluster(tmp_path: Path):
    lb_port = free_port()  # the load balancer's address, which is the issuer
    keys = tmp_path / "keys"  # one directory for both nodes: in production, a mounted secret volume
    with postgres_database("two_nodes") as url, migrated_app(url, keys, f"http://127.0.0.1:{lb_port}") as app:
        make = Factories(app)
        make.user(USER)
        web, machine = make.client(), make.machine(scope="api:read")
        # Short key timings, so a rotation publishes and then signs within seconds.
        env = ostiary_env(url, keys, lb_port, KEY_RESCAN_SECONDS=1, JWKS_MAX_AGE_SECONDS=1, KEY_PUBLISH_DELAY_SECONDS=3,
                          SIGN_IN_FAILURES_PER_ACCOUNT=SIGN_IN_LIMIT, SIGN_IN_LOCKOUT_SECONDS=60)
        if REDIS_URL and redis_reachable():
            env["OSTIARY_REDIS_URL"] = REDIS_URL
            redis.Redis.from_url(REDIS_URL).flushdb()
        with Node(env, tmp_path / "a.log", workers=1) as a, Node(env, tmp_path / "b.log", workers=1) as b:
            yield Cluster(app, env, a, b, web, machine)


def redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def test_sign_in_on_a_redeem_on_b_refresh_on_a_revoke_on_b_introspect_on_a(cluster):
    a, b, web = cluster.a.url, cluster.b.url, cluster.web
    browser = Browser(a)
    assert browser.login(USER).status_code == 302
    # The browser session made on A is honoured by B, and B's consent form (CSRF) is accepted by A.
    browser.base_url = b
    verifier, challenge = pkce_pair()
    consent_page = browser.authorize(authorization_params(web, challenge), decision=None)
    assert consent_page.status_code == 200, consent_page.text
    form = consent_form(consent_page.text) | {"decision": "allow"}
    redirected = browser.session.post(f"{a}/oauth/authorize", data=form, allow_redirects=False)
    assert redirected.status_code == 302, redirected.text
    code = query_of(redirected.headers["Location"])["code"]

    issued = exchange_code(b, web, code, verifier)
    assert issued.status_code == 200, issued.text

    rotated = refresh(a, web, issued.json()["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    tokens = rotated.json()
    assert userinfo(b, tokens["access_token"]).json()["email"] == USER
    assert introspect(a, web, tokens["refresh_token"])["active"] is True

    assert revoke(b, web, tokens["refresh_token"]).status_code == 200
    assert introspect(a, web, tokens["refresh_token"]) == {"active": False}
    assert introspect(a, web, tokens["access_token"]) == {"active": False}
    assert userinfo(a, tokens["access_token"]).status_code == 401
    assert_oauth_error(refresh(a, web, tokens["refresh_token"]), "invalid_grant")
    assert_oauth_error(exchange_code(a, web, code, verifier), "invalid_grant")  # spent on B, spent everywhere


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def published(node: Node) -> set[str]:
    return {key["kid"] for key in requests.get(f"{node.url}/.well-known/jwks.json", timeout=5).json()["keys"]}


def test_a_key_rotated_through_one_node_is_published_and_used_by_the_other(cluster):
    a, b, machine = cluster.a, cluster.b, cluster.machine
    before = published(a)
    assert published(b) == before

    rotation = ostiary_json(cluster.env, "keys", "rotate")  # node A's configuration, on the shared keys volume
    new_kid = rotation["kid"]
    assert new_kid not in before

    eventually(lambda: new_kid in published(a) and new_kid in published(b), 10, 0.2, "both nodes publish the next key")
    eventually(lambda: kid_of(machine_token(b.url, machine)) == new_kid, 15, 0.2, "B signs with it once it is current")
    eventually(lambda: kid_of(machine_token(a.url, machine)) == new_kid, 5, 0.2, "A signs with it too")
    # Each node accepts what the other signed, and the retired key stays published for its tokens.
    assert introspect(a.url, machine, machine_token(b.url, machine))["active"] is True
    assert introspect(b.url, machine, machine_token(a.url, machine))["active"] is True
    assert before <= published(a) and published(a) == published(b)


def test_rate_limit_counts_are_shared(cluster):
    """Sign-in failures for one account, alternating between the nodes, lock it after the limit in total."""
    if not cluster.env.get("OSTIARY_REDIS_URL"):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379, or this worker has no database of its own there")
    login = f"target-{secrets.token_hex(6)}@example.com"  # its own counters, whoever else uses this Redis
    nodes = [cluster.a, cluster.b] * SIGN_IN_LIMIT
    statuses = [Browser(node.url).login(login, "wrong password").status_code for node in nodes[:SIGN_IN_LIMIT + 2]]
    assert statuses == [401] * SIGN_IN_LIMIT + [429, 429]  # counted per node, A and B would each still be at 3


def cc_load(node: Node, machine: RegisteredClient) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", str(CC_LOAD), f"{node.url}/oauth/token", machine.client_id, machine.client_secret or "",
         "scope=api:read", str(LOAD_SECONDS), "16"],
        env={"PATH": "/usr/bin:/bin", "QUIET": "1", "WRK_THREADS": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )


def tokens_per_second(load: subprocess.Popen) -> float:
    last_line = load.communicate(timeout=LOAD_SECONDS + 60)[0].strip().splitlines()[-1]
    fields = dict(field.split("=") for field in last_line.split())
    assert fields["non2xx"] == "0", last_line
    return float(fields["rps"])


@pytest.mark.skipif(shutil.which("wrk") is None or not CC_LOAD.exists(), reason="needs wrk and shared/bench/cc_load.sh")
def test_token_rate_of_two_nodes_against_one(cluster, capsys):
    """Informative: client_credentials tokens/s of one node, then of both at once (one worker each)."""
    machine_token(cluster.a.url, cluster.machine), machine_token(cluster.b.url, cluster.machine)  # warm both
    one = tokens_per_second(cc_load(cluster.a, cluster.machine))
    loads = [cc_load(cluster.a, cluster.machine), cc_load(cluster.b, cluster.machine)]
    two = sum(tokens_per_second(load) for load in loads)
    with capsys.disabled():
        print(f"\nclient_credentials tokens/s, one worker per node, 16 connections per node: one node {one:.0f}, "
              f"two nodes {two:.0f} ({two / one:.2f}x; the load generator shares the same 2 CPUs)")
    assert one > 0 and two > 0


def token_status(node: Node, client_id: str, secret: str) -> int:
    response = requests.post(f"{node.url}/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id, secret), timeout=5)
    return response.status_code


def seconds_until_refused(nodes: list[Node], client_id: str, secret: str, limit: float) -> float:
    """From now until every node answers 401 to these credentials (measured, and asserted below `limit`)."""
    started, pending = time.monotonic(), list(nodes)
    while pending:
        pending = [node for node in pending if token_status(node, client_id, secret) != 401]
        elapsed = time.monotonic() - started
        assert elapsed < limit, f"still accepted after {elapsed:.2f} s by {[node.url for node in pending]}"
    return time.monotonic() - started


def seconds_until_inactive(nodes: list[Node], client: RegisteredClient, token: str, limit: float) -> float:
    """From now until every node's introspection calls the token inactive (measured, and asserted below `limit`)."""
    started, pending = time.monotonic(), list(nodes)
    while pending:
        pending = [node for node in pending if introspect(node.url, client, token)["active"]]
        elapsed = time.monotonic() - started
        assert elapsed < limit, f"still active after {elapsed:.2f} s on {[node.url for node in pending]}"
    return time.monotonic() - started


def test_a_revoked_or_disowned_access_token_is_inactive_on_every_node_within_a_second(cluster, capsys):
    """Each node remembers the jtis it found unrevoked and the accounts it found active (client cache); a revocation
    or a disabled account, committed elsewhere (this process), reaches both through PostgreSQL NOTIFY."""
    from app.extensions import db
    from app.models import User
    from app.services import token_families, users

    nodes, machine, web = [cluster.a, cluster.b], cluster.machine, cluster.web
    person = Factories(cluster.app).user("disowned@example.com")
    # Each token introspected by its own client (RFC 7662 §4).
    tokens = {"revoked": (machine, machine_token(cluster.a.url, machine)),
              "account disabled": (web, tokens_for(cluster.a.url, web, "disowned@example.com")["access_token"])}
    for node in nodes:  # every node has found each of them live, and remembers it
        for client, token in tokens.values():
            for _ in range(3):
                assert introspect(node.url, client, token)["active"] is True

    measured = {}
    for what, (client, token) in tokens.items():
        with cluster.app.app_context():
            if what == "revoked":
                claims = introspect(cluster.a.url, client, token)
                token_families.revoke_access_token(claims["jti"], client_id=claims["client_id"],
                                                   user_sub=claims["sub"], expires_at=claims["exp"])
            else:
                users.disable_user(db.session.get(User, person.id), actor=None)
            db.session.remove()
        measured[what] = seconds_until_inactive(nodes, client, token, 1.0)
        for node in nodes:  # and it stays inactive
            assert {introspect(node.url, client, token)["active"] for _ in range(5)} == {False}
    with capsys.disabled():
        print("\nseconds until both nodes call it inactive: "
              + ", ".join(f"{what} {s:.3f}" for what, s in measured.items()))


def test_a_changed_client_or_key_is_refused_by_every_node_within_a_second(cluster, capsys):
    """Each node caches clients and API keys (client cache); a change made elsewhere (here: this process, a third
    one on the same database) reaches both through PostgreSQL NOTIFY within a second."""
    from app.extensions import db
    from app.models import User
    from app.services import api_keys, clients, users

    make, nodes = Factories(cluster.app), [cluster.a, cluster.b]
    machines = {change: make.machine(scope="api:read") for change in ("disable", "delete", "rotate")}
    owner = make.service_account("cache-owner", scope="api:read")
    keys = {change: make.api_key(
        owner if change == "disable owner" else make.service_account(change, scope="api:read"), "api:read")
            for change in ("revoke key", "disable owner")}
    credentials = {**machines, **keys}
    for node in nodes:  # every node has each of them cached
        for credential in credentials.values():
            for _ in range(3):
                assert token_status(node, credential.client_id, credential.client_secret or "") == 200

    def change(what: str) -> None:
        with cluster.app.app_context():
            if what in machines:
                client = clients.require(machines[what].client_id)
                {"disable": lambda: clients.disable_client(client, actor=None),
                 "delete": lambda: clients.delete_client(client, actor=None),
                 "rotate": lambda: clients.rotate_secret(client, actor=None)}[what]()
            elif what == "revoke key":
                api_keys.revoke_api_key(api_keys.get_api_key(keys[what].client_id), actor=None)
            else:
                users.disable_user(db.session.get(User, owner.id), actor=None)
            db.session.remove()

    measured = {}
    for what, credential in credentials.items():
        change(what)  # committed when this returns
        measured[what] = seconds_until_refused(nodes, credential.client_id, credential.client_secret or "", 1.0)
        for node in nodes:  # and it stays refused
            assert {token_status(node, credential.client_id, credential.client_secret or "") for _ in range(5)} == {401}
    with capsys.disabled():
        print("\nseconds until both nodes refuse: " + ", ".join(f"{what} {s:.3f}" for what, s in measured.items()))
