"""Invitations (README "Self-service accounts"): an administrator sends an address a single-use link that lets
its owner choose a password; the account exists from then on, its address verified by the link."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ConflictError, InvalidLinkError
from app.models import User
from app.services import audit, mailed_links, one_time_tokens, users
from app.services.transaction import transaction

PURPOSE = "invitation"


@dataclass(frozen=True)
class Invitation:
    email: str
    name: str | None


def invite(email: str, *, name: str | None = None, actor: str | None) -> Invitation:
    """Queue the invitation; an address that already has an account (other than a pending registration) is
    refused, which an administrator may know."""
    address = users.normalize_email(email)
    name = users.validate_name(name or None)
    holder = users.find_by_email(address)
    if holder is not None and not holder.registration_pending:
        raise ConflictError("a user with this email already exists", field="email")
    with transaction():
        mailed_links.send(address, "invitation", "/invitation", purpose=PURPOSE, user_id=None, user_sub=None,
                          ttl_setting="INVITATION_TTL_SECONDS", data={"email": address, "name": name})
        audit.record("user.invited", actor=actor)
    return Invitation(address, name)


def inspect(token: str) -> Invitation | None:
    """The invited address, without using the link."""
    redeemed = one_time_tokens.peek(PURPOSE, token)
    return _invitation(redeemed)


def accept(token: str, password: str, *, name: str | None) -> User:
    """Use the link: an account with this password and a verified address (a pending registration of the address
    is replaced: the invitation proved the mailbox). Nobody is signed in."""
    users.validate_password(password)
    with transaction():
        invitation = _invitation(one_time_tokens.consume(PURPOSE, token))
        if invitation is None:
            raise InvalidLinkError()
        holder = users.find_by_email(invitation.email)
        if holder is not None and holder.registration_pending:
            users.delete_user(holder, actor=None, reason="registration replaced by an accepted invitation")
        return users.create_user(invitation.email, password, name=name or invitation.name, email_verified=True)


def _invitation(redeemed: one_time_tokens.Redeemed | None) -> Invitation | None:
    data = redeemed.data if redeemed is not None else None
    return Invitation(str(data["email"]), data.get("name")) if data and data.get("email") else None
