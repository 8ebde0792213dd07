"""The account page's "Connected apps": what each app the person allowed may do, since when, and Remove."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from app.errors import NotFoundError
from app.scopes import consent_lines
from app.services import clients, consents, resources
from app.web.account import bp, signed_in
from app.web.login_session import current_user


@bp.get("/apps")
@signed_in
def apps() -> str:
    user = current_user()
    assert user is not None  # guaranteed by @signed_in
    listed = []
    for app in consents.connected_apps(user):
        scope = app.consent.scope
        names = resources.names_by_scope(scope.split(), requested=None, allowed=app.client.resources)
        listed.append((app, consent_lines(scope, names)))
    return render_template("account_apps.html", user=user, section="apps", apps=listed)


@bp.post("/apps/<client_id>/remove")
@signed_in
def remove_app(client_id: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    client = clients.get_client(client_id)
    try:
        if client is None:
            raise NotFoundError("no such client")
        consents.remove(user, client.client_id, actor=user.sub)
    except NotFoundError:
        flash(gettext("That app is not connected to your account."))
    else:
        flash(gettext("“%(name)s” was removed: it can no longer use your account, and asks you again if you use it.",
                      name=client.name))
    return redirect(url_for(".apps"))
