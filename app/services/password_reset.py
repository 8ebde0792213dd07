"""Forgotten passwords (README "Self-service accounts"): a mailed, single-use, short-lived link to choose a new one.

The request answers the same whether or not the address has an account, and takes about as long; only a real,
enabled account gets mail. Using the link never signs anyone in: it sets the password, confirms the address
(the link reached its mailbox) and takes back everything the old password let anyone obtain.
"""

from __future__ import annotations

from app.errors import InvalidLinkError, ValidationError
from app.models import User
from app.security.passwords import passwords
from app.services import audit, mailed_links, one_time_tokens, users
from app.services.mail_templates import render
from app.services.transaction import transaction

PURPOSE = "password_reset"


def request_reset(email: str, *, ip: str | None) -> str:
    """"Forgot password?": a link to the account of this address, if there is one; returns the normalised address."""
    address = users.normalize_email(email)
    mailed_links.count("password_reset", address, ip)
    with transaction():
        user = users.find_by_email(address)
        if user is None or not user.is_active or user.is_service_account:
            # No mail, but much the same work as a message takes (its rendering, a row, a commit), so the time
            # tells little either; the page adds a floor (app/web/self_service.py).
            render("password_reset", {"link": "", "valid_for": 60})
            audit.record("user.password_reset_requested", outcome="failure")
            return address
        mailed_links.send(address, "password_reset", "/reset-password", purpose=PURPOSE, user_id=user.id,
                          user_sub=user.sub, ttl_setting="PASSWORD_RESET_TTL_SECONDS", data={"email": address})
        audit.record("user.password_reset_requested", user_sub=user.sub)
    return address


def inspect(token: str) -> str | None:
    """The address whose password the link resets, without using the link."""
    user = mailed_links.account_of(one_time_tokens.peek(PURPOSE, token))
    return user.email if user else None


def reset(token: str, new_password: str) -> User:
    """Use the link: the new password, the address confirmed, every session and refresh-token family of the
    account ended (users.authentication_factor_changed), audited. Of concurrent uses exactly one succeeds."""
    try:
        users.validate_password(new_password)
    except ValidationError as exc:
        raise ValidationError(exc.description, field="new_password") from None
    password_hash = passwords().hash(new_password)  # before the transaction: a slow hash holds no lock
    with transaction():
        user = mailed_links.account_of(one_time_tokens.consume(PURPOSE, token))
        if user is None:
            raise InvalidLinkError()
        user.password_hash = password_hash
        user.email_verified = True
        user.registration_pending = False
        users.authentication_factor_changed(user, actor=user.sub)
        audit.record("user.password_reset", user_sub=user.sub, actor=user.sub)
    return user

