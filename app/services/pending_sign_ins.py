"""The half-signed-in state between the password and the second factor: held server-side as a one-time token
(purpose mfa_challenge) whose value only the browser holds (a cookie), for OSTIARY_SECOND_FACTOR_TTL_SECONDS.
It is no session: it reaches neither consent nor the account page. A newer one for the account replaces it.
A step-up holds a signed-in session's first step the same way, naming the session it will replace and the
level (acr) the factor must reach."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import OneTimeToken, User
from app.security.secrets import digest
from app.services import one_time_tokens

PURPOSE = "mfa_challenge"


@dataclass(frozen=True)
class Held:
    user: User
    amr: tuple[str, ...]  # the methods already verified (the password, or an upstream provider's assertion)
    idp: str | None = None  # the upstream provider of a federated first step
    session_id: int | None = None  # a step-up: the signed-in session the factor upgrades
    acr: str | None = None  # a step-up: the level the factor must reach


def hold(user: User, amr: tuple[str, ...], idp: str | None = None, *, session_id: int | None = None,
         acr: str | None = None) -> str:
    """Part of the caller's transaction; returns the browser's token."""
    issued = one_time_tokens.issue(PURPOSE, user_id=user.id, ttl_seconds=current_app.config["SECOND_FACTOR_TTL_SECONDS"],
                                   data={"amr": list(amr), "idp": idp, "session_id": session_id, "acr": acr})
    return issued.token


def find(token: str | None) -> Held | None:
    """The state a token holds, if live and its account still active; the token stays usable."""
    redeemed = one_time_tokens.peek(PURPOSE, token) if token else None
    if redeemed is None or redeemed.user_id is None or redeemed.data is None:
        return None
    user = db.session.get(User, redeemed.user_id)
    if user is None or not user.is_active:
        return None
    data = redeemed.data
    session_id, acr = data.get("session_id"), data.get("acr")
    return Held(user, tuple(str(method) for method in data.get("amr", [])), _text(data.get("idp")),
                session_id=session_id if isinstance(session_id, int) else None, acr=_text(acr))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def claim(token: str) -> bool:
    """Use the token up before the factor is checked: one conditional UPDATE, so of concurrent requests with one
    browser state exactly one goes on (on PostgreSQL the others wait for its row, then find it used or given
    back). Part of the caller's transaction; give_back() if the factor is then refused."""
    return one_time_tokens.consume(PURPOSE, token) is not None


def give_back(token: str) -> None:
    """The factor was wrong: the claimed token is usable again (within its expiry) for the next try."""
    db.session.execute(update(OneTimeToken).where(OneTimeToken.token_hash == digest(token),
                                                  OneTimeToken.purpose == PURPOSE)
                       .values(used_at=None).execution_options(synchronize_session=False))
