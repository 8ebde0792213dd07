"""Issue 15 point 5: a message speaks the language of the request that causes it, in the deployer's brand."""

from __future__ import annotations

from app.services.mail_templates import render

LINK = "http://127.0.0.1:8000/reset?token=" + "T" * 43


def test_a_message_caused_by_a_german_browser_is_in_german(app, monkeypatch):
    monkeypatch.setitem(app.config, "BRAND_NAME", "Acme Login")
    with app.test_request_context("/", headers={"Accept-Language": "de-DE,de;q=0.9"}):
        content = render("password_reset", {"link": LINK, "valid_for": 1800})
    assert content.subject == "Setzen Sie Ihr Acme Login-Passwort zurück"
    assert "in 30 Minuten ab" in content.text and LINK in content.text
    assert '<html lang="de">' in content.html and "Neues Passwort wählen" in content.html


def test_a_message_from_the_command_line_is_in_english(app):
    with app.app_context():
        content = render("email_change_notice", {"link": LINK, "new_email": "<b>new@example.com</b>"})
    assert content.subject == "Your Ostiary email address is being changed"
    assert '<html lang="en">' in content.html
    assert "&lt;b&gt;new@example.com&lt;/b&gt;" in content.html and "<b>new@" not in content.html


def test_a_translated_message_still_escapes_what_it_is_given(app):
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        content = render("email_change_notice", {"link": LINK + '"><script>', "new_email": "<b>x@example.com</b>"})
    assert "<strong>&lt;b&gt;x@example.com&lt;/b&gt;</strong>" in content.html
    assert '"><script>' not in content.html and "auf <b>x@example.com</b> ändern" in content.text


def test_a_message_wears_the_brands_colour_and_support_link(app, monkeypatch):
    monkeypatch.setitem(app.config, "BRAND_PRIMARY_COLOR", "#00a86b")
    monkeypatch.setitem(app.config, "BRAND_SUPPORT_URL", "mailto:help@acme.example")
    with app.app_context():
        content = render("password_reset", {"link": LINK, "valid_for": 1800})
    assert "background:#00a86b;color:#000000;" in content.html  # black text reads better on this green
    assert 'href="mailto:help@acme.example"' in content.html and "Need help? mailto:help@acme.example" in content.text
    with app.app_context():
        monkeypatch.setitem(app.config, "BRAND_PRIMARY_COLOR", None)
        monkeypatch.setitem(app.config, "BRAND_SUPPORT_URL", None)
        plain = render("password_reset", {"link": LINK, "valid_for": 1800})
    assert "background:#2450c4;color:#ffffff;" in plain.html and "Need help" not in plain.html + plain.text
