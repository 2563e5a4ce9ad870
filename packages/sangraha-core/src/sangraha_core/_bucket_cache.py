"""Each process's view of the buckets: read from the metadata store, trusted briefly.

Every upload asks what its bucket accepts; reading the row each time would cost a query per
upload. A process trusts what it read of a bucket (that it exists, and its policy, or that
it does not exist) for ``refresh`` seconds, so a bucket made, changed or deleted anywhere is
seen everywhere within that time, with no broadcast to lose. Changes made through this cache
(``create``, ``set_kinds``, ``delete``) are seen by this process at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ._buckets import Bucket, BucketKinds
from ._exceptions import BucketNotFoundError
from .metadata import Buckets

__all__ = ["BucketCache"]

#: Bucket names a cache remembers at most; the least recently used go first.
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Slot:
    bucket: Bucket | None
    read_at: float


class BucketCache:
    """Buckets by name, each read at most once per ``refresh`` seconds; thread-safe.

    :param store: the metadata store to read, asked for at each read, so that a store
        swapped in later is the one read.
    """

    def __init__(
        self,
        store: Callable[[], Buckets],
        *,
        refresh: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh = refresh
        self._clock = clock
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> Bucket:
        """The bucket, read from the store if what this process holds is stale. Blocks.

        :raises BucketNotFoundError: no such bucket (as last read).
        """
        with self._lock:
            slot = self._slots.get(name)
            if slot is not None and self._clock() - slot.read_at < self._refresh:
                self._slots.move_to_end(name)
                found = slot.bucket
                if found is None:
                    raise BucketNotFoundError(f"no bucket {name!r}")
                return found
        try:
            bucket: Bucket | None = self._store().get_bucket(name)
        except BucketNotFoundError:
            bucket = None
        self._hold(name, bucket)
        if bucket is None:
            raise BucketNotFoundError(f"no bucket {name!r}")
        return bucket

    def ensure(self, name: str, kinds: BucketKinds) -> Bucket:
        """The bucket, made with policy ``kinds`` if it does not exist (a bucket made at the
        same moment by another process is the one answered, whatever its policy)."""
        try:
            return self.get(name)
        except BucketNotFoundError:
            pass
        bucket = self._store().create_bucket(name, kinds, exist_ok=True)
        self._hold(name, bucket)
        return bucket

    def policy(self, name: str, *, create: BucketKinds | None) -> tuple[BucketKinds, bool]:
        """What an upload to ``name`` is checked against, and whether the bucket is still to
        be made (by :meth:`ensure`, once the upload passed its checks, so that a refused
        upload makes no bucket).

        :param create: the policy a missing bucket is to be made with; ``None`` if a
            missing bucket is an error.
        :raises BucketNotFoundError: no such bucket, and ``create`` is ``None``.
        """
        try:
            return self.get(name).kinds, False
        except BucketNotFoundError:
            if create is None:
                raise
            return create, True

    # Changes through the cache: the store's methods, and this process sees the result at
    # once (every other one within ``refresh``).

    def create(self, name: str, kinds: BucketKinds, *, exist_ok: bool = False) -> Bucket:
        """``create_bucket`` of the store; this process then knows the bucket."""
        try:
            bucket = self._store().create_bucket(name, kinds, exist_ok=exist_ok)
        except BaseException:
            self.forget(name)
            raise
        self._hold(name, bucket)
        return bucket

    def set_kinds(self, name: str, kinds: BucketKinds) -> Bucket:
        """``set_bucket_kinds`` of the store; this process then knows the new policy."""
        try:
            bucket = self._store().set_bucket_kinds(name, kinds)
        except BaseException:
            self.forget(name)
            raise
        self._hold(name, bucket)
        return bucket

    def delete(self, name: str) -> None:
        """``delete_bucket`` of the store; this process then knows the bucket is gone."""
        try:
            self._store().delete_bucket(name)
        except BaseException:
            self.forget(name)
            raise
        self._hold(name, None)

    def forget(self, name: str) -> None:
        """Drop what this process holds of a bucket (it changed here; read it afresh)."""
        with self._lock:
            self._slots.pop(name, None)

    def _hold(self, name: str, bucket: Bucket | None) -> None:
        with self._lock:
            self._slots[name] = _Slot(bucket, self._clock())
            self._slots.move_to_end(name)
            while len(self._slots) > MAX_ENTRIES:
                self._slots.popitem(last=False)
