"""A person changes their own email address (README "Self-service accounts"): the new address gets a link, the
old one a notice, and the change applies only when the link is used. An address is a way to sign in and to
reset the password, so the change is a factor change (users.authentication_factor_changed)."""

from __future__ import annotations

from app.errors import ConflictError, InvalidLinkError, ValidationError
from app.models import LoginSession, User
from app.services import audit, authentication, mailed_links, one_time_tokens, outbox, users
from app.services.transaction import transaction

PURPOSE = "email_change"


def request_change(login_session: LoginSession, new_email: str, password: str, *, ip: str | None) -> str:
    """Needs a recent sign-in or the password (raises Throttled, WrongPasswordError). Whether another account
    holds the new address is not said here (that would tell anyone signed in who has an account): the link goes
    to the new address either way, and its owner learns it when confirming. Returns the normalised address."""
    user = login_session.user
    address = users.normalize_email(new_email)
    if address == user.email:
        raise ValidationError("this is already your email address", field="email")
    authentication.confirm_recent_sign_in(login_session, password, ip=ip, purpose="email_change")
    mailed_links.count("email_change", address, ip)
    with transaction():
        mailed_links.send(address, "email_change", "/account/email/confirm", purpose=PURPOSE, user_id=user.id,
                          user_sub=user.sub, ttl_setting="EMAIL_CHANGE_TTL_SECONDS",
                          data={"email": user.email, "new_email": address})
        outbox.enqueue(user.email or "", "email_change_notice",
                       {"new_email": address, "link": outbox.issuer_link("/login")}, user_sub=user.sub)
        audit.record("user.email_change_requested", user_sub=user.sub, actor=user.sub)
    return address


def inspect(token: str) -> str | None:
    """The new address the link would confirm, without using it."""
    redeemed = one_time_tokens.peek(PURPOSE, token)
    return (redeemed.data or {}).get("new_email") if mailed_links.account_of(redeemed) and redeemed else None


def confirm(token: str, *, keep_session: LoginSession | None) -> User:
    """Use the link: the account takes the new, now verified, address; every other session and every refresh-token
    family ends (`keep_session` stays if it is the account's own). A pending registration of the address is
    replaced; an account that holds it is not, and the link then stays unused."""
    with transaction():
        redeemed = one_time_tokens.consume(PURPOSE, token)
        user = mailed_links.account_of(redeemed)
        if user is None or redeemed is None:
            raise InvalidLinkError()
        address = str((redeemed.data or {})["new_email"])
        holder = users.find_by_email(address)
        if holder is not None and holder.registration_pending:
            users.delete_user(holder, actor=None, reason="address confirmed by an email change")
        elif holder is not None:
            raise ConflictError("another account uses this email address now", field="email")
        with users.identifiers_claimed(address, None, other_than=user.id):
            user.email = address
            user.email_verified = True
            users.authentication_factor_changed(
                user, actor=user.sub, keep_session=keep_session.id if keep_session and keep_session.user_id == user.id
                else None)
            audit.record("user.email_changed", user_sub=user.sub, actor=user.sub)
    return user
