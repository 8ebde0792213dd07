"""OpenID Connect Core §5.5: the claims request parameter, read for what it asks of the sign-in's level (the ID
token's acr, §5.5.1.1). Requests for other claims are checked for shape and otherwise ignored, as §5.5 allows:
the ID token and userinfo release what the granted scopes release."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError

from app.assurance import ACR_VALUES, acr_for, level, satisfies_level, strongest, weakest_requested

MEMBERS = ("userinfo", "id_token")  # §5.5; any other top-level member is not understood, so ignored


@dataclass(frozen=True)
class RequestedAcr:
    """What an authorization request asks of the sign-in's level: `wanted`, the weakest of our acr values it
    accepts (None: no level asked for, or none of ours), and whether reaching it is essential (§5.5.1.1), so
    that falling short fails the request instead of going on with an honest acr."""

    wanted: str | None
    essential: bool
    #: An essential request's values that are ours: the ID token's acr must be one of them (§5.5.1.1).
    values: tuple[str, ...] = ()

    def reported(self, amr: Iterable[str]) -> str | None:
        """The acr the ID token carries for a sign-in by `amr`: for an essential request, the strongest of its
        values that the sign-in reached (a passkey sign-in asked for mfa is reported as mfa); None otherwise,
        meaning the level reached (acr_for)."""
        if not self.essential:
            return None
        reached = acr_for(amr)
        met = [value for value in self.values if satisfies_level(reached, value)]
        return max(met, key=level) if met else None

    @property
    def unsupported(self) -> bool:
        """An essential acr of values none of which is ours can never be met."""
        return self.essential and self.wanted is None


def requested_acr(values: Mapping[str, str]) -> RequestedAcr:
    """acr_values (§3.1.2.1, voluntary) and the claims parameter's id_token acr, essential or voluntary: an
    essential request with values decides; otherwise the strictest of the voluntary ones is tried for."""
    voluntary = weakest_requested(values.get("acr_values"))
    acr = _acr_request(values.get("claims"))
    if acr is None:
        return RequestedAcr(voluntary, essential=False)
    wanted = weakest_requested(" ".join(acr.values))
    if acr.essential:
        return RequestedAcr(wanted, essential=True, values=tuple(v for v in acr.values if v in ACR_VALUES))
    return RequestedAcr(strongest(voluntary, wanted), essential=False)


@dataclass(frozen=True)
class _AcrRequest:
    values: tuple[str, ...]
    essential: bool


def _acr_request(raw: str | None) -> _AcrRequest | None:
    """The id_token member's acr request with values, or None; InvalidRequestError for a malformed parameter."""
    if not raw:
        return None  # RFC 6749 §3.1: a parameter without a value is treated as omitted
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise InvalidRequestError("claims must be a JSON object") from None
    if not isinstance(document, dict):
        raise InvalidRequestError("claims must be a JSON object")
    for member in MEMBERS:
        requests = document.get(member)
        if requests is not None and not isinstance(requests, dict):
            raise InvalidRequestError(f"claims member {member} must be a JSON object")
        for request in (requests or {}).values():
            _check_claim_request(member, request)
    acr = (document.get("id_token") or {}).get("acr")
    if acr is None:
        return None
    values = acr["values"] if "values" in acr else [acr["value"]] if "value" in acr else []
    if not all(isinstance(value, str) for value in values):
        raise InvalidRequestError("the acr claim request takes string values")
    return _AcrRequest(tuple(values), essential=acr.get("essential") is True and bool(values))


def _check_claim_request(member: str, request: Any) -> None:
    """§5.5.1: null, or an object whose essential is a boolean and whose values is an array."""
    if request is None:
        return
    if not isinstance(request, dict):
        raise InvalidRequestError(f"each claim requested in {member} must be null or a JSON object")
    if not isinstance(request.get("essential", False), bool):
        raise InvalidRequestError("essential must be true or false")
    if not isinstance(request.get("values", []), list):
        raise InvalidRequestError("values must be a JSON array")
