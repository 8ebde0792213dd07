"""Shared pieces of the `ostiary` commands: --json output and clean failures."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from app.errors import AppError

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def emit(as_json: bool, payload: Any, text: str) -> None:
    click.echo(json.dumps(payload, indent=2) if as_json else text)


def app_errors(func: Callable) -> Callable:
    """Bad input is a clear message and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AppError as exc:
            raise click.ClickException(exc.description) from None

    return wrapper
