"""Every outbound HTTP request of the server leaves through here (ARCHITECTURE.md, "One way out of the process").

    egress = current_egress()
    document = egress.fetch_json("https://client.example/metadata.json")     # EgressError on any refusal
    session = egress.configure(OAuth2Session(...))                           # or egress.oauth2_session_class()
"""

from __future__ import annotations

import logging

from flask import Flask, current_app

from app.egress.addresses import AddressPolicy, refusal
from app.egress.cache import DocumentCache, freshness_seconds
from app.egress.client import Egress, Fetched, json_object, media_type
from app.egress.errors import (
    REQUEST_FAILURES,
    AddressRefused,
    ConnectionFailed,
    EgressError,
    EgressTimeout,
    InvalidJSON,
    NameResolutionFailed,
    RedirectRefused,
    ResponseTooLarge,
    TLSFailed,
    UnexpectedContentType,
    UnexpectedStatus,
    URLRefused,
)
from app.egress.transport import Limits

__all__ = [
    "REQUEST_FAILURES",
    "AddressPolicy",
    "AddressRefused",
    "ConnectionFailed",
    "DocumentCache",
    "Egress",
    "EgressError",
    "EgressTimeout",
    "Fetched",
    "InvalidJSON",
    "Limits",
    "NameResolutionFailed",
    "RedirectRefused",
    "ResponseTooLarge",
    "TLSFailed",
    "URLRefused",
    "UnexpectedContentType",
    "UnexpectedStatus",
    "current_egress",
    "freshness_seconds",
    "init_app",
    "json_object",
    "media_type",
    "refusal",
]

log = logging.getLogger(__name__)
EXTENSION = "ostiary.egress"


def init_app(app: Flask) -> None:
    networks, ca_bundle = app.config["EGRESS_ALLOWED_NETWORKS"], app.config["EGRESS_CA_BUNDLE"]
    if networks or ca_bundle:
        log.warning("outbound requests use test settings", extra={"allowed_networks": networks, "ca_bundle": ca_bundle})
    app.extensions[EXTENSION] = Egress.from_settings(app.config)


def current_egress() -> Egress:
    return current_app.extensions[EXTENSION]
