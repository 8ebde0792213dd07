"""Failed client authentication at the token, revocation and introspection endpoints is limited and audited.

Client secrets and API keys carry 256 random bits and client_ids are public, so a limit per client_id
would protect no secret and let anyone lock any client out. Failures are limited per address instead,
counted after the check, and a correct credential is never refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from authlib.oauth2.rfc6749.errors import InvalidClientError

from app.oauth.errors import SlowDownError
from app.oauth.requests import ClientRequest
from app.security.throttle import Throttled, client_auth_counter, throttle
from app.services import api_keys, audit
from app.services.clients import get_client
from app.services.transaction import transaction

T = TypeVar("T")


def counted(authenticate: Callable[[], T], request: ClientRequest, endpoint: str) -> T:
    """OWASP ASVS V2.2.1: past the limit, an address's failures get 429 slow_down; successes touch no counter."""
    try:
        return authenticate()
    except InvalidClientError:
        counter = client_auth_counter(request.client_address)
        try:
            exhausted = throttle().count_failure(counter)
        except Throttled as refused:
            # Not logged one by one: the lockout that began it was, so a flood is not a flood of log lines.
            raise SlowDownError(refused.retry_after_seconds) from None
        _audit_failure(request, endpoint, [counter.name] if exhausted else [])
        raise


def _audit_failure(request: ClientRequest, endpoint: str, exhausted: list[str]) -> None:
    # A presented client_id is recorded only if it names a client or key: a secret pasted into the wrong
    # field must not reach the audit trail. The authentication that failed has usually looked it up already.
    client_id = request.presented_client_id
    registered = api_keys.KEY_ID.fullmatch(client_id) or (
        client_id.isprintable() and request.remembering(get_client)(client_id) is not None)
    known = client_id if registered else None
    # Each failure is a log line; the table gets the lockout, so a flood of bad secrets is not a flood of commits.
    audit.log_only("client.authentication_failed", outcome="failure", client_id=known, endpoint=endpoint)
    if exhausted:
        with transaction():
            audit.record("client.locked_out", outcome="failure", client_id=known, endpoint=endpoint, counters=exhausted)
