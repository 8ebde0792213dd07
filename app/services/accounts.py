"""Compatibility only: the account lifecycle is app/services/users.py. Import from there; this module goes once
no caller (the CLI) still names it."""

from __future__ import annotations

from app.services.users import (
    delete_user,
    disable_user,
    enable_user,
    find_owner,
    find_person,
    get_person,
    set_password,
    update_user,
    user_page,
)

__all__ = ["delete_user", "disable_user", "enable_user", "find_owner", "find_person", "get_person",
           "set_password", "update_user", "user_page"]
