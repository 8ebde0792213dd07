"""Mail bodies from templates/mail/<name>.txt (subject block + plain text) and <name>.html, in the brand's name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import ngettext
from jinja2 import Environment, StrictUndefined

from app import locales
from app.mail.message import Content
from app.palette import mail_colors

TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ENVIRONMENT = "ostiary.mail_templates"


def render(template: str, context: Mapping[str, Any]) -> Content:
    """Subject, text and HTML of one message; a variable the template needs but was not given is an error."""
    if not TEMPLATE_NAME.fullmatch(template):
        raise ValueError(f"not a mail template name: {template!r}")
    environment = _environment()
    # In the language of the request that causes the message (the person's), else English (the CLI).
    config = current_app.config
    values = {"product": config["BRAND_NAME"], "html_lang": locales.current(), "support_url": config["BRAND_SUPPORT_URL"],
              "colors": mail_colors(config["BRAND_PRIMARY_COLOR"]), **context}
    text = environment.get_template(f"mail/{template}.txt")
    subject = "".join(text.blocks["subject"](text.new_context(values))).strip()
    html = environment.get_template(f"mail/{template}.html")
    return Content(subject=subject, text=text.render(values).strip() + "\n",
                   html=html.render(values, subject=subject))


def duration(seconds: int) -> str:
    """'15 minutes', '1 hour', '2 days': the largest unit that states the validity exactly, else minutes."""
    if seconds >= 86400 and seconds % 86400 == 0:
        return ngettext("%(num)d day", "%(num)d days", seconds // 86400)
    if seconds >= 3600 and seconds % 3600 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    return ngettext("%(num)d minute", "%(num)d minutes", max(1, -(-seconds // 60)))


def _environment() -> Environment:
    """The pages' environment (same loader, HTML autoescaped), but strict: a missing link must not render empty."""
    environment = current_app.extensions.get(_ENVIRONMENT)
    if environment is None:
        environment = current_app.jinja_env.overlay(undefined=StrictUndefined)
        environment.filters["duration"] = duration
        current_app.extensions[_ENVIRONMENT] = environment
    return environment
