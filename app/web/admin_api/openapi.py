"""The OpenAPI 3.1 description of the admin API, served at /admin/api/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.scopes import ADMIN_SCOPE
from app.web.admin_api.schemas import QUERY_PARAMETERS, SCHEMAS

Operation = dict[str, Any]

ERRORS = {
    400: "The request is malformed; `field` names the offending field",
    401: "No access token, or one that is invalid, expired, revoked or for another audience",
    403: "The token lacks the admin scope, or its subject is not an active administrator",
    404: "No such object",
    409: "The change conflicts with existing state (a taken email, identifier or service-account name, locking "
         "yourself out, or a person's API keys at their cap)",
}
PATH_PARAMETERS = {
    "sub": {"type": "string", "maxLength": 36},
    "client_id": {"type": "string", "maxLength": 64},
    "resource_id": {"type": "integer", "minimum": 1},
    "key_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    "name": {"type": "string", "maxLength": 40},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def operation(operation_id: str, summary: str, tag: str, success: tuple[int, str | None], *,
              body: str | None = None, query: tuple[str, ...] = (), errors: tuple[int, ...] = (),
              links: dict[str, Any] | None = None) -> Operation:
    """One operation: its success response, the errors it can answer, and 401/403 for every protected one."""
    status, schema = success
    ok: dict[str, Any] = {"description": "Success"}
    if schema:
        ok["content"] = json_content(ref(schema))
    if status == 201:
        ok["headers"] = {"Location": {"description": "URL of the new object", "schema": {"type": "string"}}}
    if links:
        ok["links"] = links
    responses: dict[str, Any] = {str(status): ok}
    for code in sorted({*errors, *((400,) if body or query else ()), 401, 403}):
        responses[str(code)] = {"description": ERRORS[code], "content": json_content(ref("Error"))}
    found: Operation = {"operationId": operation_id, "summary": summary, "tags": [tag], "responses": responses}
    if body:
        found["requestBody"] = {"required": True, "content": json_content(ref(body))}
    if query:
        found["parameters"] = [{"name": name, "in": "query", "required": False, "schema": QUERY_PARAMETERS[name]}
                               for name in query]
    return found


def links_to(*operations: str, parameter: str, pointer: str) -> dict[str, Any]:
    """OpenAPI links from a created object to what can be done with it next (used by stateful testing)."""
    return {op: {"operationId": op, "parameters": {parameter: f"$response.body#/{pointer}"}} for op in operations}


def key_for_owner() -> dict[str, Any]:
    """A created user or service account can be given an API key with the scopes it holds."""
    return {"createApiKey": {"operationId": "createApiKey",
                             "requestBody": {"owner": "$response.body#/sub", "scope": "$response.body#/scope"}}}


def with_path_parameter(name: str, operations: dict[str, Operation]) -> dict[str, Any]:
    return {"parameters": [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}],
            **operations}


def paths() -> dict[str, Any]:
    user_links = links_to("getUser", "updateUser", "disableUser", "enableUser", "setUserPassword", "deleteUser",
                          parameter="sub", pointer="sub") | key_for_owner()
    client_links = links_to("getClient", "updateClient", "disableClient", "enableClient", "rotateClientSecret",
                            "deleteClient",
                            parameter="client_id", pointer="client_id")
    resource_links = links_to("getResource", "updateResource", "deleteResource", parameter="resource_id",
                              pointer="id")
    key_links = links_to("getApiKey", "revokeApiKey", parameter="key_id", pointer="key_id")
    account_links = links_to("getServiceAccount", "updateServiceAccount", "deleteServiceAccount",
                             parameter="sub", pointer="sub") | key_for_owner()
    return {
        "/admin/api/users": {
            "get": operation("listUsers", "List users (search: email, username or name)", "users", (200, "UserPage"),
                             query=("limit", "cursor", "q")),
            "post": operation("createUser", "Create a user", "users", (201, "User"), body="UserCreate",
                              errors=(409,), links=user_links),
        },
        "/admin/api/users/invitations": {
            "post": operation("inviteUser", "Mail an address a single-use link to create an account", "users",
                              (202, "Invitation"), body="InvitationCreate", errors=(409,)),
        },
        "/admin/api/users/{sub}": with_path_parameter("sub", {
            "get": operation("getUser", "Get a user", "users", (200, "User"), errors=(404,)),
            "patch": operation("updateUser", "Update a user's profile, roles or scopes (not your own admin role)",
                               "users", (200, "User"), body="UserUpdate", errors=(404, 409)),
            "delete": operation("deleteUser", "Delete a user and everything issued to them (not yourself)", "users",
                                (204, None), errors=(404, 409)),
        }),
        "/admin/api/users/{sub}/disable": with_path_parameter("sub", {
            "post": operation("disableUser", "Disable a user (not yourself): sessions and refresh tokens end at once",
                              "users", (200, "User"), errors=(404, 409)),
        }),
        "/admin/api/users/{sub}/enable": with_path_parameter("sub", {
            "post": operation("enableUser", "Enable a user", "users", (200, "User"), errors=(404,)),
        }),
        "/admin/api/users/{sub}/password": with_path_parameter("sub", {
            "put": operation("setUserPassword", "Set a user's password: their sessions end, their apps' refresh and "
                             "access tokens are revoked, and with revoke_api_keys their API keys", "users",
                             (204, None), body="PasswordSet", errors=(404,)),
        }),
        "/admin/api/users/{sub}/second-factors": with_path_parameter("sub", {
            "delete": operation("removeUserSecondFactors", "Remove a user's authenticator app, passkeys and recovery "
                                "codes (audited): their sessions end and their apps' tokens are revoked", "users",
                                (204, None), errors=(404,)),
        }),
        "/admin/api/clients": {
            "get": operation("listClients", "List clients", "clients", (200, "ClientPage"), query=("limit", "cursor")),
            "post": operation("createClient", "Register a client; a confidential client's secret is shown once",
                              "clients", (201, "ClientRegistration"), body="ClientCreate", links=client_links),
        },
        "/admin/api/clients/{client_id}": with_path_parameter("client_id", {
            "get": operation("getClient", "Get a client", "clients", (200, "Client"), errors=(404,)),
            "patch": operation("updateClient", "Update a client's metadata", "clients", (200, "Client"),
                               body="ClientUpdate", errors=(404,)),
            "delete": operation("deleteClient", "Delete a client and what it was issued", "clients", (204, None),
                                errors=(404,)),
        }),
        "/admin/api/clients/{client_id}/disable": with_path_parameter("client_id", {
            "post": operation("disableClient", "Disable a client: refused at authorization, token, revocation and "
                              "introspection as if it were not registered; its refresh and access tokens are revoked",
                              "clients", (200, "Client"), errors=(404,)),
        }),
        "/admin/api/clients/{client_id}/enable": with_path_parameter("client_id", {
            "post": operation("enableClient", "Enable a client (what disabling revoked stays revoked)", "clients",
                              (200, "Client"), errors=(404,)),
        }),
        "/admin/api/clients/{client_id}/secret": with_path_parameter("client_id", {
            "post": operation("rotateClientSecret", "Replace the client secret (shown once)", "clients",
                              (200, "ClientSecret"), errors=(400, 404)),
        }),
        "/admin/api/resources": {
            "get": operation("listResources", "List resource servers", "resources", (200, "ResourcePage"),
                             query=("limit", "cursor")),
            "post": operation("createResource", "Register a resource server (RFC 8707)", "resources",
                              (201, "Resource"), body="ResourceCreate", errors=(409,), links=resource_links),
        },
        "/admin/api/resources/{resource_id}": with_path_parameter("resource_id", {
            "get": operation("getResource", "Get a resource server", "resources", (200, "Resource"), errors=(404,)),
            "patch": operation("updateResource", "Rename a resource server or change its scopes", "resources",
                               (200, "Resource"), body="ResourceUpdate", errors=(404,)),
            "delete": operation("deleteResource", "Delete a resource server", "resources", (204, None),
                                errors=(404,)),
        }),
        "/admin/api/api-keys": {
            "get": operation("listApiKeys", "List API keys (of one owner, with `owner`)", "api-keys",
                             (200, "ApiKeyPage"), query=("limit", "cursor", "owner")),
            "post": operation("createApiKey", "Create an API key; the key is shown once (a person holds at most "
                              "OSTIARY_LIVE_API_KEYS_PER_PERSON live keys: 409 beyond)", "api-keys",
                              (201, "ApiKeyIssued"), body="ApiKeyCreate", errors=(409,), links=key_links),
        },
        "/admin/api/api-keys/{key_id}": with_path_parameter("key_id", {
            "get": operation("getApiKey", "Get an API key (never the key itself)", "api-keys", (200, "ApiKey"),
                             errors=(404,)),
        }),
        "/admin/api/api-keys/{key_id}/revoke": with_path_parameter("key_id", {
            "post": operation("revokeApiKey", "Revoke an API key: refused at the token endpoint from now on",
                              "api-keys", (200, "ApiKey"), errors=(404,)),
        }),
        "/admin/api/service-accounts": {
            "get": operation("listServiceAccounts", "List service accounts", "service-accounts",
                             (200, "ServiceAccountPage"), query=("limit", "cursor")),
            "post": operation("createServiceAccount", "Create a service account (owns API keys, never signs in); "
                              "names are unique, ignoring case",
                              "service-accounts", (201, "ServiceAccount"), body="ServiceAccountCreate",
                              errors=(409,), links=account_links),
        },
        "/admin/api/providers": {
            "get": operation("listProviders", "List upstream identity providers (README \"Federation\")",
                             "providers", (200, "ProviderPage"), query=("limit", "cursor")),
            "post": operation("createProvider", "Add an upstream identity provider; register the returned "
                              "redirect_uri at it. The client secret is sealed and never shown again", "providers",
                              (201, "Provider"), body="ProviderCreate", errors=(409,),
                              links=links_to("getProvider", "updateProvider", "deleteProvider", parameter="name",
                                             pointer="name")),
        },
        "/admin/api/providers/{name}": with_path_parameter("name", {
            "get": operation("getProvider", "Get a provider (never its client secret)", "providers", (200, "Provider"),
                             errors=(404,)),
            "patch": operation("updateProvider", "Change a provider's settings or replace its client secret",
                               "providers", (200, "Provider"), body="ProviderUpdate", errors=(404,)),
            "delete": operation("deleteProvider", "Delete a provider and the identities linked through it (the "
                                "accounts stay)", "providers", (204, None), errors=(404,)),
        }),
        "/admin/api/audit-events": {
            "get": operation("listAuditEvents", "List audit events, newest first (filters combine with AND)", "audit",
                             (200, "AuditEventPage"),
                             query=("limit", "cursor", "event", "outcome", "user_sub", "client_id", "since", "until")),
        },
        "/admin/api/consents": {
            "get": operation("listConsents", "List consents (of one user with `user`, of one client with `client_id`)",
                             "consents", (200, "ConsentPage"), query=("limit", "cursor", "user", "client_id")),
        },
        "/admin/api/users/{sub}/consents/{client_id}": {
            "parameters": [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
                           for name in ("sub", "client_id")],
            "delete": operation("revokeConsent", "Revoke what a user allowed a client: the consent is deleted and the "
                                "client's refresh and access tokens for the user are revoked", "consents",
                                (204, None), errors=(404,)),
        },
        "/admin/api/service-accounts/{sub}": with_path_parameter("sub", {
            "get": operation("getServiceAccount", "Get a service account", "service-accounts",
                             (200, "ServiceAccount"), errors=(404,)),
            "patch": operation("updateServiceAccount", "Rename a service account or change its roles or scopes",
                               "service-accounts", (200, "ServiceAccount"), body="ServiceAccountUpdate",
                               errors=(404, 409)),
            "delete": operation("deleteServiceAccount", "Delete a service account and its API keys",
                                "service-accounts", (204, None), errors=(404,)),
        }),
    }


def document() -> dict[str, Any]:
    issuer = current_app.config["ISSUER"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ostiary admin API",
            "version": "1",
            "description": (
                "Manage users, clients, resource servers, API keys, service accounts and upstream identity "
                "providers, and read the audit "
                "trail. Every request carries an "
                f"Ostiary access token (RFC 9068) for the audience `{issuer}/admin/api` with the scope "
                f"`{ADMIN_SCOPE}`, whose subject is an administrator: request it with "
                f"`resource={issuer}/admin/api` at the token endpoint. Every error is "
                '`{"error", "error_description"}`; validation errors add `field`.'
            ),
        },
        "servers": [{"url": issuer}],
        "security": [{"ostiary": [ADMIN_SCOPE]}],
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "ostiary": {
                    "type": "oauth2",
                    "description": f"An access token with `{ADMIN_SCOPE}` for the resource `{issuer}/admin/api`",
                    "flows": {"clientCredentials": {"tokenUrl": f"{issuer}/oauth/token",
                                                    "scopes": {ADMIN_SCOPE: "Administer Ostiary"}}},
                }
            },
        },
    }
