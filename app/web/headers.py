"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, current_app

CSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if current_app.config["ISSUER"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html":
        # Pages carry CSRF tokens and personal data: never cache them.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    session_cookie = "__Host-ostiary_csrf" if app.config["SESSION_COOKIE_SECURE"] else "ostiary_csrf"
    app.config["SESSION_COOKIE_NAME"] = session_cookie
