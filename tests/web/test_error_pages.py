"""Error pages for the situations a browser test cannot cause on demand: too many attempts, the database down, an
unexpected failure; and machine endpoints keep their JSON."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from app.security.throttle import Throttled

TITLE = re.compile(r'<h1 id="error-title">([^<]+)</h1>')


@pytest.fixture
def failing_app(app: Flask) -> Iterator[Flask]:
    """The app with pages that fail on purpose (a fresh app: routes cannot be added once one has served)."""
    settings = {name: app.config[name] for name in ("ISSUER", "SECRET_KEY", "KEYS_DIR", "MAIL_DIR")}
    application = create_app({**settings, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})

    def throttled() -> str:
        raise Throttled("sign_in:address", 125)

    def database_down() -> str:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    def unexpected() -> str:
        raise RuntimeError("a bug")

    for view in (throttled, database_down, unexpected):
        application.add_url_rule(f"/fails/{view.__name__}", view.__name__, view)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    ("path", "language", "status", "title", "advice"),
    [
        ("/fails/throttled", "en", 429, "Too many attempts", "Wait 3 minutes, then try again."),
        ("/fails/throttled", "de", 429, "Zu viele Versuche", "Warten Sie 3 Minuten und versuchen Sie es dann erneut."),
        ("/fails/database_down", "en", 503, "Temporarily unavailable", "Try again in a few moments."),
        ("/fails/unexpected", "en", 500, "Something went wrong", "mention the request ID"),
        ("/fails/unexpected", "de", 500, "Etwas ist schiefgegangen", "Anfrage-ID"),
    ],
)
def test_a_page_per_situation(failing_app, path, language, status, title, advice):
    response = failing_app.test_client().get(path, headers={"Accept-Language": language})
    page = response.get_data(as_text=True)

    assert response.status_code == status and response.mimetype == "text/html"
    assert TITLE.search(page).group(1) == title
    assert advice in page
    assert "Traceback" not in page and "a bug" not in page and "connection refused" not in page
    if status in (429, 503):
        assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize(("path", "method", "status"), [("/no/such/page", "GET", 404), ("/", "DELETE", 405),
                                                         ("/login", "PUT", 405)])
def test_werkzeugs_stock_pages_never_reach_a_person(client, path, method, status):
    page = client.open(path, method=method).get_data(as_text=True)
    assert TITLE.search(page) and "<title>" + str(status) not in page
    assert "Werkzeug" not in page and "The requested URL was not found on the server" not in page.split("<details")[0]


def test_machine_endpoints_still_answer_json(client):
    response = client.get("/oauth/token/no-such")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
