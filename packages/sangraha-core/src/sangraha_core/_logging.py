"""Logs of every Sangraha process: one JSON object per line on stderr, the same shape from
the HTTP services and the worker, so one query reads them all; plain lines for a person
when stderr is a terminal (``SANGRAHA_LOG_FORMAT`` chooses: ``json``, ``text`` or ``auto``).

Framework-free, so that the worker (which has no web extra) logs as the services do; the
HTTP services set :data:`request_id` for each request they answer.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote

from ._exceptions import ConfigurationError

__all__ = ["LOG_FORMATS", "configure_logging", "is_secret_parameter", "redact_target", "request_id"]

#: Parts of query parameter names whose values are secret or sign a request (a presigned
#: URL's ``X-Amz-Signature``, ``X-Amz-Credential``, SigV2's ``Signature``...).
_SECRET_PARTS = ("signature", "credential", "token", "secret", "password", "auth")
#: Names ending so hold a key (``AWSAccessKeyId``, ``api_key``), unlike S3's ``max-keys``
#: or ``key-marker``, which a log should keep.
_KEY_ENDINGS = ("key", "keyid", "key_id", "key-id")
_REDACTED = "REDACTED"


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter's value must not be printed (it signs or opens a request)."""
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_PARTS) or lowered.endswith(_KEY_ENDINGS)


def redact_target(target: str) -> str:
    """A request target (path and query) fit for a log: secret parameters' values replaced.

    A presigned URL in an access log could be replayed by anyone who reads the log, for as
    long as it is valid (up to a week)."""
    path, mark, query = target.partition("?")
    if not mark or not any(is_secret_parameter(n) for n, _ in parse_qsl(query, True)):
        return target
    pairs = [
        (name, _REDACTED if is_secret_parameter(name) else value)
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return path + "?" + "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in pairs)


class _RedactAccessLog(logging.Filter):
    """uvicorn's access line carries the whole target: keep presigned signatures out of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True


#: The values ``SANGRAHA_LOG_FORMAT`` (and ``configure_logging(log_format=...)``) take.
LOG_FORMATS = ("auto", "json", "text")

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


class _TextFormatter(logging.Formatter):
    """``2026-05-04 10:11:12.345 INFO  sangraha_worker: message [request id]``: for a
    person at a terminal; the thread is named when it is not the main one."""

    def format(self, record: logging.LogRecord) -> str:
        moment = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        line = f"{moment}.{int(record.msecs):03d} {record.levelname:<5} {record.name}"
        if record.threadName and record.threadName != "MainThread":
            line += f" ({record.threadName})"
        line += f": {record.getMessage()}"
        rid = request_id.get()
        if rid != "-":
            line += f" [{rid}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _chosen_format(log_format: str | None, stream: TextIO) -> str:
    chosen = (log_format or os.environ.get("SANGRAHA_LOG_FORMAT") or "auto").strip().lower()
    if chosen not in LOG_FORMATS:
        raise ConfigurationError(
            f"SANGRAHA_LOG_FORMAT={chosen!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    if chosen == "auto":
        isatty = getattr(stream, "isatty", None)
        # A terminal is a person reading; anything else (a file, a pipe, a collector) is
        # read by a program, which wants one JSON object a line.
        return "text" if isatty is not None and isatty() else "json"
    return chosen


def configure_logging(
    level: str = "INFO", *, log_format: str | None = None, stream: TextIO | None = None
) -> None:
    """Send every log line to ``stream`` (stderr), from ``level`` (a level name) up.

    :param log_format: ``json`` (one object a line), ``text`` (lines for a person) or ``auto``:
        text when the stream is a terminal, else JSON. Defaults to ``SANGRAHA_LOG_FORMAT``,
        else ``auto``; any other value raises ``ConfigurationError``.
    """
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    text = _chosen_format(log_format, out) == "text"
    handler.setFormatter(_TextFormatter() if text else _JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pika logs every connection hiccup at length; Sangraha logs what it does about them.
    logging.getLogger("pika").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactAccessLog) for f in access.filters):
        access.addFilter(_RedactAccessLog())
