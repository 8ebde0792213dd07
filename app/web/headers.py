"""Security headers on every response; no-store and CORS on the views that declare them (app/web/view_options.py)."""

from __future__ import annotations

from functools import lru_cache

from flask import Flask, Response, current_app, g, request, url_for
from markupsafe import Markup

from app.web import brand
from app.web.view_options import CORS, NO_STORE, declared

# No script at all, no inline style, never framed. No form-action: browsers apply it to the redirect
# that follows the consent form, which goes to the client's redirect_uri. Images: ours, and a brand logo's site.
CSP = "default-src 'none'; style-src 'self'; img-src {images}; frame-ancestors 'none'; base-uri 'none'"
# A page that loads our own script (page_script): our files only (no inline script, no eval), fetching from this
# origin only.
SCRIPT_SOURCES = "; script-src 'self'; connect-src 'self'"
PAGE_SCRIPT = "ostiary_page_script"

CORS_REQUEST_HEADERS = "Authorization, Content-Type"
CORS_EXPOSED_HEADERS = "WWW-Authenticate, Retry-After"
CORS_MAX_AGE_SECONDS = 600


@lru_cache(maxsize=16)
def content_security_policy(logo: str | None, scripted: bool) -> str:
    """The CSP for a brand logo setting and a page's own script: built once, asked for on every response."""
    return CSP.format(images=brand.image_sources(logo)) + (SCRIPT_SOURCES if scripted else "")


def page_script(filename: str) -> Markup:
    """The tag of a script of ours in static/ (passkeys.js, on the pages that call navigator.credentials), for a
    template: the response that carries it, and only that one, gets a CSP that lets it run. Decided by the page
    rendered, not by the view: one view may answer with a page with the script or one without."""
    g.setdefault(PAGE_SCRIPT, True)
    return Markup('<script src="{}" defer></script>').format(url_for("static", filename=filename))


def add_security_headers(response: Response) -> Response:
    """Each header unless the view set its own; the names present are read once (a Headers look-up that misses
    raises and catches an exception)."""
    policy = content_security_policy(current_app.config["BRAND_LOGO_URL"], PAGE_SCRIPT in g)
    defaults = [
        ("Content-Security-Policy", policy),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        # Same-origin requests carry a Referer, which Flask-WTF demands on every form POST over https
        # (WTF_CSRF_SSL_STRICT); other origins, relying parties included, get none.
        ("Referrer-Policy", "same-origin"),
    ]
    if current_app.config["ISSUER"].startswith("https://"):
        defaults.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    if response.mimetype == "text/html":
        # Pages carry CSRF tokens and personal data: never cache them.
        defaults.append(("Cache-Control", "no-store"))
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([(name, value) for name, value in defaults if name.lower() not in present])
    return response


def add_declared_headers(response: Response) -> Response:
    if declared(NO_STORE):
        response.headers["Cache-Control"] = "no-store"
    if declared(CORS):
        add_cors_headers(response)
    return response


def add_cors_headers(response: Response) -> Response:
    """Fetch standard §3.2: the origin is echoed only when it is on OSTIARY_CORS_ALLOWED_ORIGINS; no credentials.
    Only views declared @cors: never authorize or the pages, which a browser visits itself and whose answers
    must not be readable by another origin."""
    _vary_on_origin(response)  # a shared cache must not hand one origin's answer to another
    origin = request.headers.get("Origin")
    if origin is None or origin not in current_app.config["CORS_ALLOWED_ORIGINS"]:
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        rule = request.url_rule
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}) if rule else []
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        response.headers["Access-Control-Allow-Headers"] = CORS_REQUEST_HEADERS
        response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
    else:
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
    return response


def _vary_on_origin(response: Response) -> None:
    """response.vary.add("Origin"), without parsing and rewriting a Vary header when there is none (the usual case)."""
    if any(name.lower() == "vary" for name, _ in response.headers):
        response.vary.add("Origin")
    else:
        response.headers["Vary"] = "Origin"


def init_app(app: Flask) -> None:
    app.add_template_global(page_script)
    app.after_request(add_security_headers)
    app.after_request(add_declared_headers)
    session_cookie = "__Host-ostiary_csrf" if app.config["SESSION_COOKIE_SECURE"] else "ostiary_csrf"
    app.config["SESSION_COOKIE_NAME"] = session_cookie
