"""The test-only egress settings: off by default, validated at start-up, naming the bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app.config import ConfigError, load_settings
from app.egress import AddressPolicy, current_egress
from tests.egress.conftest import PKI


def test_nothing_extra_is_allowed_by_default() -> None:
    settings = load_settings({}, None)
    assert settings["EGRESS_ALLOWED_NETWORKS"] == [] and settings["EGRESS_CA_BUNDLE"] is None


def test_the_app_builds_its_egress_from_the_settings(app: Flask) -> None:
    with app.app_context():
        assert current_egress().policy == AddressPolicy()


def test_the_environment_sets_networks_and_ca_bundle(pki: PKI) -> None:
    settings = load_settings(
        {"OSTIARY_EGRESS_ALLOWED_NETWORKS": "127.0.0.1/32, ::1/128", "OSTIARY_EGRESS_CA_BUNDLE": str(pki.ca_file)},
        None,
    )
    assert settings["EGRESS_ALLOWED_NETWORKS"] == ["127.0.0.1/32", "::1/128"]
    assert settings["EGRESS_CA_BUNDLE"] == str(pki.ca_file)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EGRESS_ALLOWED_NETWORKS", "localhost", "is not an IP address or network"),
        ("EGRESS_ALLOWED_NETWORKS", "127.0.0.1/33", "is not an IP address or network"),
        ("EGRESS_ALLOWED_NETWORKS", "0.0.0.0/0", "would switch the address policy off"),
        ("EGRESS_ALLOWED_NETWORKS", "::/0", "would switch the address policy off"),
        ("EGRESS_CA_BUNDLE", "/nonexistent/ca.pem", "is not a readable PEM file"),
        ("EGRESS_CA_BUNDLE", "{garbage}", "is not a readable PEM file"),
        ("EGRESS_CA_BUNDLE", "{empty}", "is not a readable PEM file"),
    ],
)
def test_a_bad_egress_setting_is_named(tmp_path: Path, name: str, value: str, message: str) -> None:
    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    (tmp_path / "empty.pem").write_text("")
    value = value.replace("{garbage}", str(tmp_path / "garbage.pem")).replace("{empty}", str(tmp_path / "empty.pem"))
    with pytest.raises(ConfigError) as raised:
        load_settings({f"OSTIARY_{name}": value}, None)
    assert str(raised.value).startswith(f"OSTIARY_{name}") and message in str(raised.value)
