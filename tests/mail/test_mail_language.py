"""Issue 15 point 5: a message is written in the language of the request that causes it (the person's)."""

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
