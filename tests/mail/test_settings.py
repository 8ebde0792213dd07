"""Mail settings are checked at start-up; OSTIARY_SMTP_URL is parsed strictly and its password never echoed."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_settings
from app.mail.smtp_url import SmtpEndpoint, parse_smtp_url

SECRET = "hunter2-very-secret"


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://127.0.0.1", SmtpEndpoint("127.0.0.1", 25, False, False, None, None, None)),
    ("smtp://relay.example.com?starttls=1", SmtpEndpoint("relay.example.com", 587, False, True, None, None, None)),
    ("smtp://u%40x:p%2Fw%3A%40@relay.example.com:2525?starttls=1",
     SmtpEndpoint("relay.example.com", 2525, False, True, "u@x", "p/w:@", None)),
    ("smtps://user:pass@relay.example.com", SmtpEndpoint("relay.example.com", 465, True, False, "user", "pass", None)),
    ("smtp://user:pass@localhost:1025", SmtpEndpoint("localhost", 1025, False, False, "user", "pass", None)),
])
def test_good_smtp_urls(url, expected):
    assert parse_smtp_url(url) == expected
    assert "pass" not in repr(parse_smtp_url(url)).replace("password", "")


@pytest.mark.parametrize(("url", "message"), [
    ("http://relay.example.com", "must be smtp://"),
    ("smtp://", "must be smtp://"),
    ("smtp://relay.example.com/path", "must be smtp://"),
    ("smtp://relay.example.com:99999", "not a valid URL"),
    ("smtp://relay.example.com?startls=1", "only the parameters starttls"),
    ("smtp://relay.example.com?starttls=1&starttls=0", "each once"),
    ("smtp://relay.example.com?starttls=yes", "starttls must be 0 or 1"),
    ("smtps://relay.example.com?starttls=1", "TLS from the start"),
    (f"smtp://user:{SECRET}@relay.example.com", "plain text"),
    (f"smtp://user:{SECRET}@relay.example.com:587?starttls=2", "starttls must be 0 or 1"),
    ("smtp://user@relay.example.com?starttls=1", "both a user and a password"),
    ("smtp://relay.example.com?starttls=1&cafile=/nonexistent/ca.pem", "is not a file"),
    (f"smtp://user:{SECRET}@relay example.com?starttls=1", "must be smtp://"),
])
def test_bad_smtp_urls_stop_the_start_naming_the_variable_but_never_the_password(url, message):
    with pytest.raises(ConfigError) as raised:
        load_settings({"OSTIARY_SMTP_URL": url}, None)
    assert str(raised.value).startswith("OSTIARY_SMTP_URL") and message in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MAIL_FROM", "a@example.com, b@example.com", "one email address"),
    ("MAIL_FROM", "Ostiary <no-reply@example.com>\r\nBcc: x@evil.example", "line breaks"),
    ("MAIL_FROM", "nobody", "one email address"),
    ("BRAND_NAME", "Acme\nLogin", "printable"),
    ("BRAND_NAME", "x" * 65, "1 to 64"),
    ("SMTP_TIMEOUT_SECONDS", "61", "at most 60"),
    ("MAIL_POLL_SECONDS", "0", "positive"),
    ("MAIL_RETRY_MAX_SECONDS", "10", "at least MAIL_RETRY_INITIAL_SECONDS"),
])
def test_other_mail_settings(name, value, message):
    with pytest.raises(ConfigError) as raised:
        load_settings({f"OSTIARY_{name}": value}, None)
    assert str(raised.value).startswith(f"OSTIARY_{name}") and message in str(raised.value)


def test_defaults_write_eml_files_from_no_reply_at_the_issuer_host():
    settings = load_settings({"OSTIARY_ISSUER": "https://id.example.com", "OSTIARY_MAIL_FROM": ""}, None)
    assert settings["SMTP_URL"] is None and settings["MAIL_DIR"].endswith("/mail") and settings["MAIL_FROM"] is None
    from app.mail.message import default_sender
    assert default_sender(settings["BRAND_NAME"], "id.example.com") == "Ostiary <no-reply@id.example.com>"
    assert default_sender("Ostiary", "127.0.0.1") == "Ostiary <no-reply@localhost>"
