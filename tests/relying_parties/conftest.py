"""Relying-party libraries as apps use them. The browser-driven one (oidc-client-ts) lives in tests/browser, so it
shares that directory's single Playwright driver; its npm package stays here, beside the other libraries."""
