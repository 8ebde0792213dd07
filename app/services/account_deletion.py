"""A person deletes their own account (README "Self-service accounts"): the password again, then everything
goes (users.delete_user). Administrators delete accounts through the admin API and the CLI."""

from __future__ import annotations

from app.models import LoginSession
from app.services import authentication, users


def delete_own_account(login_session: LoginSession, password: str, *, ip: str | None) -> None:
    """Re-authentication is required however recent the sign-in (a browser left open is not the person):
    raises Throttled or WrongPasswordError, counted like a sign-in. Then the account, its sessions, refresh and
    access tokens, consents, API keys and pending links are gone; the audit event keeps only the sub."""
    authentication.reauthenticate(login_session, password, ip=ip, purpose="account_deletion")
    users.delete_user(login_session.user, actor=login_session.user.sub, reason="deleted by its owner")
