"""OpenID Connect Discovery 1.0 and RFC 8414 metadata: one document, one issuer string."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app import locales
from app.assurance import ACR_VALUES
from app.config import signup_policy
from app.scopes import STANDARD_SCOPES
from app.security.keys import SIGNING_ALG

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
# The authorization endpoint refuses any other value (web/oauth.py).
PROMPT_VALUES = ["none", "login", "consent"]
RESPONSE_MODES = ["query"]
# Initiating User Registration via OpenID Connect 1.0 §4: offered while sign-up is open.
CREATE = "create"


def prompt_values() -> list[str]:
    """The prompt values the authorization endpoint accepts (web/oauth.py refuses any other)."""
    return PROMPT_VALUES + ([CREATE] if signup_policy(current_app.config) == "open" else [])


def metadata() -> dict[str, Any]:
    issuer = current_app.config["ISSUER"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "end_session_endpoint": f"{issuer}/oauth/logout",
        "scopes_supported": list(STANDARD_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": RESPONSE_MODES,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [SIGNING_ALG],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS[:2],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "idp", "at_hash",
            "name", "preferred_username", "updated_at", "email", "email_verified", "roles",
        ],
        "prompt_values_supported": prompt_values(),
        "acr_values_supported": list(ACR_VALUES),
        "ui_locales_supported": list(locales.supported()),
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": True,  # for the acr it asks of the sign-in (oauth/claims_request.py)
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        **dynamic_client_metadata(issuer),
    }


def dynamic_client_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 §2 registration_endpoint, only when registration is on; the CIMD draft's support flag."""
    found: dict[str, Any] = {}
    if current_app.config["REGISTRATION"] != "off":
        found["registration_endpoint"] = f"{issuer}/oauth/register"
    if current_app.config["CIMD"] != "off":
        found["client_id_metadata_document_supported"] = True
    return found
