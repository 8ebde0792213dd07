"""Issue 15 point 5: pages in the person's language (Flask-Babel): ui_locales of the authorization request
(OpenID Connect Core §3.1.2.1), else Accept-Language, else English; German proves the catalogue complete."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app import locales
from app.locales import negotiate
from tests.flows import authorization_params, pkce_pair

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")
TAG = re.compile(r"<[^>]+>")
REFRESH = ("Refresh the catalogues (README, Brand and language): pybabel extract ... && pybabel update ... && "
           "pybabel compile -d app/translations")


def test_discovery_lists_the_languages_of_the_pages(client):
    assert client.get("/.well-known/openid-configuration").json["ui_locales_supported"] == ["en", "de"]


@pytest.mark.parametrize(("ui_locales", "expected"), [
    ("de", "de"), ("de-CH", "de"), ("DE-at en", "de"), ("fr-CA de en", "de"), ("en de", "en"),
    ("fr", None), ("", None), ("x" * 300, None),
])
def test_ui_locales_takes_the_first_supported_tag_or_its_primary_language(ui_locales, expected):
    assert negotiate(ui_locales) == expected


@pytest.mark.parametrize(("accept_language", "lang", "heading"), [
    ("de-DE,de;q=0.9,en;q=0.8", "de", "Anmelden"),
    ("fr-FR,de;q=0.5", "de", "Anmelden"),
    ("en-GB,en;q=0.9", "en", "Sign in"),
    ("fr-FR", "en", "Sign in"),
    (None, "en", "Sign in"),
])
def test_accept_language_chooses_the_page_language_and_html_lang(client, accept_language, lang, heading):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page and f"<h1>{heading}</h1>" in page


def test_ui_locales_of_the_authorization_request_wins_and_follows_it_to_sign_in(client, make):
    rp = make.client()
    params = authorization_params(rp, pkce_pair()[1], ui_locales="fr de")
    english = {"Accept-Language": "en-GB"}
    to_login = client.get(f"/oauth/authorize?{urlencode(params)}", headers=english)
    assert to_login.status_code == 302
    page = client.get(to_login.headers["Location"], headers=english).get_data(as_text=True)
    assert '<html lang="de">' in page and "<h1>Anmelden</h1>" in page and "um mit" in page


def test_ui_locales_of_an_rp_initiated_logout_request_chooses_its_language(client):
    """RP-Initiated Logout 1.0 §2: ui_locales, as at authorization."""
    page = client.get("/oauth/logout?ui_locales=de", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="de">' in page and "<h1>Sie sind abgemeldet</h1>" in page


def test_ui_locales_on_another_page_is_ignored(client):
    page = client.get("/login?ui_locales=de", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_the_sign_in_error_is_translated(app, make):
    make.user("pat@example.com")
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        response = app.test_client().post("/login", headers={"Accept-Language": "de"},
                                          data={"login": "pat@example.com", "password": "wrong"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert response.status_code == 401
    assert "Die Anmeldedaten sind ungültig." in response.get_data(as_text=True)


def test_a_scope_token_with_markup_is_escaped_in_every_language(app):
    from flask_babel import force_locale

    from app.scopes import describe
    with app.test_request_context("/"), force_locale("de"):
        text = describe("<b>x</b>")
    assert text == "In Ihrem Namen auf „<b>x</b>“ zugreifen" and not hasattr(text, "__html__")


# The catalogue: complete, consistent with the code, compiled.

def _key(value: str | tuple | list) -> str | tuple:
    return value if isinstance(value, str) else tuple(value)


def _catalogue(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def test_the_template_lists_every_string_the_code_and_pages_mark_for_translation():
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    extracted = extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)
    in_code = {message if isinstance(message, str) else message[0] for _, _, message, *_ in extracted}
    with (TRANSLATIONS / "messages.pot").open("rb") as pot:
        in_template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}
    assert in_code == in_template, REFRESH


@pytest.mark.parametrize("locale", [tag.replace("-", "_") for tag in locales.supported()[1:]])
def test_every_language_is_complete_and_keeps_placeholders_and_markup(locale):
    with (TRANSLATIONS / "messages.pot").open("rb") as pot:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}
    catalogue = _catalogue(locale)
    translated = {}
    for message in catalogue:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(strings) and "fuzzy" not in message.flags, (locale, ids[0])
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(ids[0])), (locale, ids[0], text)
            assert TAG.findall(text) == TAG.findall(ids[0]), (locale, ids[0], text)
        translated[ids[0]] = strings
    assert wanted <= translated.keys(), (sorted(wanted - translated.keys()), REFRESH)


@pytest.mark.parametrize("locale", [tag.replace("-", "_") for tag in locales.supported()[1:]])
def test_the_shipped_compiled_catalogue_matches_its_source(locale):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(mo) if m.id}
    source = {_key(m.id): _key(m.string) for m in _catalogue(locale) if m.id}
    assert compiled == source, REFRESH


@pytest.mark.parametrize("path", ["/login", "/oauth/authorize", "/logout"])
def test_a_body_too_large_still_gets_its_page_when_choosing_the_language(client, path):
    """Choosing the language reads the form (ui_locales, next): a body over the limit must not turn the 413 into a 500."""
    response = client.post(path, data={"next": "/oauth/authorize?ui_locales=de", "x": "x" * 70_000},
                           headers={"Accept-Language": "de"})
    assert response.status_code == 413 and '<html lang="de">' in response.get_data(as_text=True)
