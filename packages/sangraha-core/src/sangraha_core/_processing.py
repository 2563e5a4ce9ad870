"""The processing path: turn one staged upload into a ready, content-addressed object.

``process_object`` is step 4 of an upload's life, with no framework around it: the worker
calls it once per delivery and settles the delivery from what it returns or raises.

1. Look the record up. Deleted while pending, or no longer pending (a redelivery after a
   crash between the last side effect and the ack): drop the staging copy, ``SKIPPED``.
2. Validate the kind and extract its metadata (``kinds.inspect``, which the services run
   in a validator process: bytes that crash it fail here too), hashing the staged bytes
   as the validator reads them: a small object is read into memory once, a large one is
   hashed while the validator reads it front to back, and only the bytes it skipped (a PDF
   is parsed from its end) are fetched once more, for the hash alone. Digest and size must
   equal the record's (the receiver hashed them as they arrived), else the staging copy is
   corrupt: ``FAILED``, whatever the validator said. Invalid: ``FAILED``. An opaque
   object is neither validated nor described: its bytes are only hashed and checked.
3. Copy the bytes to their content address unless they are there already (deduplication);
   the copy happens inside the store, never through this process.
4. In one metadata transaction, take a reference on the blob and mark the record ready.
   Should a concurrent garbage collection have deleted the bytes just before the reference
   existed, the store says ``blob_created`` and the bytes are copied again.
5. Drop the staging copy: ``DONE``.

Every step is safe to repeat, so a message delivered twice does no harm. Invalid content is
a final answer (``FAILED``, never retried). Anything else that goes wrong (an unreachable
backend above all, ``BackendUnavailableError``) propagates: the caller retries a bounded
number of times, then dead-letters.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any, BinaryIO, Final

from ._backends import Backends
from ._digest import Digest, Hasher, blob_key
from ._exceptions import (
    BlobNotFoundError,
    InvalidContentError,
    ObjectNotFoundError,
    UnsupportedContentTypeError,
)
from ._ingest import staging_key
from ._messages import ProcessObject
from ._models import FailureKind, ObjectKind, ObjectRecord, ObjectStatus
from .storage import BlobStore, StagingWrites
from .storage._reader import BlobReader, closing_chunks

__all__ = ["SMALL_OBJECT_SIZE", "Inspect", "Outcome", "process_object"]

logger = logging.getLogger("sangraha_core.processing")

#: Objects up to this size are read into memory once, and hashed and inspected from there:
#: one round trip to the store instead of two (or many ranged ones).
SMALL_OBJECT_SIZE: Final = 1024 * 1024


class Outcome(StrEnum):
    """How one processing run ended; each of them means the delivery can be acknowledged."""

    DONE = "done"
    """The record is ready and its bytes are at their content address."""
    FAILED = "failed"
    """The content is invalid (or its staged copy corrupt); the record says why."""
    SKIPPED = "skipped"
    """Nothing to do: the record was deleted, or processed already."""


#: What validates the bytes: ``kinds.inspect``, or the ``inspect`` of an ``InspectorPool``
#: (the services' choice), which runs it in a validator process.
Inspect = Callable[[str, BinaryIO], dict[str, Any]]


def process_object(
    backends: Backends, message: ProcessObject, *, inspect: Inspect | None = None
) -> Outcome:
    """Validate, extract, deduplicate and finalise the object ``message`` names.

    Idempotent: calling it again for the same message, at any point after any crash,
    converges on the same state and never takes a second blob reference.

    :param inspect: what validates the bytes; ``kinds.inspect`` in this process when left
        out (it needs the ``kinds`` extra).
    :raises BackendUnavailableError: a backend could not be reached; try again later.
    """
    if inspect is None:
        # Imported here: the validators need the ``kinds`` extra, which only processing does.
        from .kinds import inspect as inspect_in_process

        inspect = inspect_in_process
    blobs, metadata = backends.blobs, backends.metadata
    object_id = message.object_id
    staged = staging_key(object_id)

    try:
        record = metadata.get_object(object_id)
    except ObjectNotFoundError:
        logger.info("object %s was deleted while pending; dropping its staged bytes", object_id)
        _discard(blobs, staged)
        return Outcome.SKIPPED
    if record.status is not ObjectStatus.PENDING:
        # A redelivery: the work was done (or refused) before the first delivery was acked.
        # A retriable failure keeps its bytes for a replay.
        if record.failure_kind is not FailureKind.RETRIABLE:
            _discard(blobs, staged)
        return Outcome.SKIPPED

    try:
        digest, size, extracted = _verify_and_inspect(blobs, staged, record, inspect)
    except BlobNotFoundError:
        # Staging is deleted only after the record left ``pending``, so bytes missing now
        # were lost outside Sangraha's control: no retry can bring them back.
        return _fail(backends, record, "the staged bytes are missing")
    except _Rejected as exc:
        return _fail(backends, record, exc.reason)

    cas = blob_key(digest)
    if not blobs.exists(cas):
        blobs.copy(staged, cas)
    result = metadata.finalize_ready(object_id, digest=digest, size=size, extracted=extracted)
    if result.record is None:
        # Deleted between our read and our transaction: no reference was taken. Bytes we
        # may have copied are left for an upload of the same content; see docs/worker.md.
        logger.info("object %s was deleted while being processed", object_id)
    elif result.blob_created and not blobs.exists(cas):
        # A garbage collection deleted the unreferenced bytes after our copy and before our
        # reference existed (MetadataStore.collect_garbage): the reference now protects
        # them, so writing them once more is final.
        logger.info("blob %s was collected under us; copying it again", digest)
        blobs.copy(staged, cas)
    _discard(blobs, staged)
    return Outcome.DONE if result.record is not None else Outcome.SKIPPED


class _Rejected(Exception):
    """The staged bytes cannot become a ready object; ``reason`` goes on the record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _verify_and_inspect(
    blobs: BlobStore, staged: str, record: ObjectRecord, inspect: Inspect
) -> tuple[Digest, int, dict[str, Any]]:
    if record.kind is ObjectKind.OPAQUE:
        return _verify_opaque(blobs, staged, record)
    if record.size > SMALL_OBJECT_SIZE:
        return _verify_and_inspect_large(blobs, staged, record, inspect)
    hasher = Hasher()
    small: bytearray | None = bytearray()
    for chunk in closing_chunks(blobs.get(staged)):
        hasher.update(chunk)
        if small is not None:
            if len(small) + len(chunk) > SMALL_OBJECT_SIZE:
                small = None  # larger than recorded: the check below refuses it anyway
            else:
                small += chunk
    digest = _checked(record, hasher)
    assert small is not None  # bytes beyond the record's size fail the check above
    with io.BytesIO(bytes(small)) as file:
        extracted = _inspect(record, file, inspect)
    return digest, hasher.size, extracted


