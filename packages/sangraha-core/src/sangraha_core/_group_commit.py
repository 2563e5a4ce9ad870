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
    """

    def __init__(
        self, commit: Callable[[Sequence[_T]], None], *, max_batch: int = MAX_BATCH
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
                error: BaseException | None = None
                try:
                    self._commit([queued.item for queued in batch])
                except BaseException as exc:
                    error = exc
                finally:
                    self._cond.acquire()
                    for queued in batch:
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
    """An upload whose bytes are staged at ``key`` of ``blobs``, and its pending record."""

    blobs: BlobStore
    key: str
    record: ObjectRecord


def commit_staged(metadata: MetadataStore | CreatesMany, batch: Sequence[StagedUpload]) -> None:
    """Make a batch of staged uploads durable: their staging names, then their records.

    The bytes of each were fsynced by its own thread (fsyncs of concurrent threads share
    the filesystem's journal commits); here one fsync per staging directory covers every
    name of the batch (a ``syncfs`` instead was measured at 130-1,000 ms on a shared disk,
    since it flushes every writer of the filesystem), and one transaction writes every
    record: all of them, or none.
    """
    by_store: dict[int, tuple[StagingWrites, list[str]]] = {}
    for staged in batch:
        if isinstance(staged.blobs, StagingWrites):
            by_store.setdefault(id(staged.blobs), (staged.blobs, []))[1].append(staged.key)
    for blobs, keys in by_store.values():
        blobs.sync_dirs(keys)
    if isinstance(metadata, CreatesMany):
        metadata.create_objects([staged.record for staged in batch])
    else:
        # Batches of one only (see Backends.commit_staged): nothing can be half-written.
        for staged in batch:
            metadata.create_object(staged.record)
