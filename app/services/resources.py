"""Resource servers (RFC 8707): registered identifiers and scopes, plus the admin API as a built-in one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.models import Client, Resource
from app.scopes import ADMIN_SCOPE, is_api_scope, is_valid_scope_token
from app.services import audit
from app.services.pagination import Page, paginate
from app.services.transaction import transaction
from app.uris import resource_identifier_problem

ADMIN_API_PATH = "/admin/api"


ADMIN_API_NAME = "Ostiary admin API"


@dataclass(frozen=True)
class ResourceServer:
    """What the token endpoint needs to know about a resource: the `aud` and the scopes it understands,
    and the name a person is shown when asked to consent."""

    identifier: str
    scopes: tuple[str, ...]
    name: str


def admin_audience() -> str:
    """The admin API is a resource server too; its identifier is its URL."""
    return current_app.config["ISSUER"] + ADMIN_API_PATH


def find_resource(identifier: str) -> ResourceServer | None:
    if identifier == admin_audience():
        return ResourceServer(identifier, (ADMIN_SCOPE,), ADMIN_API_NAME)
    found = db.session.scalar(select(Resource).where(Resource.identifier == identifier))
    return ResourceServer(found.identifier, tuple(found.scopes), found.name) if found else None


def names_by_scope(
    scopes: list[str], *, requested: ResourceServer | None, allowed: list[str] | None
) -> dict[str, str]:
    """The name of the registered resource each API scope belongs to, for the consent page. When several define
    a scope, the requested one (RFC 8707) wins, then those the client is registered for, then by name."""
    wanted = {scope for scope in scopes if is_api_scope(scope) or scope == ADMIN_SCOPE}
    if not wanted:
        return {}
    preferred = ([requested.identifier] if requested else []) + list(allowed or [])
    rank = {identifier: position for position, identifier in reversed(list(enumerate(preferred)))}
    servers = [ResourceServer(r.identifier, tuple(r.scopes), r.name) for r in db.session.scalars(select(Resource))]
    admin_api = find_resource(admin_audience())
    assert admin_api is not None  # the admin API is built in: always found
    servers.append(admin_api)
    servers.sort(key=lambda server: (rank.get(server.identifier, len(rank)), server.name))
    names: dict[str, str] = {}
    for server in servers:
        for scope in wanted.intersection(server.scopes):
            names.setdefault(scope, server.name)
    return names


def validate_identifier(identifier: str, field: str = "identifier") -> str:
    """RFC 8707 §2: an absolute URI without a fragment."""
    problem = resource_identifier_problem(identifier)
    if problem is not None:
        raise ValidationError(problem, field=field)
    return identifier


def validate_resource_scope(scope: str) -> str:
    tokens = list(dict.fromkeys(scope.split()))
    for token in tokens:
        if not is_valid_scope_token(token):
            raise ValidationError(f"scope {token!r} is malformed", field="scope")
        if not is_api_scope(token):
            raise ValidationError(f"scope {token!r} is reserved", field="scope")
    return " ".join(tokens)


def validate_client_resources(identifiers: list[str], field: str = "resources") -> list[str]:
    """The resources a client may be allowed: registered ones and the admin API."""
    unique = list(dict.fromkeys(identifiers))
    for identifier in unique:
        if find_resource(validate_identifier(identifier, field)) is None:
            raise ValidationError(f"{identifier!r} is not a registered resource", field=field)
    return unique


def validate_resource_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("name must be 1 to 200 printable characters", field="name")
    return name


def create_resource(identifier: str, name: str, scope: str, *, actor: str | None) -> Resource:
    identifier = validate_identifier(identifier)
    resource = Resource(identifier=identifier, name=validate_resource_name(name), scope=validate_resource_scope(scope))
    if find_resource(identifier) is not None:
        raise ConflictError("a resource with this identifier already exists", field="identifier")
    with transaction():
        db.session.add(resource)
        audit.record("resource.created", actor=actor, resource=identifier)
    return resource


def get_resource(resource_id: int) -> Resource:
    found = db.session.get(Resource, resource_id) if 0 < resource_id < 2**31 else None
    if found is None:
        raise NotFoundError("no such resource")
    return found


def find_registered(ref: str) -> Resource:
    """A registered resource by id or identifier: what an operator types."""
    if ref.isascii() and ref.isdigit() and len(ref) < 10:
        return get_resource(int(ref))
    printable = ref.isprintable()  # PostgreSQL refuses NUL in a query parameter
    found = db.session.scalar(select(Resource).where(Resource.identifier == ref)) if printable else None
    if found is None:
        raise NotFoundError(f"no resource {ref!r}")
    return found


def undefined_scopes(scope: str) -> list[str]:
    """The scopes no registered resource defines: a principal may hold them, but they are most likely a typo."""
    defined = {token for scopes in db.session.scalars(select(Resource.scope)) for token in scopes.split()}
    return [token for token in dict.fromkeys(scope.split()) if token not in defined]


def resource_page(limit: int, cursor: str | None) -> Page[Resource]:
    return paginate(select(Resource), Resource.id, limit, cursor)


def update_resource(resource: Resource, changes: Mapping[str, Any], *, actor: str | None) -> Resource:
    """Name and scopes change; the identifier is the `aud` downstream services check, so it never does."""
    with transaction():
        if "name" in changes:
            resource.name = validate_resource_name(changes["name"])
        if "scope" in changes:
            resource.scope = validate_resource_scope(changes["scope"])
        audit.record("resource.updated", actor=actor, resource=resource.identifier, fields=sorted(changes))
    return resource


def delete_resource(resource: Resource, *, actor: str | None) -> None:
    """Clients lose the permissions to use it and to introspect its tokens with it."""
    with transaction():
        for client in db.session.scalars(select(Client)):
            if resource.identifier in (client.resources or []):
                client.resources = [r for r in client.resources if r != resource.identifier]
            if resource.identifier in (client.introspect_resources or []):
                client.introspect_resources = [r for r in client.introspect_resources if r != resource.identifier]
        audit.record("resource.deleted", actor=actor, resource=resource.identifier)
        db.session.delete(resource)
