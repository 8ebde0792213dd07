"""Sign-in lockouts lifted by an operator: the limits (OWASP ASVS V2.2.1) end by themselves, but a person may
not be able to wait for the period to pass."""

from __future__ import annotations

from app.models import User
from app.security.throttle import sign_in_account_counter, throttle
from app.services import audit
from app.services.transaction import transaction


def unlock(user: User, *, actor: str | None) -> int:
    """Forget the failed sign-ins counted against the account (app/security/throttle.py), audited; returns how
    many there were. Only the counters this process can reach: every node's with OSTIARY_REDIS_URL."""
    cleared = throttle().clear([sign_in_account_counter(sub=user.sub)])
    with transaction():
        audit.record("user.unlocked", user_sub=user.sub, actor=actor, failures_cleared=cleared)
    return cleared
