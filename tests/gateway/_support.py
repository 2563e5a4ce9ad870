"""What the gateway's per-operation tests share: a real embedded deployment: the main app (receiver,
getter and its worker) and the S3 gateway over the same backends, each under uvicorn on a
port of its own in a background thread, as ``sangraha serve`` runs them.

One open deployment serves the whole session (tests keep apart by using buckets of their
own); one with access control on serves the access tests. Clients: boto3 as an S3 tool
uses it (default configuration: flexible checksums on), and httpx for what boto3 cannot
send.
"""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError
from fastapi import FastAPI

from sangraha_core import Backends, BucketKinds
from sangraha_core.access import OPERATOR, Action, Grant, KeyAdmin, MasterKey
from sangraha_core.web import HttpLimits, limited_protocol
from tests._services import free_port

__all__ = [
    "Deployment",
    "Server",
    "code",
    "error_of",
    "new_bucket",
    "status",
]

REGION = "us-east-1"
#: Any credentials do with access control off; boto3 insists on signing with some.
OPEN_KEY = ("open-access-key", "open-secret-key")


class Server:
    """One app under uvicorn in a daemon thread, lifespan and all."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            # The HTTP protocol every service runs with (``sangraha_core.web.serve``).
            http=limited_protocol(HttpLimits()),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        started = threading.Event()
        for _ in range(600):
            if self._server.started:
                started.set()
                break
            if not self._thread.is_alive():
                break
            started.wait(0.05)
        if not started.is_set():
            raise RuntimeError(f"uvicorn did not start on port {self.port}")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Deployment:
    """The two apps of one embedded deployment and the backends they share."""

    backends: Backends
    s3_url: str
    v1_url: str
    master: MasterKey | None = None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.s3_url, timeout=90)

    def s3(self, key_id: str = OPEN_KEY[0], secret: str = OPEN_KEY[1]) -> Any:
        """A boto3 S3 client with boto3's defaults, but for path-style addressing (no DNS
        names for buckets on 127.0.0.1) and no retries (an error must be seen as it is)."""
        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                read_timeout=90,
            ),
        )

    def bucket(self, kinds: BucketKinds = BucketKinds.ANY) -> str:
        """A new bucket of its own for one test (``any``: every kind of bytes is kept)."""
        name = new_bucket()
        self.backends.metadata.create_bucket(name, kinds)
        return name

    def key(self, *grants: str) -> tuple[str, str]:
        """A new access key with ``bucket:action,action`` grants: its id and secret."""
        assert self.master is not None, "this deployment has access control off"
        parsed = [
            Grant(
                buckets=g.split(":")[0],
                actions=frozenset(Action(a) for a in g.split(":")[1].split(",")),
            )
            for g in grants
        ]
        made = KeyAdmin(self.backends.metadata, self.master).create(  # type: ignore[arg-type]
            OPERATOR, grants=parsed
        )
        return made.key.key_id, made.secret


def new_bucket() -> str:
    return f"gw-{uuid.uuid4().hex[:12]}"


def error_of(answer: httpx.Response) -> dict[str, str]:
    """The fields of an S3 ``<Error>`` document, checked to be one."""
    assert answer.headers.get("content-type", "").startswith("application/xml"), answer.text
    root = ET.fromstring(answer.content)
    assert root.tag == "Error", answer.text
    fields = {child.tag: child.text or "" for child in root}
    for name in ("Code", "Message", "RequestId"):
        assert fields.get(name), f"no {name} in {answer.text}"
    assert fields["RequestId"] == answer.headers["x-amz-request-id"]
    return fields


def code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    """The S3 code of the error boto3 raised."""
    value: str = raised.value.response["Error"]["Code"]
    return value


def status(raised: pytest.ExceptionInfo[ClientError]) -> int:
    """The HTTP status of the error boto3 raised."""
    value: int = raised.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return value
