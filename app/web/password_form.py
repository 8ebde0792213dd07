"""The account page's password form: every problem found at once, each told as a sentence in the page's language."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext, lazy_gettext

from app.errors import AppError, WrongPasswordError
from app.security.passwords import MAX_LENGTH, MIN_LENGTH, NOT_UNICODE, TOO_COMMON, TOO_LONG, TOO_SHORT, policy_problems

POLICY = {
    TOO_SHORT: lazy_gettext("The new password must be at least %(num)d characters long.", num=MIN_LENGTH),
    NOT_UNICODE: lazy_gettext("The new password contains characters that cannot be used."),
    TOO_LONG: lazy_gettext("The new password must be at most %(num)d characters long.", num=MAX_LENGTH),
    TOO_COMMON: lazy_gettext("The new password is too common: choose another one."),
}


def problems(form: Mapping[str, str]) -> dict[str | None, str]:
    """What is wrong with the new password and its confirmation, by field; no database, nothing counted."""
    current, new = form.get("current_password", ""), form.get("new_password", "")
    found: dict[str | None, str] = {}
    sentences = [str(POLICY[problem]) for problem in policy_problems(new)]
    if new and new == current:
        sentences.append(gettext("The new password must differ from the current one."))
    if sentences:
        found["new_password"] = " ".join(sentences)
    if new != form.get("confirm_password", ""):
        found["confirm_password"] = gettext("The two new passwords do not match.")
    return found


def current_password_problem(exc: AppError) -> dict[str | None, str]:
    """The refusal of the current password (or, should the service find one, of the new one), as a sentence."""
    if isinstance(exc, WrongPasswordError):
        return {"current_password": gettext("The current password is not correct.")}
    if exc.field == "password" or exc.field == "current_password":
        return {"current_password": gettext("Enter your current password.")}
    return {exc.field: exc.description[:1].upper() + exc.description[1:] + "."}
