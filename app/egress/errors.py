"""Why an outbound request failed: `description` is safe to show a client or person, `str(error)` is for the log."""

from __future__ import annotations

from typing import ClassVar

import requests


class EgressError(Exception):
    """Base class; the description never names an internal address, the detail may."""

    default_description: ClassVar[str] = "the document could not be fetched"

    def __init__(self, detail: str, description: str | None = None, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.description = description or self.default_description
        self.status = status

    @property
    def detail(self) -> str:
        return str(self)


class URLRefused(EgressError):
    default_description = "the URL must be an absolute https URL without user information"


class NameResolutionFailed(EgressError):
    default_description = "the host name could not be resolved"


class AddressRefused(EgressError):
    default_description = "the host is not a public internet address"


class ConnectionFailed(EgressError):
    default_description = "the host could not be reached"


class TLSFailed(EgressError):
    default_description = "a verified TLS connection to the host could not be made"


class EgressTimeout(EgressError):
    default_description = "the host did not answer in time"


class RedirectRefused(EgressError):
    default_description = "the host answered with a redirect, and redirects are not followed"


class UnexpectedStatus(EgressError):
    default_description = "the host answered with an unexpected HTTP status"


class ResponseTooLarge(EgressError):
    default_description = "the response is too large"


class UnexpectedContentType(EgressError):
    default_description = "the response has an unexpected Content-Type"


class InvalidJSON(EgressError):
    default_description = "the response is not a valid JSON object"


# What a request through a session that egress configured (Egress.configure) may raise: our refusals, and the
# transport's own failures, which such a session raises as they are. Callers outside app/egress catch this tuple.
REQUEST_FAILURES: tuple[type[Exception], ...] = (EgressError, requests.RequestException)
