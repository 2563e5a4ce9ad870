"""Group commit: many threads' items made durable by one call, each thread released only
once its own item is.

No timer: a thread that finds no commit in progress commits at once, so a lone caller
waits for nothing; under load the batches grow by themselves to what arrives during one
commit.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

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
