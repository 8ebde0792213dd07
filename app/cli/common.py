"""Shared pieces of the `ostiary` commands: --json output and clean failures."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from app.errors import AppError
from app.services.pagination import MAX_LIMIT

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
# Who acts, in the audit trail, when an operator runs a command.
CLI_ACTOR = "cli"


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


def all_pages(fetch: Callable[[int, str | None], Any]) -> list[Any]:
    """Every item of a paginated service listing (fetch(limit, cursor) -> Page)."""
    items: list[Any] = []
    cursor = None
    while True:
        page = fetch(MAX_LIMIT, cursor)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor
