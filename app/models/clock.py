"""Times are stored as integer Unix seconds: identical on SQLite and PostgreSQL, no timezone traps."""

import time


def now() -> int:
    return int(time.time())
