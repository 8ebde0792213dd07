"""Codes and refresh tokens under concurrency: one conditional UPDATE decides, never two successors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.flows import code_for, exchange_code

PARALLEL = 20


def _introspect(base_url: str, registered, token: str) -> dict:
    return requests.post(
        f"{base_url}/oauth/introspect", data={"token": token}, auth=(registered.client_id, registered.client_secret)
    ).json()


def test_parallel_code_redemptions_yield_exactly_one_success_then_revoke_it(live_server, make):
    make.user("race@example.com")
    registered = make.client()
    code, verifier, _ = code_for(live_server, registered, "race@example.com")

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(lambda _: exchange_code(live_server, registered, code, verifier), range(PARALLEL)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (PARALLEL - 1), statuses
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    # The losers saw a replay, so everything issued from the code is revoked.
    assert _introspect(live_server, registered, winner["access_token"]) == {"active": False}
    assert _introspect(live_server, registered, winner["refresh_token"]) == {"active": False}


def test_parallel_refreshes_never_yield_two_successors(live_server, make):
    make.user("refresh-race@example.com")
    registered = make.client()
    code, verifier, _ = code_for(live_server, registered, "refresh-race@example.com")
    first = exchange_code(live_server, registered, code, verifier).json()

    def refresh(_: int) -> requests.Response:
        return requests.post(
            f"{live_server}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=(registered.client_id, registered.client_secret),
        )

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(refresh, range(PARALLEL)))

    assert all(r.status_code in (200, 400) for r in responses), [r.status_code for r in responses]
    successes = [r.json() for r in responses if r.status_code == 200]
    assert len(successes) == 1
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    # Reuse of the rotated token revoked the family, the successor included.
    assert _introspect(live_server, registered, successes[0]["refresh_token"]) == {"active": False}
