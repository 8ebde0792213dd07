"""Self-service sign-up and email verification (README "Self-service accounts").

The rule against account pre-hijacking: an address belongs to nobody until its mailbox proves it. A sign-up
creates a *pending* account that cannot sign in and owns nothing; signing up again with that address, an
invitation to it, an email change to it or a password reset through it replaces or claims it, so its first
registrant keeps nothing. Completing a registration needs the browser that signed up, the password chosen
there, or the short code sent with the link: a person who merely receives an unsolicited link cannot complete
someone else's registration of their address (they may cancel it instead). Every answer to the sign-up and
resend forms is the same whether or not the address has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, exists, select

from app.config import signup_policy
from app.errors import AppError, ConflictError, InvalidLinkError, ValidationError, WrongPasswordError
from app.extensions import db
from app.models import OneTimeToken, User
from app.security.passwords import passwords
from app.security.throttle import sign_in_counters, throttle
from app.services import audit, mailed_links, one_time_tokens, outbox, users
from app.services.transaction import transaction

PURPOSE = "email_verification"
CODE_DIGITS = 6
MAX_NEXT_CHARS = 900  # the authorization request to return to, kept with the token (one_time_tokens.MAX_DATA_CHARS)


def abandoned(moment: int) -> ColumnElement[bool]:
    """Pending registrations nobody can complete any more: older than a verification link lives, with no link of
    theirs still alive (a resent link keeps the registration). `ostiary purge` deletes them."""
    live_link = exists(select(OneTimeToken.id).where(OneTimeToken.user_id == User.id, OneTimeToken.expires_at > moment))
    older = User.created_at <= moment - current_app.config["EMAIL_VERIFICATION_TTL_SECONDS"]
    return User.registration_pending.is_(True) & older & ~live_link


class SignupClosed(AppError):
    error = "access_denied"
    status_code = 403


@dataclass(frozen=True)
class Verification:
    """What a verification link's page shows before it is used."""

    email: str
    pending: bool  # a self-service registration: completing it needs the signing-up browser, password or code


def policy() -> str:
    """open | invite | closed (OSTIARY_SIGNUP)."""
    return signup_policy(current_app.config)


def register(email: str, password: str, *, name: str | None, ip: str | None, next_url: str | None = None) -> str:
    """Sign up: returns the normalised address, whatever happened to it (the page answers "check your mail").

    A new address gets a pending account and a verification link; an address of a pending account replaces that
    registration; an address of an existing account gets a notice, and its account is left alone. The password
    is hashed in every case, so the time taken does not tell which.
    """
    if policy() != "open":
        raise SignupClosed("sign-up is closed")
    address = users.normalize_email(email)
    domains = current_app.config["SIGNUP_ALLOWED_DOMAINS"]
    if domains and address.rpartition("@")[2] not in domains:
        raise ValidationError("sign-up is open to addresses of other domains only", field="email")
    name = users.validate_name(name or None)
    users.validate_password(password)
    mailed_links.count("signup", address, ip)
    password_hash = passwords().hash(password)
    try:
        with transaction():
            existing = users.find_by_email(address)
            if existing is not None and not existing.registration_pending:
                outbox.enqueue(address, "signup_existing", {"link": outbox.issuer_link("/login"),
                                                            "reset_link": outbox.issuer_link("/forgot-password")},
                               user_sub=existing.sub)
                audit.record("user.signup_for_existing_address", outcome="failure", user_sub=existing.sub)
                return address
            if existing is not None:
                users.delete_user(existing, actor=None, reason="registration replaced by a new sign-up")
            user = User(email=address, name=name, password_hash=password_hash, registration_pending=True)
            with users.identifiers_claimed(address, None):
                db.session.add(user)
                db.session.flush()
            audit.record("user.signed_up", user_sub=user.sub)
            send_verification(user, next_url=next_url)
    except ConflictError:
        pass  # a concurrent sign-up took the address first: the same answer
    return address


def send_verification(user: User, *, next_url: str | None = None) -> None:
    """A verification link (and code) for the account's address, superseding earlier ones; caller's transaction."""
    data: dict[str, Any] = {"email": user.email}
    if next_url and len(next_url) <= MAX_NEXT_CHARS:
        data["next"] = next_url
    mailed_links.send(user.email or "", "verify_email", "/verify-email", purpose=PURPOSE, user_id=user.id,
                      user_sub=user.sub, ttl_setting="EMAIL_VERIFICATION_TTL_SECONDS", data=data,
                      code_digits=CODE_DIGITS)


def resend(email: str, *, ip: str | None) -> str:
    """The resend form: a new link if the address has an unconfirmed account; the same answer either way."""
    address = users.normalize_email(email)
    mailed_links.count("verification", address, ip)
    with transaction():
        user = users.find_by_email(address)
        if user is not None and user.is_active and not user.email_verified:
            send_verification(user)
            audit.record("user.verification_sent", user_sub=user.sub)
    return address


def resend_to(user: User, *, ip: str | None) -> None:
    """A signed-in person whose address is unconfirmed asks for the link again."""
    if user.email_verified or not user.email:
        return
    mailed_links.count("verification", user.email, ip)
    with transaction():
        send_verification(user)
        audit.record("user.verification_sent", user_sub=user.sub)


def inspect(token: str) -> Verification | None:
    """What the link would confirm, without using it (mail scanners fetch links first)."""
    user = mailed_links.account_of(one_time_tokens.peek(PURPOSE, token))
    return Verification(user.email or "", user.registration_pending) if user else None


def confirm(token: str, *, signed_up_as: str | None, password: str | None, ip: str | None = None) -> str | None:
    """Use the link: the address is verified and a pending registration becomes an account that may sign in.
    Returns where the sign-up wanted to go afterwards. Nobody is signed in.

    A pending registration is completed only from the browser that signed up (`signed_up_as`, the address it
    registered) or with the password chosen there, counted like a sign-in of the account (raises Throttled, or
    WrongPasswordError before the link is used).
    """
    found = inspect(token)
    if found is None:
        raise InvalidLinkError()
    user = users.find_by_email(found.email)
    if found.pending and signed_up_as != found.email and user is not None:
        with throttle().attempt(sign_in_counters("", ip, sub=user.sub)) as attempt:
            if not password or not passwords().verify(user.password_hash, password):
                attempt.fail()
                raise WrongPasswordError("enter the password you chose when you signed up", field="password")
    with transaction():
        redeemed = one_time_tokens.consume(PURPOSE, token)
        user = mailed_links.account_of(redeemed)
        if user is None or redeemed is None:
            raise InvalidLinkError()
        _verified(user)
        return (redeemed.data or {}).get("next")


def confirm_code(email: str | None, code: str) -> bool:
    """The short code from the mail, typed on the sign-up browser's "check your mail" page."""
    user = users.find_by_email(email) if email else None
    with transaction():  # a wrong code's try is counted, and committed
        redeemed = one_time_tokens.consume_code(PURPOSE, user.id, code.strip()) if user else None
        if user is None or mailed_links.account_of(redeemed) is not user:
            return False
        _verified(user)
    return True


def cancel(token: str) -> None:
    """"I did not sign up": the link is used up and a pending registration of the address is deleted."""
    with transaction():
        user = mailed_links.account_of(one_time_tokens.consume(PURPOSE, token))
        if user is None:
            raise InvalidLinkError()
        if user.registration_pending:
            users.delete_user(user, actor=None, reason="registration cancelled from the verification link")


def _verified(user: User) -> None:
    user.email_verified = True
    user.registration_pending = False
    audit.record("user.email_verified", user_sub=user.sub)
