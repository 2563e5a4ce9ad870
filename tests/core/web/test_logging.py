"""Log lines: JSON for programs, plain text for a person at a terminal, as chosen."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest

from sangraha_core import (
    ConfigurationError,
    configure_logging,
    is_secret_parameter,
    redact_target,
)
from sangraha_core.web import request_id


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_root_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SANGRAHA_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _log_one(stream: io.StringIO, **options: str) -> str:
    configure_logging(stream=stream, **options)
    logging.getLogger("sangraha_worker").info("worker started: %d thread(s)", 2)
    return stream.getvalue()


def test_a_pipe_gets_json() -> None:
    entry = json.loads(_log_one(io.StringIO()))
    assert entry["msg"] == "worker started: 2 thread(s)"
    assert entry["level"] == "info"
    assert entry["logger"] == "sangraha_worker"


def test_a_terminal_gets_text() -> None:
    line = _log_one(_Terminal())
    assert line.rstrip("\n").endswith("INFO  sangraha_worker: worker started: 2 thread(s)")
    assert not line.startswith("{")


def test_a_real_terminal_gets_text() -> None:
    leader, follower = os.openpty()
    try:
        with open(follower, "w", closefd=False) as tty:
            configure_logging(stream=tty)
            logging.getLogger("sangraha").warning("plain words")
            tty.flush()
        written = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert "WARNING sangraha: plain words" in written
    assert "{" not in written


def test_the_setting_overrides_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGRAHA_LOG_FORMAT", "json")
    assert json.loads(_log_one(_Terminal()))["msg"] == "worker started: 2 thread(s)"
    monkeypatch.setenv("SANGRAHA_LOG_FORMAT", "TEXT")
    assert "sangraha_worker: worker started" in _log_one(io.StringIO())


def test_the_argument_overrides_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGRAHA_LOG_FORMAT", "text")
    assert json.loads(_log_one(_Terminal(), log_format="json"))["logger"] == "sangraha_worker"


def test_an_unknown_format_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGRAHA_LOG_FORMAT", "yaml")
    with pytest.raises(ConfigurationError, match="SANGRAHA_LOG_FORMAT='yaml'"):
        configure_logging(stream=io.StringIO())


def test_text_lines_carry_the_request_id_thread_and_traceback() -> None:
    stream = _Terminal()
    configure_logging(stream=stream)
    token = request_id.set("req-42")
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("sangraha.access").exception("failed")
    finally:
        request_id.reset(token)
    text = stream.getvalue()
    assert "ERROR sangraha.access: failed [req-42]" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: boom" in text


def test_presigned_signatures_stay_out_of_the_access_log() -> None:
    stream = io.StringIO()
    configure_logging(log_format="json", stream=stream)
    target = (
        "/docs/a.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=SKA%2F20261202"
        "&X-Amz-Signature=abc123def&x-id=GetObject"
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", target, "1.1", 200
    )
    line = stream.getvalue()
    assert "abc123def" not in line and "SKA" not in line
    assert "X-Amz-Signature=REDACTED" in line and "x-id=GetObject" in line
    assert redact_target("/b/k?uploadId=1&partNumber=2") == "/b/k?uploadId=1&partNumber=2"
    assert redact_target("/b/k?AWSAccessKeyId=SK1&Signature=s%2Bg&Expires=9") == (
        "/b/k?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=9"
    )


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("X-Amz-Signature", True),
        ("X-Amz-Credential", True),
        ("X-Amz-Security-Token", True),
        ("AWSAccessKeyId", True),
        ("api_key", True),
        ("max-keys", False),
        ("key-marker", False),
        ("uploadId", False),
        ("response-content-disposition", False),
    ],
)
def test_which_parameters_are_secret(name: str, secret: bool) -> None:
    assert is_secret_parameter(name) is secret
