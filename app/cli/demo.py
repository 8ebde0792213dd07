"""`ostiary init --demo`: a first admin and a demo client, so a newcomer can sign in at once."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.cli.common import all_pages
from app.config import signup_policy
from app.security.secrets import generate_secret
from app.services.clients import client_page, create_client
from app.services.users import create_user, find_by_login

DEMO_ADMIN = "admin@example.com"
DEMO_CLIENT_NAME = "Demo app"
DEMO_REDIRECT_URI = "http://localhost:8765/callback"


def create_demo() -> dict[str, Any]:
    issuer = current_app.config["ISSUER"]
    result: dict[str, Any] = {"admin_email": DEMO_ADMIN}
    if find_by_login(DEMO_ADMIN) is None:
        password = generate_secret(12)
        create_user(DEMO_ADMIN, password, name="Demo Admin", username="admin", is_admin=True, email_verified=True)
        result["admin_password"] = password
        sign_in = f"Sign in at {issuer}/login as {DEMO_ADMIN} with password {password} (shown once)."
    else:
        sign_in = f"Demo admin {DEMO_ADMIN} already exists (its password was shown when it was created)."
    existing = [c for c in all_pages(client_page) if c.name == DEMO_CLIENT_NAME]
    if existing:
        result["client_id"] = existing[0].client_id
        client_line = f"Demo client already registered: client_id {existing[0].client_id}."
    else:
        registration = create_client(
            DEMO_CLIENT_NAME,
            redirect_uris=[DEMO_REDIRECT_URI],
            post_logout_redirect_uris=["http://localhost:8765/"],
            grant_types=["authorization_code", "refresh_token"],
        )
        result["client_id"] = registration.client.client_id
        result["client_secret"] = registration.client_secret
        client_line = (
            f"Demo client: client_id {registration.client.client_id}, client_secret {registration.client_secret}"
            f" (shown once), redirect_uri {DEMO_REDIRECT_URI}."
        )
    lines = [sign_in, client_line]
    if signup_policy(current_app.config) == "open":
        result["signup_url"] = f"{issuer}/signup"
        lines.append(f"Anyone can sign up at {issuer}/signup; without OSTIARY_SMTP_URL the confirmation mail is "
                     f"written to {current_app.config['MAIL_DIR']} and its link printed in the server log.")
    result["instructions"] = "\n".join(lines)
    return result
