"""One S3 request as the operations see it: the bucket and key its path names, its query,
its headers, the principal it proved and the backends it acts on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TypeVar
from urllib.parse import unquote

import anyio.to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from sangraha_core import Backends, InvalidNameError, validate_bucket
from sangraha_core.access import ANYONE, Action, Principal
from sangraha_core.web import BodyReader

from ._chunked import CheckedBody, decoded_body
from ._errors import S3Error

__all__ = ["S3Call", "closing", "split_path", "xml_response"]

T = TypeVar("T")
C = TypeVar("C", bound=Iterable[bytes])

#: Characters XML 1.0 cannot carry, not even as references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_response(document: bytes, *, status: int = 200) -> Response:
    """An S3 answer carrying an XML document."""
    return Response(document, status_code=status, media_type="application/xml")


@contextmanager
def closing(chunks: C) -> Iterator[C]:
    """A blob store's ``get`` stream, closed when the block ends however it ends (a refused
    copy stops reading early), so its file or connection is not left to the collector."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def split_path(raw_path: bytes) -> tuple[str | None, str | None]:
    """The bucket and key a path-style URL names: ``/`` -> (None, None), ``/b`` or ``/b/``
    -> (b, None), ``/b/k/e/y`` -> (b, "k/e/y").

    The key is everything after the bucket's slash, percent-decoded once, slashes and all:
    S3 keys may hold ``//``, ``..`` or a trailing ``/`` and mean them literally.
    """
    path = raw_path.partition(b"?")[0].decode("latin-1")
    if not path.startswith("/"):
        raise S3Error("InvalidRequest", "the request path must start with '/'")
    bucket, slash, key = path[1:].partition("/")
    if not bucket:
        return None, None
    name = unquote(bucket, errors="strict")
    if not slash or not key:
        return name, None
    return name, unquote(key, errors="strict")


@dataclass
class S3Call:
    """An S3 request on its way through one operation."""

    request: Request
    bucket: str | None
    key: str | None
    backends: Backends
    request_id: str

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def principal(self) -> Principal:
        principal: Principal = getattr(self.request.state, "principal", ANYONE)
        return principal

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def whole(self, name: str, default: int) -> int:
        """A query parameter that is a whole number (``max-keys``, ``partNumber``…), or
        ``default`` without it; ``InvalidArgument`` for anything else."""
        raw = self.query.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            raise S3Error("InvalidArgument", f"{name} must be a whole number, not {raw!r}")
        return int(raw)

    def body(self, *, max_size: int | None = None, store_checks: bool = False) -> CheckedBody:
        """The request's payload as :func:`~._chunked.decoded_body` decodes it (framing,
        checksums, chunk signatures); to be iterated in a worker thread (``run``). Headers
        that cannot describe a valid body are refused here, before a byte is read."""
        headers = {name.lower(): value for name, value in self.request.headers.items()}
        streaming = getattr(self.request.state, "streaming", None)
        blocks = BodyReader(self.request.stream()).blocks()
        return decoded_body(
            headers, blocks, streaming, max_size=max_size, store_checks=store_checks
        )

    def echoed(self, name: str, *, url_encoded: bool = False) -> str | None:
        """A query parameter the answer's XML repeats (``prefix``, ``marker``…).

        Unless the answer URL-encodes it (``encoding-type=url``), one holding a character
        XML 1.0 cannot carry is ``InvalidArgument``: echoed, it would make the answer a
        document no XML parser reads.
        """
        value = self.query.get(name)
        if value is not None and not url_encoded and _NOT_XML.search(value):
            raise S3Error(
                "InvalidArgument",
                f"{name} holds a character XML cannot carry; send encoding-type=url",
            )
        return value

    @property
    def bucket_name(self) -> str:
        """The bucket, checked against the bucket naming rules; the operation needs one."""
        if self.bucket is None:
            raise S3Error("InvalidRequest", "this operation needs a bucket in the path")
        try:
            validate_bucket(self.bucket)
        except InvalidNameError as error:
            raise S3Error("InvalidBucketName", str(error), resource=self.bucket) from None
        return self.bucket

    @property
    def key_name(self) -> str:
        if self.key is None:
            raise S3Error("InvalidRequest", "this operation needs an object key in the path")
        return self.key

    def require(self, action: Action, bucket: str | None = None) -> None:
        """403 ``AccessDenied`` unless the key holds ``action`` on the bucket."""
        self.principal.require(action, bucket if bucket is not None else self.bucket_name)

    async def run(self, function: partial[T]) -> T:
        """Run blocking core work (backends block) in a worker thread."""
        return await anyio.to_thread.run_sync(function)
