"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client_id that is an https URL
serving the client's metadata. Fetched through app.egress, validated by the rules every client follows, never
stored."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app

from app.egress import DocumentCache, EgressError, Limits, current_egress
from app.errors import ValidationError
from app.models import Client
from app.models.client import METADATA_DOCUMENT
from app.services.client_metadata import PUBLIC_AUTH_METHOD, presented_metadata
from app.services.clients import apply_metadata
from app.uris import CLIENT_ID_LENGTH

# §6.1 recommends a small cap (5 KB); a document is a few hundred bytes of JSON.
MAX_DOCUMENT_BYTES = 5 * 1024
LIMITS = Limits(connect_timeout_seconds=3.0, read_timeout_seconds=3.0, deadline_seconds=5.0,
                max_bytes=MAX_DOCUMENT_BYTES)
CACHE = "ostiary.client_metadata_documents"
# §3: no dot segments, which a server could resolve to another document than the one named.
DOT_SEGMENT = re.compile(r"/\.{1,2}(/|$)")


class DocumentRefused(Exception):
    """The client_id names a metadata document that cannot describe a client; `str()` is safe to show."""


def is_document_url(client_id: str) -> bool:
    """§3: an https URL with a host and a path (not just "/"), no fragment, no user information, no dot segments."""
    if not client_id.startswith("https://") or len(client_id) > CLIENT_ID_LENGTH:
        return False
    try:
        parts = urlsplit(client_id)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return bool(parts.hostname and parts.path not in ("", "/") and "#" not in client_id and "@" not in parts.netloc
                and not DOT_SEGMENT.search(parts.path) and client_id.isascii() and client_id.isprintable())


def accepts(client_id: str) -> bool:
    """Whether `client_id` is to be resolved as a metadata document: documents are accepted and it names one."""
    return current_app.config["CIMD"] != "off" and is_document_url(client_id)


def vouching_host(client_id: str) -> str:
    """The host that serves the document and so vouches for the client: what a person is shown beside its name."""
    parts = urlsplit(client_id)
    return parts.netloc.lower()


def document_cache() -> DocumentCache:
    cache = current_app.extensions.get(CACHE)
    if cache is None:
        cache = current_app.extensions.setdefault(CACHE, DocumentCache(current_egress(), max_age_seconds=3600,
                                                                       default_age_seconds=300, failure_seconds=30))
    return cache


def host_allowed(client_id: str) -> bool:
    policy = current_app.config["CIMD"]
    if policy == "open":
        return True
    return policy == "allowlist" and vouching_host(client_id) in current_app.config["CIMD_ALLOWED_HOSTS"]


def resolve(client_id: str) -> Client:
    """The public client the document at `client_id` describes (not stored), or DocumentRefused."""
    if not host_allowed(client_id):
        raise DocumentRefused("clients from this host are not accepted")
    try:
        document = document_cache().fetch_json(client_id, limits=LIMITS, max_depth=4)
    except EgressError as exc:
        raise DocumentRefused(f"the client metadata document cannot be used: {exc.description}") from None
    if document.get("client_id") != client_id:
        raise DocumentRefused("the client metadata document names another client_id")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise DocumentRefused("a client metadata document must not hold a client secret")
    try:
        presented = presented_metadata(document, default_auth_method=PUBLIC_AUTH_METHOD)
        if not presented.public:
            raise ValidationError("token_endpoint_auth_method must be none", field="token_endpoint_auth_method")
        client = Client(client_id=client_id, is_public=True, registered_via=METADATA_DOCUMENT, is_active=True,
                        audience=None, resources=[], introspect_resources=[], introspect_all=False, created_at=0)
        apply_metadata(client, presented.changes)
    except ValidationError as exc:
        raise DocumentRefused(f"the client metadata document is invalid: {exc.description}") from None
    return client
