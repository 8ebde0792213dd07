"""Structured JSON logs, one object per line, with the request id when there is one."""

from __future__ import annotations

import json
import logging
import time
from functools import lru_cache
from typing import Any

from flask import g, has_request_context

# Attributes every LogRecord has; anything else passed via `extra=` is emitted as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# json.dumps(entry, default=str, ensure_ascii=False), without building the encoder again for every line.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
_ABSENT = object()


@lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    """The line's time to the second: the same for every line of that second, so formatted once."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": f"{_utc_second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context():
            request_id = g.get("request_id", _ABSENT)
            if request_id is not _ABSENT:
                entry["request_id"] = request_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JSONFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JSONFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Our access log replaces werkzeug's and gunicorn's plain-text lines.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
