"""Shared fixtures of the protocol suites: Alice, a confidential relying party, and her tokens."""

from __future__ import annotations

import pytest

from tests.factories import RegisteredClient
from tests.flows import tokens_for


@pytest.fixture
def rp(make) -> RegisteredClient:
    make.user("alice@example.com")
    return make.client()


@pytest.fixture
def tokens(site, rp) -> dict:
    return tokens_for(site, rp, "alice@example.com")
