"""RFC 6749 §3.1 / §3.2: OAuth request parameters, each at most once, bounded, and free of control characters."""

from __future__ import annotations

import re
from collections.abc import Collection

from flask import request

MAX_PARAMETER_LENGTH = 4096
MAX_NAME_LENGTH = 100
SAFE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
# RFC 6749 Appendix A: every OAuth parameter is VSCHAR / NQCHAR / URI text, so C0 controls and DEL never belong.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def malformed_parameter() -> str | None:
    """A description of the first offending parameter, or None when the request is clean."""
    for source in (request.args, request.form):
        for name, values in source.lists():
            if len(values) > 1 or (name in request.args and name in request.form and source is request.args):
                return f"{_label(name)} is repeated"
            if len(name) > MAX_NAME_LENGTH or any(len(value) > MAX_PARAMETER_LENGTH for value in values):
                return f"{_label(name)} is too long"
            if CONTROL.search(name) or any(CONTROL.search(value) for value in values):
                return f"{_label(name)} contains a control character"
    return None


def request_parameters(*, without: Collection[str] = ()) -> list[tuple[str, str]]:
    """The request's parameters (query, then form), each value in order, without the fields of our own forms:
    what a page passes on when it sends the browser back with the same request."""
    return [(name, value) for name, values in request.values.lists() if name not in without for value in values]


def _label(name: str) -> str:
    """Echo only a plain name: an OAuth error_description must stay ASCII without quotes (RFC 6749 §5.2)."""
    return f"parameter '{name}'" if SAFE_NAME.fullmatch(name) else "a parameter"
