"""The languages of the pages and messages: English, plus every compiled catalogue in app/translations/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask_babel import get_locale

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DEFAULT_LOCALE = "en"  # the language the templates are written in


@cache
def supported() -> tuple[str, ...]:
    """BCP 47 tags, the default first: what discovery advertises as ui_locales_supported."""
    found = sorted(path.parent.parent.name for path in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.mo"))
    return (DEFAULT_LOCALE, *(locale.replace("_", "-") for locale in found if locale != DEFAULT_LOCALE))


def negotiate(ui_locales: str) -> str | None:
    """OpenID Connect Core §3.1.2.1: the first of a space-separated list of BCP 47 tags we support, matched
    exactly or by its primary language subtag (de-CH finds de); None when there is none."""
    available = {tag.lower(): tag for tag in supported()}
    for tag in ui_locales.split()[:20]:
        wanted = tag.lower()
        for candidate in (wanted, wanted.partition("-")[0]):
            if candidate in available:
                return available[candidate]
    return None


def current() -> str:
    """The language of this request's pages and mail, as a BCP 47 tag for <html lang> (de-CH, not de_CH)."""
    return str(get_locale() or DEFAULT_LOCALE).replace("_", "-")
