"""Logs of every Sangraha process: one JSON object per line on stderr, the same shape from
the HTTP services and the worker, so one query reads them all.

Framework-free, so that the worker (which has no web extra) logs as the services do; the
HTTP services set :data:`request_id` for each request they answer.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from typing import Any

__all__ = ["configure_logging", "request_id"]

#: The id of the request being answered, on every line logged while it is; ``-`` elsewhere.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "thread": record.threadName,
            "msg": record.getMessage(),
            "request_id": request_id.get(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every log line to stderr as one JSON object, from ``level`` (a level name) up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pika logs every connection hiccup at length; Sangraha logs what it does about them.
    logging.getLogger("pika").setLevel(logging.WARNING)
