"""OSTIARY_BRAND_*: checked at start-up, naming the variable; the colour comes as a stylesheet, never inline."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config import ConfigError, load_settings
from app.palette import DARK_SURFACES, LIGHT_SURFACES, contrast, stylesheet


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BRAND_NAME", "Acme\nLogin", "printable"),
    ("BRAND_NAME", "   ", "1 to 64"),
    ("BRAND_NAME", "x" * 65, "1 to 64"),
    ("BRAND_PRIMARY_COLOR", "green", "#RRGGBB"),
    ("BRAND_PRIMARY_COLOR", "#0a6", "#RRGGBB"),
    ("BRAND_PRIMARY_COLOR", "#00a86b;}body{display:none", "#RRGGBB"),
    ("BRAND_SUPPORT_URL", "http://help.acme.example", "https://"),
    ("BRAND_SUPPORT_URL", "javascript:alert(1)", "https://"),
    ("BRAND_SUPPORT_URL", "https://user@help.acme.example", "https://"),
    ("BRAND_SUPPORT_URL", "mailto:", "mailto:"),
    ("BRAND_FOOTER_LINKS", "Privacy https://acme.example/privacy", "Label <https://"),
    ("BRAND_FOOTER_LINKS", "Privacy <javascript:alert(1)>", "https://"),
    ("BRAND_FOOTER_LINKS", "Privacy <https://acme.example/p> trailing", "Label <https://"),
    ("BRAND_LOGO_URL", "http://cdn.acme.example/logo.svg", "https://"),
    ("BRAND_LOGO_URL", "/nonexistent/logo.svg", "not a readable file"),
    ("BRAND_LOGO_URL", "/etc/passwd", "image file"),
])
def test_bad_brand_settings_stop_the_start_naming_the_variable(name, value, message):
    with pytest.raises(ConfigError) as raised:
        load_settings({f"OSTIARY_{name}": value}, None)
    assert str(raised.value).startswith(f"OSTIARY_{name}") and message in str(raised.value)


def test_a_logo_file_must_be_small(tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\0" * (512 * 1024 + 1))
    with pytest.raises(ConfigError, match="at most 512 KiB"):
        load_settings({"OSTIARY_BRAND_LOGO_URL": str(logo)}, None)


def test_good_brand_settings_are_parsed(tmp_path):
    logo = tmp_path / "logo.svg"
    logo.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    settings = load_settings({
        "OSTIARY_BRAND_NAME": "Acme Login",
        "OSTIARY_BRAND_LOGO_URL": str(logo),
        "OSTIARY_BRAND_PRIMARY_COLOR": "#00A86B",
        "OSTIARY_BRAND_SUPPORT_URL": "https://help.acme.example/login?from=id",
        "OSTIARY_BRAND_FOOTER_LINKS": "Privacy <https://acme.example/p?a=1&b=2>, Terms of use, cookies <mailto:legal@acme.example>",
    }, None)
    assert settings["BRAND_NAME"] == "Acme Login" and settings["BRAND_PRIMARY_COLOR"] == "#00A86B"
    assert settings["BRAND_FOOTER_LINKS"] == [
        ("Privacy", "https://acme.example/p?a=1&b=2"), ("Terms of use, cookies", "mailto:legal@acme.example")
    ]


def test_the_defaults_keep_the_ostiary_brand():
    settings = load_settings({}, None)
    assert settings["BRAND_NAME"] == "Ostiary" and settings["BRAND_FOOTER_LINKS"] == []
    assert settings["BRAND_LOGO_URL"] is settings["BRAND_PRIMARY_COLOR"] is settings["BRAND_SUPPORT_URL"] is None


def test_the_old_product_name_setting_is_refused_with_its_new_name():
    with pytest.raises(ConfigError, match="OSTIARY_PRODUCT_NAME was renamed OSTIARY_BRAND_NAME"):
        load_settings({"OSTIARY_PRODUCT_NAME": "Acme Login"}, None)


@given(st.from_regex(r"#[0-9a-f]{6}", fullmatch=True))
def test_every_primary_colour_gives_readable_buttons_and_links_in_both_themes(color):
    """WCAG 2.2 §1.4.3: text on the brand's buttons, and links on every surface, at 4.5:1 or more."""
    css = stylesheet(color)
    light, dark = (dict(line.strip().rstrip(";").split(": ") for line in part.splitlines() if "--" in line)
                   for part in css.split("@media"))
    for theme, surfaces in ((light, LIGHT_SURFACES), (dark, DARK_SURFACES)):
        assert theme["--accent"] == color
        assert contrast(theme["--accent-fg"], theme["--accent"]) >= 4.5
        assert contrast(theme["--accent-fg"], theme["--accent-hover"]) >= 4.5
        for background in (*surfaces, theme["--accent-soft"]):
            assert contrast(theme["--link"], background) >= 4.5, (color, theme, background)


def test_brand_css_is_served_only_with_a_colour_and_cached_by_version(app, client, monkeypatch):
    assert client.get("/brand.css").status_code == 404
    assert "/brand.css" not in client.get("/login").get_data(as_text=True)

    monkeypatch.setitem(app.config, "BRAND_PRIMARY_COLOR", "#00a86b")
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/brand.css?v=' in page
    response = client.get("/brand.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "--accent: #00a86b;" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert client.get("/brand.css", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_a_logo_on_another_site_is_allowed_by_the_csp_and_nothing_else_is(app, client, monkeypatch):
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self';" in csp
    monkeypatch.setitem(app.config, "BRAND_LOGO_URL", "https://cdn.acme.example/brand/logo.png")
    response = client.get("/login")
    assert "img-src 'self' https://cdn.acme.example;" in response.headers["Content-Security-Policy"]
    assert '<img src="https://cdn.acme.example/brand/logo.png" alt="">' in response.get_data(as_text=True)
    assert client.get("/brand/logo").status_code == 404


def test_a_logo_file_is_served_by_the_app(app, client, monkeypatch, tmp_path):
    logo = tmp_path / "acme.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    monkeypatch.setitem(app.config, "BRAND_LOGO_URL", str(logo))
    page = client.get("/login").get_data(as_text=True)
    assert '<img src="/brand/logo?v=' in page and 'type="image/png"' in page
    with client.get("/brand/logo") as response:
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.get_data() == logo.read_bytes()
        assert "img-src 'self';" in response.headers["Content-Security-Policy"]


def test_a_logo_file_removed_after_start_up_leaves_the_pages_working(app, client, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "BRAND_LOGO_URL", str(tmp_path / "gone.svg"))
    response = client.get("/login")
    assert response.status_code == 200 and "<img" not in response.get_data(as_text=True)
    assert client.get("/brand/logo").status_code == 404
