"""The deployer's brand on every page: name, logo, colour, support and footer links (OSTIARY_BRAND_*)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, request, send_file, url_for

from app.config import LOGO_TYPES
from app.palette import stylesheet

bp = Blueprint("brand", __name__)

DEFAULT_NAME = "Ostiary"
# Versioned URLs (?v=<digest of the content>): a browser may keep them a day and still sees a change at once.
MAX_AGE_SECONDS = 86400


@dataclass(frozen=True)
class Brand:
    name: str
    logo: str | None  # what <img src> and <link rel=icon> point at
    logo_type: str | None
    stylesheet: str | None  # /brand.css when a primary colour is set
    support_url: str | None
    footer_links: tuple[tuple[str, str], ...]


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


def _logo_file() -> Path | None:
    logo = current_app.config["BRAND_LOGO_URL"]
    return Path(logo) if logo and not logo.startswith(("https:", "http:")) else None


def _logo() -> tuple[str | None, str | None]:
    config = current_app.config
    logo, file = config["BRAND_LOGO_URL"], _logo_file()
    if file is not None:
        try:
            stat = file.stat()
        except OSError:  # removed since start-up: the page still renders, the image is missing
            return None, None
        version = _digest(f"{stat.st_mtime_ns}:{stat.st_size}".encode())
        return url_for("brand.logo", v=version), LOGO_TYPES[file.suffix.lower()]
    if logo:
        return logo, LOGO_TYPES.get(Path(urlsplit(logo).path).suffix.lower())
    if config["BRAND_NAME"] == DEFAULT_NAME:
        # Ostiary's own logo only beside its own name: another brand without a logo shows its name alone.
        return url_for("static", filename="logo.svg"), LOGO_TYPES[".svg"]
    return None, None


def current_brand() -> Brand:
    config = current_app.config
    logo, logo_type = _logo()
    color = config["BRAND_PRIMARY_COLOR"]
    return Brand(
        name=config["BRAND_NAME"],
        logo=logo,
        logo_type=logo_type,
        stylesheet=url_for("brand.css", v=_digest(stylesheet(color).encode())) if color else None,
        support_url=config["BRAND_SUPPORT_URL"],
        footer_links=tuple(config["BRAND_FOOTER_LINKS"]),
    )


def image_sources(logo: str | None) -> str:
    """CSP img-src for OSTIARY_BRAND_LOGO_URL: our own origin, and the logo's when it is a URL on another site."""
    if not logo or not logo.startswith(("https:", "http:")):  # none, or a file that we serve
        return "'self'"
    parts = urlsplit(logo)
    return f"'self' {parts.scheme}://{parts.netloc}"


def _cacheable(response: Response) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    response.make_conditional(request)  # answers 304 in place when the browser's copy is current
    return response


@bp.route("/brand.css")
def css() -> Response:
    """Custom properties only: the CSP allows no inline style, so the colour comes as a stylesheet of our own."""
    color = current_app.config["BRAND_PRIMARY_COLOR"]
    if color is None:
        abort(404)
    response = Response(stylesheet(color), mimetype="text/css")
    response.set_etag(_digest(response.get_data()))
    return _cacheable(response)


@bp.route("/brand/logo")
def logo() -> Response:
    file = _logo_file()
    if file is None or not file.is_file():
        abort(404)
    return send_file(file.resolve(), mimetype=LOGO_TYPES[file.suffix.lower()], max_age=MAX_AGE_SECONDS)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(lambda: {"brand": current_brand()})
