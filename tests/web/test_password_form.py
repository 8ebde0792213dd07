"""The account page's password form tells every problem at once, each a sentence, in the page's language."""

from __future__ import annotations

import html
import re

import pytest

from app.security.passwords import TOO_COMMON, TOO_SHORT, policy_problems
from tests.factories import DEFAULT_PASSWORD
from tests.flows import Browser, csrf_token, signed_in

EMAIL = "pw@example.com"
FIELD_ERROR = re.compile(r'<p class="field-error" id="([a-z_]+)-error">([^<]+)</p>')


@pytest.fixture
def browser(live_server, make) -> Browser:
    make.user(EMAIL)
    return signed_in(live_server, EMAIL)


def change(browser: Browser, current: str, new: str, again: str, language: str = "en") -> tuple[int, dict[str, str]]:
    headers = {"Accept-Language": language}
    token = csrf_token(browser.session.get(f"{browser.base_url}/account", headers=headers).text)
    response = browser.session.post(f"{browser.base_url}/account/password", headers=headers, allow_redirects=False,
                                    data={"current_password": current, "new_password": new,
                                          "confirm_password": again, "csrf_token": token})
    return response.status_code, {field: html.unescape(text) for field, text in FIELD_ERROR.findall(response.text)}


@pytest.mark.parametrize(
    ("current", "new", "again", "errors"),
    [
        ("not it", "pass", "other", {
            "current_password": "The current password is not correct.",
            "new_password": "The new password must be at least 8 characters long. "
                            "The new password is too common: choose another one.",
            "confirm_password": "The two new passwords do not match."}),
        (DEFAULT_PASSWORD, "short", "short", {
            "new_password": "The new password must be at least 8 characters long."}),
        (DEFAULT_PASSWORD, DEFAULT_PASSWORD, DEFAULT_PASSWORD, {
            "new_password": "The new password must differ from the current one."}),
        ("", "a brand new passphrase", "a brand new passphrase", {
            "current_password": "The current password is not correct."}),
        ("", "a brand new passphrase", "", {
            "current_password": "Enter your current password.",
            "confirm_password": "The two new passwords do not match."}),
    ],
    ids=["everything wrong", "too short", "unchanged", "no current password", "no current, no confirmation"],
)
def test_every_problem_is_told_at_once_in_sentences(browser, current, new, again, errors):
    assert change(browser, current, new, again) == (400, errors)


def test_in_german(browser):
    status, errors = change(browser, "not it", "pass", "other", language="de")
    assert status == 400
    assert errors["current_password"] == "Das aktuelle Passwort ist nicht korrekt."
    assert errors["confirm_password"] == "Die beiden neuen Passwörter stimmen nicht überein."
    assert errors["new_password"].startswith("Das neue Passwort muss mindestens 8 Zeichen lang sein.")


def test_a_good_change_still_goes_through(browser):
    assert change(browser, DEFAULT_PASSWORD, "a brand new passphrase", "a brand new passphrase") == (302, {})


def test_the_policy_lists_every_rule_a_password_breaks():
    assert policy_problems("pass") == [TOO_SHORT, TOO_COMMON]
    assert policy_problems("a brand new passphrase") == []
