"""Sign-in limits as people meet them: a 429 page that says how long to wait (RFC 6585 §4)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, request
from flask_babel import ngettext

from app.errors import WrongPasswordError
from app.models import User
from app.security.throttle import Attempt, Throttled, sign_in_counters, throttle
from app.services import audit
from app.services.transaction import transaction


def sign_in_attempt(login: str, account: User | None) -> Attempt:
    """Counted per account (the one the login names, if any) and per address before the password is checked;
    raises Throttled when locked. Known and unknown logins cost the same: the lookup is done either way."""
    return throttle().attempt(sign_in_counters(login, request.remote_addr, sub=account.sub if account else None))


def failed(attempt: Attempt, event: str, user_sub: str | None, **details: Any) -> None:
    """A wrong password keeps its slots; it is audited, and so is the lockout it may start."""
    exhausted = attempt.fail()
    with transaction():
        audit.record(event, outcome="failure", user_sub=user_sub, **details)
        if exhausted:
            audit.record("sign_in.locked_out", outcome="failure", user_sub=user_sub, counters=exhausted)


@contextmanager
def password_confirmation(user: User, purpose: str) -> Iterator[None]:
    """A signed-in person re-enters their password: the sign-in limits of their account and address apply
    (raises Throttled before any check), and a WrongPasswordError inside is a failed attempt, audited."""
    attempt = sign_in_attempt("", user)
    with attempt:
        try:
            yield
        except WrongPasswordError:
            failed(attempt, "reauthentication", user.sub, purpose=purpose)
            raise


def wait_message(refused: Throttled) -> str:
    # The same words whether the account or the address is locked, and for unknown accounts too.
    minutes = math.ceil(refused.retry_after_seconds / 60)
    return ngettext("Too many failed sign-in attempts. Try again in %(num)d minute.",
                    "Too many failed sign-in attempts. Try again in %(num)d minutes.", minutes)


def too_many_requests(page: str, refused: Throttled) -> Response:
    response = Response(page, status=429)
    response.headers["Retry-After"] = str(refused.retry_after_seconds)
    return response
