"""Point 10: NIST SP 800-63B passwords: argon2id at RFC 9106 / OWASP cost in production, length rules only,
Unicode normalised, the most common passwords refused."""

from __future__ import annotations

import time
import unicodedata

import pytest

from app.config import SETTINGS, load_settings
from app.errors import ValidationError
from app.models import User
from app.security.passwords import MAX_BYTES, PasswordPolicyError, Passwords, check_policy, common_passwords
from app.services.users import create_user
from tests.security.conftest import sign_in

# OWASP Password Storage Cheat Sheet: argon2id with at least m=19 MiB, t=2, p=1.
OWASP_MIN_MEMORY_KIB = 19 * 1024


def production_passwords() -> Passwords:
    settings = load_settings({}, None)
    return Passwords(settings["ARGON2_TIME_COST"], settings["ARGON2_MEMORY_KIB"], settings["ARGON2_PARALLELISM"])


def test_production_defaults_are_argon2id_at_rfc_9106_cost():
    stored = production_passwords().hash("a long enough password")
    assert stored.startswith("$argon2id$v=19$")
    cost = dict(item.split("=") for item in stored.split("$")[3].split(","))
    assert int(cost["m"]) >= OWASP_MIN_MEMORY_KIB and int(cost["t"]) >= 2 and int(cost["p"]) >= 1
    # RFC 9106 §4, second recommended option.
    assert (int(cost["m"]), int(cost["t"]), int(cost["p"])) == (65536, 3, 4)


def test_tests_are_cheap_only_by_configuration(app):
    assert app.config["ARGON2_MEMORY_KIB"] < SETTINGS["ARGON2_MEMORY_KIB"][0]
    assert SETTINGS["ARGON2_MEMORY_KIB"][0] >= OWASP_MIN_MEMORY_KIB


def test_a_stronger_configuration_rehashes_on_the_next_sign_in(make, build_app):
    make.user("upgrade@example.com")
    stronger = build_app(ARGON2_TIME_COST=2, ARGON2_MEMORY_KIB=2048, ARGON2_PARALLELISM=1)
    assert sign_in(stronger.test_client(), "upgrade@example.com").status_code == 302
    with stronger.app_context():
        assert "$m=2048,t=2,p=1$" in make.model(User, email="upgrade@example.com").password_hash


@pytest.mark.parametrize("password", [
    "eightchr", "x" * 64, "y" * 256, "alllowercasenodigits", "ÜNÏCÖDÉ pässwörd", "correct horse battery staple",
    "🔐" * 10, "   spaces around   ",
])
def test_length_is_the_only_rule(password):
    check_policy(password)  # no composition rules: letters only, digits only, emoji, spaces


@pytest.mark.parametrize(("password", "message"), [
    ("seven77", "at least 8"),
    ("z" * 257, "at most 256"),
    ("password", "too common"),
    ("Password1", "too common"),
    ("QWERTYUIOP", "too common"),
    ("iloveyou", "too common"),
    ("1q2w3e4r", "too common"),
    ("\ud800" * 10, "valid Unicode"),
])
def test_short_long_common_and_broken_passwords_are_refused(password, message):
    with pytest.raises(PasswordPolicyError, match=message):
        check_policy(password)


def test_the_bundled_list_is_the_20000_most_common():
    assert len(common_passwords()) > 19000
    assert {"123456", "password", "qwerty", "letmein"} <= common_passwords()


def test_the_services_apply_the_policy(ctx):
    with pytest.raises(ValidationError) as refused:
        create_user("common@example.com", "iloveyou1")
    assert refused.value.field == "password" and "too common" in refused.value.description


@pytest.mark.parametrize(("stored", "typed"), [
    ("ﬁnancial ﬁle one", "financial file one"),  # NFKC folds the ligature
    (unicodedata.normalize("NFD", "café crème brûlée"), unicodedata.normalize("NFC", "café crème brûlée")),
    ("ｆｕｌｌｗｉｄｔｈ pass", "fullwidth pass"),
])
def test_passwords_are_unicode_normalised(make, app, stored, typed):
    make.user("unicode@example.com", password=stored)
    assert sign_in(app.test_client(), "unicode@example.com", typed).status_code == 302


def test_an_oversized_password_is_refused_without_hashing():
    hasher = production_passwords()
    stored = hasher.hash("a long enough password")
    started = time.perf_counter()
    hasher.verify(stored, "wrong password")
    one_verify = time.perf_counter() - started

    started = time.perf_counter()
    assert hasher.verify(stored, "a" * (MAX_BYTES + 1)) is False
    assert hasher.verify(None, "b" * 1_000_000) is False
    assert time.perf_counter() - started < one_verify / 4
