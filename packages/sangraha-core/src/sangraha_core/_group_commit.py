"""Group commit: many threads' items made durable by one call, each thread released only
once its own item is.

No timer: a thread that finds no commit in progress commits at once, so a lone caller
waits for nothing; under load the batches grow by themselves to what arrives during one
commit.

Uploads are what is committed this way: :func:`commit_staged` makes a batch of staged
uploads durable, and each :class:`~sangraha_core.Backends` owns the one committer every
``Ingest`` made on it shares.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._buckets import BucketKinds
from ._exceptions import BucketNotFoundError
from ._models import ObjectRecord
from .metadata import CreatesMany, MetadataStore
from .storage import BlobStore, StagingWrites

__all__ = ["GroupCommit", "StagedUpload", "commit_staged"]

_T = TypeVar("_T")

#: Most items one commit takes.
MAX_BATCH = 256


class _Entry(Generic[_T]):
    __slots__ = ("done", "error", "item")

    def __init__(self, item: _T) -> None:
        self.item = item
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[_T]):
    """Commit the items of many threads together, each ``run`` returning once its own item
    is committed (or raising what the commit of its batch raised).

    No timer: a thread that finds no commit in progress commits at once, so a lone request
    waits for nothing. Items arriving while a commit runs queue up, and when it ends the
    first of them commits every queued item (up to ``max_batch``) in one call. Under load
    the batches therefore grow by themselves to what arrives during one commit.

    ``commit`` raises to fail the whole batch, or returns one error (or ``None``) per
    item, in order, to fail some items only.
    """

    def __init__(
        self,
        commit: Callable[[Sequence[_T]], Sequence[BaseException | None] | None],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Entry[_T]] = []
        self._busy = False

    def run(self, item: _T) -> None:
        entry = _Entry(item)
        with self._cond:
            self._queue.append(entry)
            while True:
                while self._busy and not entry.done:
                    self._cond.wait()
                if entry.done:
                    break
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                self._busy = True
                self._cond.release()
                errors: Sequence[BaseException | None] = [None] * len(batch)
                try:
                    each = self._commit([queued.item for queued in batch])
                    if each is not None:
                        errors = each
                except BaseException as exc:
                    errors = [exc] * len(batch)
                finally:
                    self._cond.acquire()
                    for queued, error in zip(batch, errors, strict=True):
                        queued.done = True
                        queued.error = error
                    self._busy = False
                    self._cond.notify_all()
        if entry.error is not None:
            raise _own_copy(entry.error) from entry.error.__cause__


def _own_copy(error: BaseException) -> BaseException:
    """A copy of a batch's error for one of its threads: raising one object in many threads
    at once would tangle their tracebacks."""
    try:
        twin = copy.copy(error)
    except Exception:
        return error
    return twin.with_traceback(None)


# -- what is committed: staged uploads ---------------------------------------------------


@dataclass(frozen=True)
class StagedUpload:
    """An upload whose bytes are staged at ``key`` of ``blobs``, and its pending record.

    ``make_bucket`` is the policy the record's bucket is made with should it be missing
    when the record is written (the v1 API makes buckets implicitly); ``None`` (the S3
    API) fails the upload with ``BucketNotFoundError`` instead.
    """

    blobs: BlobStore
    key: str
    record: ObjectRecord
    make_bucket: BucketKinds | None = None


def commit_staged(
    metadata: MetadataStore, batch: Sequence[StagedUpload]
) -> list[BaseException | None]:
    """Make a batch of staged uploads durable: their staging names, then their records;
    what failed each upload (``None``: committed), in order.

    The bytes of each were fsynced by its own thread (fsyncs of concurrent threads share
    the filesystem's journal commits); here one fsync per staging directory covers every
    name of the batch (a ``syncfs`` instead was measured at 130-1,000 ms on a shared disk,
    since it flushes every writer of the filesystem), and one transaction writes every
    record, each only if its bucket exists then (see ``CreatesMany.create_objects``).
    Should one upload's bucket be gone, that transaction writes nothing and each upload
    is committed alone, so only the uploads to a missing bucket fail. Any other error
    fails the whole batch (raised).
    """
    by_store: dict[int, tuple[StagingWrites, list[str]]] = {}
    for staged in batch:
        if isinstance(staged.blobs, StagingWrites):
            by_store.setdefault(id(staged.blobs), (staged.blobs, []))[1].append(staged.key)
    for blobs, keys in by_store.values():
        blobs.sync_dirs(keys)
    if isinstance(metadata, CreatesMany) and len(batch) > 1:
        try:
            metadata.create_objects([staged.record for staged in batch], buckets=_buckets(batch))
        except BucketNotFoundError:
            pass  # rare: sort the uploads out one by one below
        else:
            return [None] * len(batch)
    errors: list[BaseException | None] = []
    for staged in batch:
        try:
            metadata.create_object(staged.record, buckets=_buckets([staged]))
        except BucketNotFoundError as exc:
            errors.append(exc)
        else:
            errors.append(None)
    return errors


def _buckets(batch: Sequence[StagedUpload]) -> dict[str, BucketKinds | None]:
    """Each bucket of ``batch``, with the policy to make it with if any upload may make it."""
    wanted: dict[str, BucketKinds | None] = {}
    for staged in batch:
        bucket = staged.record.bucket
        if wanted.get(bucket) is None:
            wanted[bucket] = staged.make_bucket
    return wanted
