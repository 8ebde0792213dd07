"""A mailed link: a one-time token (app/services/one_time_tokens.py) put into a message of the outbox."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.extensions import db
from app.models import User
from app.security.throttle import count_request, mail_request_counters
from app.services import one_time_tokens, outbox


def send(to: str, template: str, path: str, *, purpose: str, user_id: int | None, user_sub: str | None,
         ttl_setting: str, data: dict[str, Any] | None = None, code_digits: int | None = None,
         **context: Any) -> None:
    """Issue a token of `purpose` valid for the setting `ttl_setting` (superseding the account's older ones) and
    queue templates/mail/<template> with its link on the issuer (never the request's Host), in the caller's
    transaction."""
    ttl_seconds = current_app.config[ttl_setting]
    issued = one_time_tokens.issue(purpose, user_id=user_id, ttl_seconds=ttl_seconds, data=data,
                                   code_digits=code_digits)
    values = {"link": outbox.issuer_link(path, token=issued.token), "valid_for": ttl_seconds, **context}
    if issued.code is not None:
        values["code"] = issued.code
    outbox.enqueue(to, template, values, user_sub=user_sub)


def count(form: str, address: str, ip: str | None) -> None:
    """A request of a form that sends mail to `address`: raises Throttled past the limits (per address, per IP)."""
    count_request(mail_request_counters(form, address, ip))


def account_of(redeemed: one_time_tokens.Redeemed | None) -> User | None:
    """The enabled account a link was sent to, if it still has the address the link was sent to (data["email"]):
    a link mailed before an email change is worth nothing afterwards."""
    if redeemed is None or redeemed.user_id is None:
        return None
    user = db.session.get(User, redeemed.user_id)
    if user is None or not user.is_active or user.email != (redeemed.data or {}).get("email"):
        return None
    return user
