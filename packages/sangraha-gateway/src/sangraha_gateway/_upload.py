"""What PutObject, CopyObject and CompleteMultipartUpload share: the Content-Type a body
is stored as, and the wait until the pipeline has made the new version ready.

S3 clients read straight after they write, so the gateway answers a write only once the
version is ready; content the worker refused is a 400 with its reason. The bytes are
durable from the moment the write path accepted them, so a version still pending at the
deadline is answered 503 with ``Retry-After``: it will still become ready, and a retry
only adds a version with the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import chain

import anyio

from sangraha_core import (
    OPAQUE_DEFAULT_TYPE,
    SNIFF_SIZE,
    FailureKind,
    Ingest,
    ObjectRecord,
    ObjectStatus,
    sniff,
)

from ._call import S3Call
from ._errors import S3Error

__all__ = ["GENERIC_TYPES", "await_ready", "is_generic", "sniffed"]

#: The wait's back-off, as ``Ingest.wait`` polls: the first pause, doubled up to the last.
_FIRST_POLL = 0.01
_MAX_POLL = 0.2

#: Content-Types that say nothing of the bytes: S3's default and the generic binary one.
GENERIC_TYPES = frozenset({"", "binary/octet-stream", "application/octet-stream"})


def is_generic(content_type: str | None) -> bool:
    """Whether ``content_type`` says nothing of the bytes, which then decide it."""
    return (content_type or "").split(";", 1)[0].strip().lower() in GENERIC_TYPES


def sniffed(content_type: str | None, blocks: Iterable[bytes]) -> tuple[str, Iterator[bytes]]:
    """The type to store ``blocks`` as, and the blocks to store (the first one peeked).

    A declared type stands. Without one (or a generic one, which most tools send when they
    know nothing), the first bytes decide as the core's ``sniff`` does (a multipart upload
    without a type is decided the same way at its completion): a PNG, JPEG, GIF, WebP or
    PDF signature, or a JSON text's first character; otherwise the bytes stay
    ``application/octet-stream``, which an ``any`` bucket keeps as an opaque object and a
    ``validated`` one refuses.
    """
    declared = (content_type or "").strip()
    stream = iter(blocks)
    if not is_generic(declared):
        return declared, stream
    peeked: list[bytes] = []
    held = 0
    # A body may arrive in small blocks: gather enough of them for the signatures and a
    # JSON text's leading whitespace.
    for block in stream:
        if block:
            peeked.append(block)
            held += len(block)
            if held >= SNIFF_SIZE:
                break
    head = b"".join(peeked)
    found = sniff(head[:SNIFF_SIZE])
    return found or OPAQUE_DEFAULT_TYPE, chain(peeked, stream)


async def await_ready(call: S3Call, ingest: Ingest, record: ObjectRecord) -> ObjectRecord:
    """``record`` once ready; ``InvalidContent`` with the reason if the worker refused it,
    ``ServiceUnavailable`` if it is still pending at the deadline or its processing gave up
    for reasons of the server's (it is replayed)."""
    timeout = call.backends.settings.s3_ready_timeout
    record = await _wait(call, ingest, record, timeout)
    if record.status is ObjectStatus.READY:
        return record
    if record.status is ObjectStatus.FAILED:
        if record.failure_kind is FailureKind.RETRIABLE:
            raise S3Error(
                "ServiceUnavailable",
                f"the object was stored but its processing could not finish (version "
                f"{record.id}); it is kept and will be retried when processing is replayed",
                resource=record.key,
                retry_after=5,
            )
        raise S3Error(
            "InvalidContent",
            f"the object was refused: {record.error or 'it failed processing'}",
            resource=record.key,
        )
    raise S3Error(
        "ServiceUnavailable",
        f"the object was stored and is still being processed after {timeout:g} s "
        f"(version {record.id}); it will be readable once processed",
        resource=record.key,
        retry_after=5,
    )


async def _wait(call: S3Call, ingest: Ingest, record: ObjectRecord, timeout: float) -> ObjectRecord:
    """``Ingest.wait`` on the event loop: each read takes a worker thread for a moment, the
    sleeps between them none, so waiting writes cannot take every thread from the rest of
    the process (anyio has 40, shared with the v1 API in the embedded server)."""
    metadata = ingest.backends.metadata
    deadline = time.monotonic() + timeout
    delay = _FIRST_POLL
    current = record
    while current.status is ObjectStatus.PENDING:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        await anyio.sleep(min(delay, left))
        delay = min(delay * 2, _MAX_POLL)
        current = await call.run(partial(metadata.get_object, record.id))
    return current
