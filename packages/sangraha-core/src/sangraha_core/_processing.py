"""The processing path: turn one staged upload into a ready, content-addressed object.

``process_object`` is step 4 of an upload's life, with no framework around it;
``process_objects`` does it for several deliveries at once: their records looked up in one
read, their small objects validated together (one round trip to a validator process) and
their records made ready in one transaction. The worker settles each delivery from what
came of it.

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
4. In one metadata transaction (one for every object of a ``process_objects`` call), take
   a reference on the blob and mark the record ready.
   Should a concurrent garbage collection have deleted the bytes just before the reference
   existed, the store says ``blob_created`` and the bytes are copied again.
5. Drop the staging copy (a batch's in one request where the store can): ``DONE``.

Every step is safe to repeat, so a message delivered twice does no harm. Invalid content is
a final answer (``FAILED``, never retried). Anything else that goes wrong (an unreachable
backend above all, ``BackendUnavailableError``) propagates: the caller retries a bounded
number of times, then dead-letters.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO, Final

from ._backends import Backends
from ._digest import Digest, Hasher, blob_key
from ._exceptions import (
    BlobNotFoundError,
    InvalidContentError,
    UnsupportedContentTypeError,
)
from ._ingest import staging_key
from ._messages import ProcessObject
from ._models import FailureKind, ObjectKind, ObjectRecord, ObjectStatus
from .metadata import FinalizeResult, ReadyObject
from .storage import BlobStore, DeletesMany, StagingWrites
from .storage._reader import BlobReader, closing_chunks

__all__ = [
    "SMALL_OBJECT_SIZE",
    "Inspect",
    "InspectMany",
    "Outcome",
    "process_object",
    "process_objects",
]

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
    result = process_objects(backends, [message], inspect=inspect)[0]
    if isinstance(result, Exception):
        raise result
    return result


def process_objects(
    backends: Backends,
    messages: Sequence[ProcessObject],
    *,
    inspect: Inspect | None = None,
    inspect_many: InspectMany | None = None,
) -> list[Outcome | Exception]:
    """``process_object`` of each of ``messages``, their records made ready in one metadata
    transaction: an ``Outcome`` for each, in order, or what stopped it.

    Each object is validated and filed on its own, so one that fails (or raises) leaves
    the others alone; only should the common transaction raise does every object that
    reached it end with that error, and each can simply be processed again.

    :param inspect_many: validates the small objects of the batch in one call (an
        ``InspectorPool``'s, one round trip to a validator process); ``inspect`` for each
        of them when left out.
    """
    if inspect is None:
        # Imported here: the validators need the ``kinds`` extra, which only processing does.
        from .kinds import inspect as inspect_in_process

        inspect = inspect_in_process
    try:
        records = backends.metadata.get_objects([message.object_id for message in messages])
    except Exception as exc:
        return [exc for _ in messages]
    results: list[Outcome | Exception | _Filed | _Held] = []
    for message in messages:
        try:
            results.append(
                _examine(backends, message.object_id, records.get(message.object_id), inspect)
            )
        except Exception as exc:
            results.append(exc)
    held = [(n, item) for n, item in enumerate(results) if isinstance(item, _Held)]
    if held:
        _inspect_held(backends, held, results, inspect_many or _one_by_one(inspect))
    filed = [(n, item) for n, item in enumerate(results) if isinstance(item, _Filed)]
    done = [_so_far(item) for item in results]
    if not filed:
        return done
    try:
        finalized = backends.metadata.finalize_ready_many([item.ready for _, item in filed])
    except Exception as exc:
        for n, _ in filed:
            done[n] = exc
        return done
    finished: list[str] = []
    for (n, item), result in zip(filed, finalized, strict=True):
        try:
            done[n] = _finished(backends, item, result)
        except Exception as exc:
            done[n] = exc  # its staging copy is kept: a retry may need it
        else:
            finished.append(item.staged)
    _discard_all(backends.blobs, finished)
    return done


#: What validates several small objects at once (``InspectorPool.inspect_many``): for each
#: ``(content_type, data)`` what ``Inspect`` returns, or the refusal it raises.
InspectMany = Callable[
    [Sequence[tuple[str, bytes]]],
    Sequence[dict[str, Any] | InvalidContentError | UnsupportedContentTypeError],
]


def _one_by_one(inspect: Inspect) -> InspectMany:
    def inspect_each(
        jobs: Sequence[tuple[str, bytes]],
    ) -> list[dict[str, Any] | InvalidContentError | UnsupportedContentTypeError]:
        answers: list[dict[str, Any] | InvalidContentError | UnsupportedContentTypeError] = []
        for content_type, data in jobs:
            try:
                with io.BytesIO(data) as file:
                    answers.append(inspect(content_type, file))
            except (InvalidContentError, UnsupportedContentTypeError) as exc:
                answers.append(exc)
        return answers

    return inspect_each


@dataclass(frozen=True, slots=True)
class _Filed:
    """An object whose verified bytes are at their content address: only its record is
    left to make ready."""

    ready: ReadyObject
    staged: str
    cas: str


@dataclass(frozen=True, slots=True)
class _Held:
    """A small object read and checked, held in memory until its batch is validated."""

    record: ObjectRecord
    staged: str
    digest: Digest
    data: bytes


def _examine(
    backends: Backends, object_id: str, record: ObjectRecord | None, inspect: Inspect
) -> Outcome | _Filed | _Held:
    """Steps 1 to 3 of a large or opaque object; of a small one, steps 1 and 2 up to its
    validation: the final outcome if there is one already, else where the object is.
    ``record`` is the object's as the batch's lookup found it (``None``: no such version)."""
    blobs = backends.blobs
    staged = staging_key(object_id)

    if record is None:
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
        if record.kind is ObjectKind.OPAQUE:
            digest, size, extracted = _verify_opaque(blobs, staged, record)
        elif record.size > SMALL_OBJECT_SIZE:
            digest, size, extracted = _verify_and_inspect_large(blobs, staged, record, inspect)
        else:
            digest, data = _read_small(blobs, staged, record)
            return _Held(record, staged, digest, data)
    except BlobNotFoundError:
        # Staging is deleted only after the record left ``pending``, so bytes missing now
        # were lost outside Sangraha's control: no retry can bring them back.
        return _fail(backends, record, "the staged bytes are missing")
    except _Rejected as exc:
        return _fail(backends, record, exc.reason)
    return _file(blobs, record, staged, digest, size, extracted)


def _inspect_held(
    backends: Backends,
    held: Sequence[tuple[int, _Held]],
    results: list[Outcome | Exception | _Filed | _Held],
    inspect_many: InspectMany,
) -> None:
    """The rest of steps 2 and 3 for the small objects of a batch, validated together;
    what came of each goes in its place in ``results``."""
    try:
        answers = inspect_many([(item.record.content_type, item.data) for _, item in held])
    except Exception as exc:
        # Errors of the validators themselves (none could start) are transient.
        for n, _ in held:
            results[n] = exc
        return
    for (n, item), answer in zip(held, answers, strict=True):
        try:
            if isinstance(answer, InvalidContentError):
                results[n] = _fail(backends, item.record, answer.reason)
            elif isinstance(answer, UnsupportedContentTypeError):
                results[n] = _fail(backends, item.record, str(answer))
            else:
                results[n] = _file(
                    backends.blobs, item.record, item.staged, item.digest, len(item.data), answer
                )
        except Exception as exc:
            results[n] = exc


def _so_far(item: Outcome | Exception | _Filed | _Held) -> Outcome | Exception:
    """What came of an object before its record is made ready (``DONE`` until then)."""
    assert not isinstance(item, _Held)  # every held object was validated
    return Outcome.DONE if isinstance(item, _Filed) else item


def _file(
    blobs: BlobStore,
    record: ObjectRecord,
    staged: str,
    digest: Digest,
    size: int,
    extracted: dict[str, Any],
) -> _Filed:
    """Step 3: the bytes at their content address, unless they are there already."""
    cas = blob_key(digest)
    if not blobs.exists(cas):
        blobs.copy(staged, cas)
    return _Filed(ReadyObject(record.id, digest, size, extracted), staged, cas)


def _finished(backends: Backends, item: _Filed, result: FinalizeResult) -> Outcome:
    """Step 4, its result (step 5, for the whole batch, is ``_discard_all``)."""
    blobs = backends.blobs
    if result.record is None:
        # Deleted between our read and our transaction: no reference was taken. Bytes we
        # may have copied are left for an upload of the same content; see docs/worker.md.
        logger.info("object %s was deleted while being processed", item.ready.object_id)
    elif result.blob_created and not blobs.exists(item.cas):
        # A garbage collection deleted the unreferenced bytes after our copy and before our
        # reference existed (MetadataStore.collect_garbage): the reference now protects
        # them, so writing them once more is final.
        logger.info("blob %s was collected under us; copying it again", item.ready.digest)
        blobs.copy(item.staged, item.cas)
    return Outcome.DONE if result.record is not None else Outcome.SKIPPED


class _Rejected(Exception):
    """The staged bytes cannot become a ready object; ``reason`` goes on the record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_small(blobs: BlobStore, staged: str, record: ObjectRecord) -> tuple[Digest, bytes]:
    """A small object's staged bytes, read into memory once and checked."""
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
    return digest, bytes(small)


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


def _discard_all(blobs: BlobStore, keys: Sequence[str]) -> None:
    """``_discard`` of each of ``keys``, in one request where the store can."""
    if len(keys) > 1 and isinstance(blobs, DeletesMany) and not isinstance(blobs, StagingWrites):
        try:
            blobs.delete_many(keys)
        except Exception as exc:
            logger.warning(
                "could not delete %d staging copies (the collector will): %r", len(keys), exc
            )
        return
    for key in keys:
        _discard(blobs, key)


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
