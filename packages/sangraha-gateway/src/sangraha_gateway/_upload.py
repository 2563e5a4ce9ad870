"""What PutObject, CopyObject and CompleteMultipartUpload share: the Content-Type a body
is stored as, and the wait until the pipeline has made the new version ready.

S3 clients read straight after they write, so the gateway answers a write only once the
version is ready; content the worker refused is a 400 with its reason. The bytes are
durable from the moment the write path accepted them, so a version still pending at the
deadline is answered 503 with ``Retry-After``: it will still become ready, and a retry
only adds a version with the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from itertools import chain

from sangraha_core import Ingest, ObjectRecord, ObjectStatus, detect

from ._call import S3Call
from ._errors import S3Error

__all__ = ["GENERIC_TYPES", "await_ready", "sniffed"]

#: Content-Types that say nothing of the bytes: S3's default and the generic binary one.
GENERIC_TYPES = frozenset({"", "binary/octet-stream", "application/octet-stream"})

_FALLBACK = "application/octet-stream"


def sniffed(content_type: str | None, blocks: Iterable[bytes]) -> tuple[str, Iterator[bytes]]:
    """The type to store ``blocks`` as, and the blocks to store (the first one peeked).

    A declared type stands. Without one (or a generic one, which most tools send when they
    know nothing), the first bytes decide: a PNG, JPEG, GIF, WebP or PDF signature, or a
    JSON text's first character; otherwise the bytes stay ``application/octet-stream``,
    which an ``any`` bucket keeps as an opaque object and a ``validated`` one refuses.
    """
    declared = (content_type or "").strip()
    stream = iter(blocks)
    if declared.split(";", 1)[0].strip().lower() not in GENERIC_TYPES:
        return declared, stream
    first = b""
    for block in stream:
        if block:
            first = block
            break
    found = detect(first[:16])
    if found is None and first.lstrip()[:1] in (b"{", b"["):
        found = "application/json"
    return found or _FALLBACK, chain([first], stream)


async def await_ready(call: S3Call, ingest: Ingest, record: ObjectRecord) -> ObjectRecord:
    """``record`` once ready; ``InvalidContent`` with the reason if the worker refused it,
    ``ServiceUnavailable`` if it is still pending at the deadline."""
    timeout = call.backends.settings.s3_ready_timeout
    record = await call.run(partial(ingest.wait, record, timeout))
    if record.status is ObjectStatus.READY:
        return record
    if record.status is ObjectStatus.FAILED:
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
