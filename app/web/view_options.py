"""What an endpoint says about itself, declared once where it is defined and read by the request pipeline.

Its audience: a machine API (@api) answers errors as {"error", "error_description"} JSON, never sees the
browser's session and so needs no CSRF token; every other view is a browser page, whose errors are a readable
page. Opt-ins: @cors (browser apps may call it from an allowed origin), @no_store (no cache keeps the answer)
and @any_host (load balancers and scrapers reach a node by any name). Each declaration decorates a view, or a
blueprint for all its views. Adding an endpoint never means editing a list elsewhere.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import current_app, request

from app.extensions import csrf

API = "api"
PAGE = "page"

AUDIENCE = "ostiary_audience"
CORS = "ostiary_cors"
NO_STORE = "ostiary_no_store"
ANY_HOST = "ostiary_any_host"
OPTIONS = (AUDIENCE, CORS, NO_STORE, ANY_HOST)
_PATH_INDEX = "ostiary.audience_by_path"
_RULE_DECLARATIONS = "ostiary_declarations"

Declarable = TypeVar("Declarable")


def _declare(target: Declarable, option: str, value: Any = True) -> Declarable:
    setattr(target, option, value)
    return target


def api(target: Declarable) -> Declarable:
    """A machine API: authenticated by client credentials or a bearer token, never by the browser's cookies."""
    csrf.exempt(target)  # no cookie gives it authority, so no request forged with one can use it
    return _declare(target, AUDIENCE, API)


def cors(target: Declarable) -> Declarable:
    """OAuth 2.0 for Browser-Based Apps §6.1: an app on an origin of OSTIARY_CORS_ALLOWED_ORIGINS may call it."""
    return _declare(target, CORS)


def no_store(target: Declarable) -> Declarable:
    """RFC 9111 §5.2.2.5: the answer carries a secret or personal data; no cache may keep it."""
    return _declare(target, NO_STORE)


def any_host(target: Declarable) -> Declarable:
    """Answered whatever Host the request names: for load balancers and scrapers reaching one node."""
    return _declare(target, ANY_HOST)


def declared(option: str, endpoint: str | None = None) -> Any:
    """What the view of `endpoint` (by default the one this request reached), or its blueprint, declared;
    None when neither did or no view was reached."""
    if endpoint is not None:
        return _declarations(endpoint)[option]
    rule = request.url_rule
    if rule is None:
        return None
    # Several hooks ask on every request: the answers are read once per route and kept on the route itself, whose
    # view never changes once registered.
    declarations = getattr(rule, _RULE_DECLARATIONS, None)
    if declarations is None:
        declarations = _declarations(rule.endpoint)
        setattr(rule, _RULE_DECLARATIONS, declarations)
    return declarations[option]


def _declarations(endpoint: str) -> dict[str, Any]:
    view = current_app.view_functions.get(endpoint)
    blueprint = current_app.blueprints.get(endpoint.rpartition(".")[0]) if "." in endpoint else None
    return {option: _first_declared(option, view, blueprint) for option in OPTIONS}


def _first_declared(option: str, view: object, blueprint: object) -> Any:
    value = getattr(view, option, None)
    return getattr(blueprint, option, None) if value is None else value


def audience() -> str:
    """API or PAGE: the declared audience of the view this request reached, else that of its path."""
    if request.url_rule is not None:
        return declared(AUDIENCE) or PAGE
    return audience_of_path(request.path)


def audience_of_path(path: str) -> str:
    """For a path no route matched (a 404, a 405; Flask hands those to no blueprint): the audience of the routes
    that share the most leading segments with it, when they all agree (/admin/api/no-such, /.well-known/other,
    /oauth/token/x are APIs); a page when they do not (/oauth/no-such, /no/such/page)."""
    index = _audience_by_path()
    segments = _segments(path)
    for length in range(len(segments), -1, -1):
        found = index.get(segments[:length])
        if found is not None:
            return next(iter(found)) if len(found) == 1 else PAGE
    return PAGE


def _audience_by_path() -> dict[tuple[str, ...], frozenset[str]]:
    """Leading path segments of every route -> the audiences of the routes under them; built once per app, from
    the URL map and the declarations."""
    index = current_app.extensions.get(_PATH_INDEX)
    if index is None:
        found: dict[tuple[str, ...], set[str]] = {}
        for rule in current_app.url_map.iter_rules():
            segments = _segments(rule.rule.split("<", 1)[0])  # the fixed part, up to the first variable
            for length in range(len(segments) + 1):
                found.setdefault(segments[:length], set()).add(declared(AUDIENCE, rule.endpoint) or PAGE)
        index = current_app.extensions[_PATH_INDEX] = {key: frozenset(value) for key, value in found.items()}
    return index


def _segments(path: str) -> tuple[str, ...]:
    return tuple(segment for segment in path.split("/") if segment)

