"""RFC 6749 §3.1 / §3.2: request parameters must not be included more than once."""

from __future__ import annotations

import re

from flask import request

MAX_PARAMETER_LENGTH = 4096
SAFE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,40}")


def duplicate_or_oversized_parameter() -> str | None:
    """A description of the first offending parameter, or None when the request is clean."""
    for source in (request.args, request.form):
        for name, values in source.lists():
            if len(values) > 1 or (name in request.args and name in request.form and source is request.args):
                return f"{_label(name)} is repeated"
            if any(len(value) > MAX_PARAMETER_LENGTH for value in values) or len(name) > 100:
                return f"{_label(name)} is too long"
    return None


def _label(name: str) -> str:
    """Echo only a plain name: an OAuth error_description must stay ASCII without quotes (RFC 6749 §5.2)."""
    return f"parameter '{name}'" if SAFE_NAME.fullmatch(name) else "a parameter"
