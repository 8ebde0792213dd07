"""Point 8: codes, refresh tokens and consents under concurrency (CI runs this on PostgreSQL): one conditional UPDATE
decides, every token is consumed once, never more than one live successor, never a 5xx, nothing half-written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccessTokenRecord, AuditEvent, AuthorizationCode, Consent, RefreshToken
from app.security.secrets import digest
from tests.flows import (
    assert_oauth_error,
    authorization_params,
    code_for,
    consent_form,
    exchange_code,
    introspect,
    pkce_pair,
    query_of,
    refresh,
    revoke,
    signed_in,
)

PARALLEL = 20
CONSENT_ROUNDS = 5


def family_rows(app, family_id: str) -> tuple[list[RefreshToken], list[AccessTokenRecord]]:
    with app.app_context():
        refresh_tokens = list(db.session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id)))
        access_tokens = list(db.session.scalars(
            select(AccessTokenRecord).where(AccessTokenRecord.family_id == family_id)))
        db.session.expunge_all()
        return refresh_tokens, access_tokens


def audit_count(app, event: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == event))


def code_family(app) -> AuthorizationCode:
    with app.app_context():
        code = db.session.scalars(select(AuthorizationCode)).one()
        db.session.expunge(code)
        return code


def test_parallel_code_redemptions_yield_exactly_one_success_then_revoke_it(live_server, app, make):
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
    assert introspect(live_server, registered, winner["access_token"]) == {"active": False}
    assert introspect(live_server, registered, winner["refresh_token"]) == {"active": False}

    # Nothing half-written: the code used once, one refresh token and one access token, both revoked.
    stored_code = code_family(app)
    assert stored_code.used_at is not None
    refresh_tokens, access_tokens = family_rows(app, stored_code.family_id)
    assert len(refresh_tokens) == 1 and len(access_tokens) == 1
    assert all(row.revoked_at is not None for row in [*refresh_tokens, *access_tokens])
    assert audit_count(app, "token.issued") == 1
    assert audit_count(app, "token.reuse_detected") == PARALLEL - 1


def test_parallel_presentations_of_one_refresh_token_leave_exactly_one_live_successor(live_server, app, make):
    """20 presentations of one refresh token at once, all within the retry grace window: the first rotates it,
    each other one is a retry that replaces the unused child the one before it left. No retry revokes the
    family, every token is consumed exactly once, and exactly one successor is live at the end."""
    make.user("refresh-race@example.com")
    registered = make.client()
    code, verifier, _ = code_for(live_server, registered, "refresh-race@example.com")
    first = exchange_code(live_server, registered, code, verifier).json()

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(lambda _: refresh(live_server, registered, first["refresh_token"]), range(PARALLEL)))

    assert [r.status_code for r in responses] == [200] * PARALLEL, [r.text for r in responses if r.status_code != 200]
    issued = [r.json() for r in responses]
    live = [pair for pair in issued if introspect(live_server, registered, pair["refresh_token"])["active"]]
    assert len(live) == 1

    refresh_tokens, access_tokens = family_rows(app, code_family(app).family_id)
    original = next(row for row in refresh_tokens if row.parent_id is None)
    # Nothing half-written: one row per success, each a child of the presented token; no revocation at all.
    assert len(refresh_tokens) == 1 + PARALLEL and len(access_tokens) == 1 + PARALLEL
    assert sorted(row.parent_id for row in refresh_tokens if row is not original) == [original.id] * PARALLEL
    assert all(row.revoked_at is None for row in [*refresh_tokens, *access_tokens])
    # Exactly once: the presented token and every child but the live one were consumed, each by one success.
    unused = [row for row in refresh_tokens if row.used_at is None]
    assert [row.token_hash for row in unused] == [digest(live[0]["refresh_token"])]
    assert audit_count(app, "token.refreshed") == PARALLEL
    assert audit_count(app, "token.refresh_retried") == PARALLEL - 1
    assert audit_count(app, "token.reuse_detected") == 0

    # The live successor rotates; a replaced one turning up later is a reuse and revokes the family.
    superseded = next(pair for pair in issued if pair is not live[0])
    assert refresh(live_server, registered, live[0]["refresh_token"]).status_code == 200
    assert_oauth_error(refresh(live_server, registered, superseded["refresh_token"]), "invalid_grant")
    refresh_tokens, _ = family_rows(app, original.family_id)
    assert all(row.revoked_at is not None for row in refresh_tokens)


def test_a_retry_racing_the_first_use_of_the_child_lets_one_win_then_revokes_the_family(live_server, app, make):
    """Within the grace window, a retry of the parent and the client's first use of the child race for the child.
    One conditional UPDATE decides: if the use wins, the retry finds no unused child and is a reuse; if the retry
    wins, the use of the child it consumed is a reuse. Either way one succeeds and the family ends revoked."""
    make.user("retry-race@example.com")
    registered = make.client()
    for _ in range(5):
        code, verifier, _ = code_for(live_server, registered, "retry-race@example.com")
        parent = exchange_code(live_server, registered, code, verifier).json()["refresh_token"]
        child = refresh(live_server, registered, parent).json()["refresh_token"]

        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(lambda token: refresh(live_server, registered, token), [parent, child]))

        assert sorted(r.status_code for r in responses) == [200, 400], [r.text for r in responses]
        assert next(r for r in responses if r.status_code == 400).json()["error"] == "invalid_grant"
        with app.app_context():
            family_id = db.session.scalar(select(RefreshToken.family_id).where(
                RefreshToken.token_hash == digest(parent)))
        refresh_tokens, access_tokens = family_rows(app, family_id)
        assert len(refresh_tokens) == 3 and len(access_tokens) == 3  # parent, child, and the one success's
        assert all(row.revoked_at is not None for row in [*refresh_tokens, *access_tokens])


def test_reuse_of_a_rotated_refresh_token_later_revokes_the_family(live_server, make):
    make.user("reuse@example.com")
    registered = make.client()
    code, verifier, _ = code_for(live_server, registered, "reuse@example.com")
    first = exchange_code(live_server, registered, code, verifier).json()
    second = refresh(live_server, registered, first["refresh_token"]).json()
    third = refresh(live_server, registered, second["refresh_token"]).json()
    assert introspect(live_server, registered, third["refresh_token"])["active"] is True

    replay = refresh(live_server, registered, first["refresh_token"])

    assert_oauth_error(replay, "invalid_grant")
    for token in (third["refresh_token"], third["access_token"], second["access_token"], first["access_token"]):
        assert introspect(live_server, registered, token) == {"active": False}
    assert_oauth_error(refresh(live_server, registered, third["refresh_token"]), "invalid_grant")


def test_parallel_revocations_and_refreshes_of_one_family_end_revoked(live_server, app, make):
    make.user("mixed@example.com")
    registered = make.client()
    code, verifier, _ = code_for(live_server, registered, "mixed@example.com")
    first = exchange_code(live_server, registered, code, verifier).json()

    def call(number: int) -> requests.Response:
        if number % 2:
            return revoke(live_server, registered, first["refresh_token"])
        return refresh(live_server, registered, first["refresh_token"])

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(call, range(PARALLEL)))

    assert all(r.status_code in (200, 400) for r in responses), [r.status_code for r in responses]
    assert all(r.status_code == 200 for r in responses[1::2])  # RFC 7009 §2.2: revocation always succeeds
    # Refreshes that came before the first revocation are the rotation and its retries; none after it.
    successes = [r.json() for r in responses[0::2] if r.status_code == 200]
    refresh_tokens, access_tokens = family_rows(app, code_family(app).family_id)
    assert len(refresh_tokens) == 1 + len(successes) and len(access_tokens) == 1 + len(successes)
    assert all(row.revoked_at is not None for row in [*refresh_tokens, *access_tokens])


def test_parallel_allows_of_one_consent_form_each_get_a_code_and_one_consent(live_server, app, make):
    """A double-click on Allow (here 20 clicks at once) must never end in a unique-constraint 500.
    The race is between the consent's look-up and its insert, so it is run for several clients."""
    make.user("double-click@example.com")
    browser = signed_in(live_server, "double-click@example.com")
    for _ in range(CONSENT_ROUNDS):
        registered = make.client()
        _, challenge = pkce_pair()
        page = browser.authorize(authorization_params(registered, challenge), decision=None)
        form = consent_form(page.text) | {"decision": "allow"}
        cookies = browser.session.cookies.get_dict()  # the session's, and the CSRF state the page set

        def allow(_: int, form: dict[str, str] = form, cookies: dict[str, str] = cookies) -> requests.Response:
            return requests.post(f"{live_server}/oauth/authorize", data=form, cookies=cookies, allow_redirects=False)

        with ThreadPoolExecutor(PARALLEL) as pool:
            responses = list(pool.map(allow, range(PARALLEL)))

        assert [r.status_code for r in responses] == [302] * PARALLEL, [r.status_code for r in responses]
        assert len({query_of(r.headers["Location"])["code"] for r in responses}) == PARALLEL
        with app.app_context():
            [consent] = db.session.scalars(select(Consent).where(Consent.client_id == registered.client_id)).all()
            assert set(consent.scope.split()) == set(form["scope"].split())
    assert audit_count(app, "consent.granted") == PARALLEL * CONSENT_ROUNDS
