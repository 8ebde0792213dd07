"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of every admin API body: validation and documentation both."""

from __future__ import annotations

from typing import Any

from app.services.audit import MAX_TIMESTAMP, OUTCOMES
from app.services.clients import GRANT_TYPES
from app.services.pagination import MAX_LIMIT

Schema = dict[str, Any]

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
TIMESTAMP = {"type": "integer", "description": "Unix time, seconds"}
NULLABLE_TIMESTAMP = {"type": ["integer", "null"], "description": "Unix time, seconds"}
# Patterns describe at least everything the services accept, so a request they refuse is also refused here.
PRINTABLE = r"^[^\u0000-\u001f]*$"
SCOPE_TOKEN = r"[\u0021\u0023-\u005b\u005d-\u007e]{1,128}"  # RFC 6749 §3.3
# An absolute URI without a fragment (RFC 3986 §4.3): a scheme, a colon, printable ASCII but '#'.
ABSOLUTE_URI = r"^[A-Za-z][A-Za-z0-9+.-]*:[\u0021\u0022\u0024-\u007e]+$"
SCOPE = {"type": "string", "maxLength": 2000, "pattern": f"^({SCOPE_TOKEN}( {SCOPE_TOKEN})*)?$",
         "description": "Space-separated scopes"}
NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": PRINTABLE}
URI_LIST = {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 2000, "pattern": ABSOLUTE_URI}}
ROLES = {"type": "array", "maxItems": 32, "items": {"type": "string", "pattern": "^[a-z][a-z0-9_.:-]{0,63}$"}}
RESOURCE_LIST = {"type": "array", "maxItems": 50,
                 "items": {"type": "string", "maxLength": 500, "pattern": ABSOLUTE_URI}}
GRANT_TYPE_LIST = {"type": "array", "maxItems": 3, "items": {"type": "string", "enum": list(GRANT_TYPES)}}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object with exactly these properties: unknown ones are refused, so a typo is an error, not a no-op."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False,
            **extra}


def page_of(item: str) -> Schema:
    return obj({"items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
                "next_cursor": {**NULLABLE_STRING, "description": "The `cursor` of the next page; null at the end"}},
               ("items", "next_cursor"))


USER = obj({
    "sub": STRING, "email": STRING, "username": NULLABLE_STRING, "name": NULLABLE_STRING,
    "email_verified": BOOLEAN, "roles": {"type": "array", "items": STRING}, "is_admin": BOOLEAN, "scope": STRING,
    "is_active": BOOLEAN, "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
}, ("sub", "email", "username", "name", "email_verified", "roles", "is_admin", "scope", "is_active", "created_at",
    "updated_at"))

USER_FIELDS: dict[str, Schema] = {
    "email": {"type": "string", "maxLength": 320, "format": "email"},
    "username": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    "name": {"type": ["string", "null"], "maxLength": 200, "pattern": PRINTABLE},
    "email_verified": BOOLEAN,
    "roles": ROLES,
    "scope": {**SCOPE, "description": "API scopes the user may hold in API keys (the admin role adds ostiary:admin)"},
}

CLIENT_FIELDS: dict[str, Schema] = {
    "name": NAME,
    "redirect_uris": URI_LIST,
    "post_logout_redirect_uris": URI_LIST,
    "grant_types": GRANT_TYPE_LIST,
    "scope": SCOPE,
    "audience": {"type": ["string", "null"], "maxLength": 500},
    "resources": {**RESOURCE_LIST, "description": "RFC 8707 resource identifiers the client may request"},
    "introspect_resources": {**RESOURCE_LIST, "description": (
        "Registered resources this client serves: it may introspect the access tokens meant for them (RFC 7662 §4)")},
    "introspect_all": {**BOOLEAN, "description": "May introspect every token (RFC 7662 §4); confidential clients only"},
    **{link: {"type": ["string", "null"], "maxLength": 2000, "description": "RFC 7591 §2, shown on the consent page"}
       for link in ("client_uri", "logo_uri", "policy_uri", "tos_uri")},
    "require_mfa": {**BOOLEAN, "description": "Every sign-in for this client needs a second factor"},
}

CLIENT_PROPERTIES: dict[str, Schema] = {
    "client_id": STRING, "name": STRING, "public": BOOLEAN, "redirect_uris": {"type": "array", "items": STRING},
    "post_logout_redirect_uris": {"type": "array", "items": STRING},
    "grant_types": {"type": "array", "items": STRING}, "scope": STRING, "audience": NULLABLE_STRING,
    "resources": {"type": "array", "items": STRING}, "introspect_resources": {"type": "array", "items": STRING},
    "introspect_all": BOOLEAN, "require_mfa": BOOLEAN,
    "is_active": {**BOOLEAN, "description": "false: disabled, refused as if it were not registered"},
    "created_at": TIMESTAMP,
    "registered_via": {"type": "string", "enum": ["operator", "token", "open"], "description": (
        "operator (CLI, admin API), or RFC 7591 registration with an initial access token or openly")},
    **{link: NULLABLE_STRING for link in ("client_uri", "logo_uri", "policy_uri", "tos_uri")},
}