def _verify_opaque(
    blobs: BlobStore, staged: str, record: ObjectRecord
) -> tuple[Digest, int, dict[str, Any]]:
    """An opaque object is not validated and says nothing of itself: its bytes are only
    hashed, in one pass, so corrupt staging is still refused."""
    hasher = Hasher()
    for chunk in closing_chunks(blobs.get(staged)):
        hasher.update(chunk)
    return _checked(record, hasher), hasher.size, {}


def _verify_and_inspect_large(
    blobs: BlobStore, staged: str, record: ObjectRecord, inspect: Inspect
) -> tuple[Digest, int, dict[str, Any]]:
    """One read of the staged bytes where the validator reads them in order."""
    hasher = Hasher()
    reader = BlobReader(blobs, staged, size=record.size, observe=hasher.update)
    rejected: _Rejected | None = None
    # Buffered: parsers make many small reads, each of which would otherwise be a call
    # into the store.
    with io.BufferedReader(reader) as file:
        try:
            extracted = _inspect(record, file, inspect)
        except _Rejected as exc:
            # Corrupt staging takes precedence: finish the hash before giving this reason.
            rejected = exc
    # What the validator skipped, up to the blob's real end, so extra bytes show too.
    for chunk in closing_chunks(blobs.get(staged, start=reader.observed)):
        hasher.update(chunk)
    digest = _checked(record, hasher)
    if rejected is not None:
        raise rejected
    return digest, hasher.size, extracted


def _checked(record: ObjectRecord, hasher: Hasher) -> Digest:
    """The staged bytes' digest, refused unless it and their size are the record's."""
    digest = hasher.digest()
    if digest != record.digest or hasher.size != record.size:
        raise _Rejected(
            f"the staged bytes are corrupt: expected {record.digest} ({record.size} bytes), "
            f"found {digest} ({hasher.size} bytes)"
        )
    return digest


def _inspect(record: ObjectRecord, file: BinaryIO, inspect: Inspect) -> dict[str, Any]:
    try:
        # Errors of the file itself (a store outage) propagate unchanged: transient.
        return inspect(record.content_type, file)
    except InvalidContentError as exc:
        raise _Rejected(exc.reason) from exc
    except UnsupportedContentTypeError as exc:
        raise _Rejected(str(exc)) from exc


def _fail(backends: Backends, record: ObjectRecord, reason: str) -> Outcome:
    updated = backends.metadata.mark_failed(record.id, reason)
    _discard(backends.blobs, staging_key(record.id))
    if updated is None or updated.status is not ObjectStatus.FAILED:
        # Deleted meanwhile, or made ready by a concurrent delivery of the same job.
        return Outcome.SKIPPED
    logger.info("object %s failed: %s", record.id, reason)
    return Outcome.FAILED


def _discard(blobs: BlobStore, key: str) -> None:
    """Delete a staging copy, best effort: an orphan is swept later by the collector."""
    try:
        if isinstance(blobs, StagingWrites):
            # No directory fsync: a staging copy a crash brings back is such an orphan.
            blobs.discard(key)
        else:
            blobs.delete(key)
    except Exception as exc:
        logger.warning("could not delete %s (the collector will): %r", key, exc)
