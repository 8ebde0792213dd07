"""Relying-party libraries as apps use them; the browser ones drive the same Chromium as tests/browser."""

from tests.browser.conftest import (  # noqa: F401 - fixtures
    browser_log,
    chromium,
    context,
    page,
    playwright_driver,
    sign_in,
)