ONE_TIME_SECRET = {**NULLABLE_STRING, "description": "Shown once; null for public clients"}

RESOURCE = obj({"id": INTEGER, "identifier": STRING, "name": STRING, "scope": STRING, "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP}, ("id", "identifier", "name", "scope", "created_at", "updated_at"))

API_KEY_PROPERTIES: dict[str, Schema] = {
    "key_id": STRING, "prefix": {**STRING, "description": "ost_<key_id>_: what a secret scanner matches"},
    "name": STRING, "owner": {**STRING, "description": "sub of the owning user or service account"},
    "scope": STRING, "created_at": TIMESTAMP, "expires_at": NULLABLE_TIMESTAMP, "last_used_at": NULLABLE_TIMESTAMP,
    "revoked_at": NULLABLE_TIMESTAMP,
}

SERVICE_ACCOUNT = obj({
    "sub": STRING, "name": STRING, "roles": {"type": "array", "items": STRING}, "scope": STRING,
    "allowed_scope": {**STRING, "description": "scope plus what its roles bring: what its API keys may carry"},
    "is_active": BOOLEAN, "created_at": TIMESTAMP,
}, ("sub", "name", "roles", "scope", "allowed_scope", "is_active", "created_at"))

AUDIT_EVENT = obj({
    "id": INTEGER, "at": TIMESTAMP, "event": {**STRING, "description": "What happened, e.g. sign_in, client.created"},
    "outcome": {"type": "string", "enum": list(OUTCOMES)},
    "user_sub": {**NULLABLE_STRING, "description": "sub of the user or service account concerned"},
    "client_id": {**NULLABLE_STRING, "description": "The client or API key id concerned"},
    "ip": NULLABLE_STRING, "request_id": NULLABLE_STRING,
    "details": {"type": "object", "description": "Identifiers only, never a secret (e.g. actor, scope, fields)"},
}, ("id", "at", "event", "outcome", "user_sub", "client_id", "ip", "request_id", "details"))
QUERY_TIMESTAMP = {"type": "integer", "minimum": 0, "maximum": MAX_TIMESTAMP}

CONSENT = obj({
    "user_sub": {**STRING, "description": "sub of the person who allowed it"},
    "client_id": STRING,
    "scope": {**STRING, "description": "Everything the person allowed the client, space-separated"},
    "resources": {"type": "array", "items": STRING, "description": "RFC 8707 resources its tokens may be for"},
    "created_at": {**TIMESTAMP, "description": "When the person first allowed the client anything"},
    "granted_at": {**TIMESTAMP, "description": "When the person last allowed it more"},
}, ("user_sub", "client_id", "scope", "resources", "created_at", "granted_at"))
PROVIDER_NAME = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
                 "description": "In the redirect URI <issuer>/federation/<name>/callback and the idp claim; fixed"}
HTTPS_URL = {"type": ["string", "null"], "maxLength": 500, "pattern": ABSOLUTE_URI}
MAP_NAME = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[\\u0021-\\u007e]+$"}
NAME_MAP = {"type": "object", "maxProperties": 50, "propertyNames": MAP_NAME, "additionalProperties": MAP_NAME}
PROVIDER_SETTINGS: dict[str, Schema] = {
    "display_name": {**NAME, "maxLength": 100, "description": 'The button says "Continue with <display_name>"'},
    "issuer": {**HTTPS_URL, "description": "OpenID Connect: the issuer (discovery configures the rest)"},
    "client_id": {**STRING, "minLength": 1, "maxLength": 255, "pattern": PRINTABLE},
    "scope": {**STRING, "maxLength": 1000, "pattern": PRINTABLE},
    "authorization_endpoint": HTTPS_URL, "token_endpoint": HTTPS_URL, "userinfo_endpoint": HTTPS_URL,
    "token_endpoint_auth_method": {"type": "string", "enum": ["client_secret_basic", "client_secret_post"]},
    "claim_mapping": {**NAME_MAP, "description": "Our claim (sub, email, email_verified, name, picture, groups) -> "
                                                 "the upstream member it comes from"},
    "role_mapping": {**NAME_MAP, "description": "Upstream group -> role of accounts created through the provider"},
    "trusted_domains": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 253},
                        "description": "Domains the provider is authoritative for (README \"Federation\")"},
    "allow_sign_up": BOOLEAN, "enabled": BOOLEAN,
}
CLIENT_SECRET_IN = {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": PRINTABLE,
                    "description": "Stored sealed, never shown again"}
PROVIDER = obj({"name": STRING, "kind": {"type": "string", "enum": ["oidc", "oauth2"]}, "preset": NULLABLE_STRING,
                **PROVIDER_SETTINGS, "redirect_uri": {**STRING, "description": "Register it at the provider"},
                "created_at": TIMESTAMP, "updated_at": TIMESTAMP})

SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": STRING, "error_description": STRING,
                  "field": {**STRING, "description": "The request field that was refused"}},
                 ("error", "error_description")),
    "User": USER,
    "UserPage": page_of("User"),
    "UserCreate": obj({**USER_FIELDS, "password": {"type": "string", "maxLength": 1024,
                                                   "description": "Omit to create a user who cannot sign in yet"}},
                      ("email",)),
    "UserUpdate": obj(USER_FIELDS),
    "InvitationCreate": obj({"email": USER_FIELDS["email"], "name": USER_FIELDS["name"]}, ("email",)),
    "Invitation": obj({"email": STRING, "name": NULLABLE_STRING}, ("email", "name")),
    "PasswordSet": obj({"password": {"type": "string", "maxLength": 1024},
                        "revoke_api_keys": {**BOOLEAN, "default": False,
                                            "description": "Also revoke the user's API keys"}}, ("password",)),
    "Client": obj(CLIENT_PROPERTIES, tuple(CLIENT_PROPERTIES)),
    "ClientPage": page_of("Client"),
    "ClientCreate": obj({**CLIENT_FIELDS, "public": BOOLEAN}, ("name",)),
    "ClientUpdate": obj(CLIENT_FIELDS),
    "ClientRegistration": obj({**CLIENT_PROPERTIES, "client_secret": ONE_TIME_SECRET},
                              (*CLIENT_PROPERTIES, "client_secret")),
    "ClientSecret": obj({"client_id": STRING, "client_secret": {**STRING, "description": "Shown once"}},
                        ("client_id", "client_secret")),
    "Resource": RESOURCE,
    "ResourcePage": page_of("Resource"),
    "ResourceCreate": obj({"identifier": {"type": "string", "maxLength": 500, "pattern": ABSOLUTE_URI,
                                          "description": "Absolute URI: the `aud` its tokens carry"},
                           "name": NAME, "scope": SCOPE}, ("identifier", "name")),
    "ResourceUpdate": obj({"name": NAME, "scope": SCOPE}),
    "ApiKey": obj(API_KEY_PROPERTIES, tuple(API_KEY_PROPERTIES)),
    "ApiKeyPage": page_of("ApiKey"),
    "ApiKeyCreate": obj({"owner": {**STRING, "maxLength": 36, "description": "sub of a user or service account"},
                         "name": NAME, "scope": SCOPE, "expires_at": NULLABLE_TIMESTAMP}, ("owner", "name")),
    "ApiKeyIssued": obj({**API_KEY_PROPERTIES, "key": {
        **STRING, "description": "ost_<key_id>_<secret>, shown once: client_id = key_id, client_secret = key"}},
        (*API_KEY_PROPERTIES, "key")),
    "ServiceAccount": SERVICE_ACCOUNT,
    "ServiceAccountPage": page_of("ServiceAccount"),
    "ServiceAccountCreate": obj({"name": NAME, "roles": ROLES, "scope": SCOPE}, ("name",)),
    "ServiceAccountUpdate": obj({"name": NAME, "roles": ROLES, "scope": SCOPE}),
    "Provider": PROVIDER,
    "ProviderPage": page_of("Provider"),
    "ProviderCreate": obj({"name": PROVIDER_NAME, "preset": {"type": "string", "enum": ["google", "microsoft", "github"]},
                           "kind": {"type": "string", "enum": ["oidc", "oauth2"]},
                           "tenant": {"type": "string", "maxLength": 100, "pattern": PRINTABLE},
                           **PROVIDER_SETTINGS, "client_secret": CLIENT_SECRET_IN},
                          ("name", "client_id", "client_secret")),
    "ProviderUpdate": obj({**PROVIDER_SETTINGS, "client_secret": CLIENT_SECRET_IN}),
    "AuditEvent": AUDIT_EVENT,
    "AuditEventPage": page_of("AuditEvent"),
    "Consent": CONSENT,
    "ConsentPage": page_of("Consent"),
}

QUERY_PARAMETERS: dict[str, Schema] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
    "cursor": {"type": "string", "pattern": "^[0-9]{1,18}$"},
    "q": {"type": "string", "maxLength": 320, "pattern": PRINTABLE},
    "owner": {"type": "string", "maxLength": 36, "pattern": PRINTABLE},
    "event": {"type": "string", "maxLength": 64, "pattern": PRINTABLE},
    "outcome": {"type": "string", "enum": list(OUTCOMES)},
    "user_sub": {"type": "string", "maxLength": 36, "pattern": PRINTABLE},
    "client_id": {"type": "string", "maxLength": 64, "pattern": PRINTABLE},
    "user": {"type": "string", "maxLength": 36, "pattern": PRINTABLE, "description": "sub of a user"},
    "since": {**QUERY_TIMESTAMP, "description": "Events at or after this Unix time (seconds)"},
    "until": {**QUERY_TIMESTAMP, "description": "Events before this Unix time (seconds)"},
}
