"""Security fixtures: build_app (apps with their own settings) is in tests/conftest.py, the form helpers in
tests/flows.py; the names below are where security tests written before that import them from."""

from __future__ import annotations

from tests.flows import CSRF_INPUT, sign_in  # noqa: F401
from tests.flows import csrf_token as csrf_of  # noqa: F401
from tests.settings import TEST_SETTINGS

CHEAP_ARGON2 = {name: value for name, value in TEST_SETTINGS.items() if name.startswith("ARGON2_")}
