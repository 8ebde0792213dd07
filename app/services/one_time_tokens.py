"""One-time tokens: every mailed link or short code, for one purpose and one account, consumed exactly once.

Nothing here commits: the use case that issues or consumes a token owns the transaction. Every refusal
(unknown, malformed, expired, used, superseded, another purpose or account) is the same None, so a
caller can only answer "invalid or expired link" and nobody learns which.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, delete, select, update

from app.extensions import db
from app.models.clock import now
from app.models.one_time_token import OneTimeToken
from app.security.secrets import digest, generate_code, generate_secret, keyed_digest
from app.services.transaction import rows_changed

PURPOSES = frozenset({
    "email_verification", "password_reset", "invitation", "email_change", "mfa_challenge", "webauthn_challenge",
    "initial_access_token",  # RFC 7591 §3: lets one client register itself (services.client_registration)
    "federation_state", "federation_link",
})
# 32 random bytes (256 bits) in unpadded base64url: anything else is refused before any database work.
TOKEN_BYTES = 32
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
CODE = re.compile(r"[0-9]{6,8}")
MAX_CODE_ATTEMPTS = 5
MAX_TTL_SECONDS = 30 * 24 * 3600
MAX_DATA_CHARS = 1024
INVALID = "invalid or expired link"  # the one answer a page gives for every refusal


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time the token exists outside a mailbox: put it in the link, never in a log
    code: str | None
    expires_at: int


@dataclass(frozen=True)
class Redeemed:
    purpose: str
    user_id: int | None
    data: dict[str, Any] | None


def issue(
    purpose: str, *, user_id: int | None, ttl_seconds: int, data: dict[str, Any] | None = None,
    code_digits: int | None = None,
) -> IssuedToken:
    """A new token (and a short code when code_digits is 6-8); it supersedes the account's older ones of this purpose."""
    _check_purpose(purpose)
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
    if data is not None and len(json.dumps(data)) > MAX_DATA_CHARS:
        raise ValueError(f"data must serialise to at most {MAX_DATA_CHARS} characters")
    if code_digits is not None and (user_id is None or not 6 <= code_digits <= 8):
        raise ValueError("a code needs an account to be bound to and 6 to 8 digits")
    if user_id is not None:
        invalidate(purpose, user_id)  # only the newest link of a kind works (a second "forgot password")
    token = generate_secret(TOKEN_BYTES)
    token_hash = digest(token)
    code = generate_code(code_digits) if code_digits else None
    expires_at = now() + ttl_seconds
    db.session.add(OneTimeToken(
        token_hash=token_hash, purpose=purpose, user_id=user_id, data=data, expires_at=expires_at,
        code_hash=_code_hash(purpose, token_hash, code) if code else None,
    ))
    return IssuedToken(token=token, code=code, expires_at=expires_at)


def consume(purpose: str, token: str) -> Redeemed | None:
    """Use the token: one conditional UPDATE, so of any number of concurrent uses exactly one succeeds."""
    _check_purpose(purpose)
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    return _consume_where(OneTimeToken.token_hash == digest(token), purpose)


def peek(purpose: str, token: str) -> Redeemed | None:
    """What consume() would return, without using the token: for the GET that shows a link's form.

    Mail scanners fetch links before people do; only the form's POST may consume.
    """
    _check_purpose(purpose)
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    found = db.session.execute(
        select(OneTimeToken.purpose, OneTimeToken.user_id, OneTimeToken.data)
        .where(OneTimeToken.token_hash == digest(token), _usable(purpose, now()))
    ).first()
    return Redeemed(*found) if found else None


def consume_code(purpose: str, user_id: int, code: str) -> Redeemed | None:
    """Use the short code sent with the account's live token of this purpose; at most MAX_CODE_ATTEMPTS tries.

    Each try is counted by a conditional UPDATE before the comparison, so concurrent guesses cannot
    exceed the limit. The count is part of the caller's transaction: commit it on a wrong code too.
    Running out of tries disables the code only; the link in the same message still works.
    """
    _check_purpose(purpose)
    if not isinstance(code, str) or not CODE.fullmatch(code):
        return None
    moment = now()
    tries = db.session.execute(
        update(OneTimeToken)
        .where(_usable(purpose, moment), OneTimeToken.user_id == user_id, OneTimeToken.code_hash.is_not(None),
               OneTimeToken.code_attempts < MAX_CODE_ATTEMPTS)
        .values(code_attempts=OneTimeToken.code_attempts + 1)
        .returning(OneTimeToken.id, OneTimeToken.token_hash, OneTimeToken.code_hash)
        .execution_options(synchronize_session=False)
    ).all()
    for row_id, token_hash, code_hash in tries:
        if code_hash is not None and hmac.compare_digest(_code_hash(purpose, token_hash, code), code_hash):
            return _consume_where(OneTimeToken.id == row_id, purpose)
    return None


def invalidate(purpose: str, user_id: int) -> int:
    """Delete the account's unused tokens of this purpose (a password change ends every reset link)."""
    _check_purpose(purpose)
    return rows_changed(
        delete(OneTimeToken)
        .where(OneTimeToken.purpose == purpose, OneTimeToken.user_id == user_id, OneTimeToken.used_at.is_(None))
        .execution_options(synchronize_session=False)
    )


def _usable(purpose: str, moment: int) -> ColumnElement[bool]:
    # The expiry is part of the query: a token is never read first and judged afterwards.
    return and_(OneTimeToken.purpose == purpose, OneTimeToken.used_at.is_(None), OneTimeToken.expires_at > moment)


def _consume_where(condition: ColumnElement[bool], purpose: str) -> Redeemed | None:
    moment = now()
    used = db.session.execute(
        update(OneTimeToken)
        .where(condition, _usable(purpose, moment))
        .values(used_at=moment)
        .returning(OneTimeToken.purpose, OneTimeToken.user_id, OneTimeToken.data)
        .execution_options(synchronize_session=False)
    ).first()
    return Redeemed(*used) if used else None


def _code_hash(purpose: str, token_hash: str, code: str) -> str:
    # Bound to its token (and so its account and purpose): the same digits mean nothing anywhere else.
    return keyed_digest(f"one-time-code\x00{purpose}\x00{token_hash}\x00{code}", current_app.config["SECRET_KEY"])


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown one-time token purpose {purpose!r}")
