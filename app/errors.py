"""App errors (admin API, CLI) render as {"error", "error_description"}, like OAuth errors."""

from __future__ import annotations


class AppError(Exception):
    error = "server_error"
    status_code = 500

    def __init__(self, description: str, field: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.error, "error_description": self.description}
        if self.field:
            body["field"] = self.field
        return body


class ValidationError(AppError):
    error = "invalid_request"
    status_code = 400


class NotFoundError(AppError):
    error = "not_found"
    status_code = 404


class ConflictError(AppError):
    error = "conflict"
    status_code = 409


class WrongPasswordError(ValidationError):
    """A signed-in person re-entered a password that is not theirs: counted and audited like a failed sign-in."""


class InvalidLinkError(ValidationError):
    """A mailed link (or its code) that is unknown, expired, used, superseded or meant for another account: one
    answer for all of them (app/services/one_time_tokens.py)."""

    def __init__(self) -> None:
        super().__init__("invalid or expired link", field="token")
