"""RFC 6749 §3.1 / §3.2: request parameters must not be included more than once."""

from __future__ import annotations

from flask import request

MAX_PARAMETER_LENGTH = 4096


def duplicate_or_oversized_parameter() -> str | None:
    """A description of the first offending parameter, or None when the request is clean."""
    for source in (request.args, request.form):
        for name, values in source.lists():
            if len(values) > 1 or (name in request.args and name in request.form and source is request.args):
                return f"parameter '{name[:40]}' is repeated"
            if any(len(value) > MAX_PARAMETER_LENGTH for value in values) or len(name) > 100:
                return f"parameter '{name[:40]}' is too long"
    return None
