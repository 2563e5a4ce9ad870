"""A cache for the hot read path: small blobs by digest, and records by key where safe.

- Blob bytes are immutable per digest, so they are cached everywhere: in process (an LRU
  bounded in bytes) by default, or in Redis when ``settings.cache_url`` is set, where every
  getter replica shares them.
- Which version a key's content comes from changes with every new ready version and every
  delete. That answer is cached only when every write reaches this cache: in one process
  whose metadata store reports each change (``sangraha serve``), never in a getter that
  writers in other processes cannot tell. A read that raced a change cannot store what it
  read: each change bumps an epoch, and a record is kept only if no change happened since
  the read began.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.responses import Response

from sangraha_core import (
    CACHE_REVALIDATE,
    Backends,
    Digest,
    ObjectRecord,
    Representation,
    etag_for,
    plan_read,
)
from sangraha_core.metadata import WatchesKeys
from sangraha_core.web import backends_of

__all__ = ["MAX_CACHED_BLOB", "CachedKey", "ReadCache", "read_cache"]

logger = logging.getLogger("sangraha_getter.cache")

#: Blobs up to this size are cached whole; larger ones are always streamed.
MAX_CACHED_BLOB = 256 * 1024
#: The in-process blob cache's budget, in bytes.
DEFAULT_BLOB_BUDGET = 64 * 1024 * 1024
#: Records kept by key in process.
DEFAULT_KEY_ENTRIES = 10_000
#: Seconds a blob stays in Redis after it was last stored there.
REDIS_TTL = 3600


class _MemoryBlobs:
    """Least recently used blobs, at most ``budget`` bytes in all; event loop only."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    async def get(self, digest: Digest) -> bytes | None:
        data = self._items.get(digest)
        if data is not None:
            self._items.move_to_end(digest)
        return data

    async def put(self, digest: Digest, data: bytes) -> None:
        if digest in self._items or len(data) > self._budget:
            return
        self._items[digest] = data
        self._used += len(data)
        while self._used > self._budget:
            _, dropped = self._items.popitem(last=False)
            self._used -= len(dropped)

    async def close(self) -> None:
        self._items.clear()


class _RedisBlobs:
    """Blobs in Redis under ``sangraha:blob:<digest>``; a Redis fault is a miss, not an error."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._client: Any = redis.asyncio.from_url(url)

    async def get(self, digest: Digest) -> bytes | None:
        try:
            data: bytes | None = await self._client.get(f"sangraha:blob:{digest}")
        except Exception as exc:
            logger.warning("cache read failed, reading the blob store: %r", exc)
            return None
        return data

    async def put(self, digest: Digest, data: bytes) -> None:
        try:
            await self._client.set(f"sangraha:blob:{digest}", data, ex=REDIS_TTL)
        except Exception as exc:
            logger.warning("cache write failed: %r", exc)

    async def close(self) -> None:
        await self._client.aclose()


RawHeaders = list[tuple[bytes, bytes]]


def _raw_headers(plan_headers: dict[str, str], status: int) -> RawHeaders:
    # Starlette's own encoding (names lowercased, latin-1), so an answer built from these
    # is byte for byte what the content route's ``Response`` sends.
    return Response(status_code=status, headers=plan_headers).raw_headers


@dataclass(frozen=True, slots=True)
class CachedKey:
    """What a key reads, with the headers of its plain answers worked out once.

    ``ok_headers`` answer a ``GET`` or ``HEAD`` without a range whose ``If-None-Match``,
    if any, does not name ``etag`` (200); ``not_modified_headers`` one whose does (304).
    """

    record: ObjectRecord
    etag: str
    ok_headers: RawHeaders
    not_modified_headers: RawHeaders

    @classmethod
    def of(cls, record: ObjectRecord) -> CachedKey:
        # The same planner as the content route, so the two answers cannot drift apart.
        rep = Representation.of_record(record)
        etag = etag_for(rep.digest)
        ok = plan_read(rep, {}, cache_control=CACHE_REVALIDATE)
        not_modified = plan_read(rep, {"if-none-match": etag}, cache_control=CACHE_REVALIDATE)
        return cls(
            record=record,
            etag=etag,
            ok_headers=_raw_headers(ok.headers, ok.status),
            not_modified_headers=_raw_headers(not_modified.headers, not_modified.status),
        )


class ReadCache:
    """Small blobs by digest; with ``coherent_keys``, the ready record a key reads from.

    :param backends: whose settings choose the blob tier (``cache_url``).
    :param coherent_keys: cache records by key. Only for a process where every write goes
        through ``backends.metadata`` and that store reports changes (a ``WatchesKeys``);
        otherwise ignored.
    """

    def __init__(
        self,
        backends: Backends,
        *,
        coherent_keys: bool = False,
        blob_budget: int = DEFAULT_BLOB_BUDGET,
        key_entries: int = DEFAULT_KEY_ENTRIES,
    ) -> None:
        url = backends.settings.cache_url
        self._blobs: _MemoryBlobs | _RedisBlobs = (
            _RedisBlobs(url) if url else _MemoryBlobs(blob_budget)
        )
        self._lock = threading.Lock()
        self._keys: OrderedDict[tuple[str, str], CachedKey] = OrderedDict()
        self._key_entries = key_entries
        self._epoch = 0
        self.caches_keys = False
        store = backends.metadata
        if coherent_keys and isinstance(store, WatchesKeys):
            self.caches_keys = True
            store.on_key_change(self.forget_key)

    # -- records by key -------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """Read before looking a record up; hand to ``keep_record``."""
        return self._epoch

    def record(self, bucket: str, key: str) -> ObjectRecord | None:
        found = self.cached_key(bucket, key)
        return None if found is None else found.record

    def cached_key(self, bucket: str, key: str) -> CachedKey | None:
        """What ``key`` reads, with its answers' headers, when it is cached."""
        if not self.caches_keys:
            return None
        with self._lock:
            found = self._keys.get((bucket, key))
            if found is not None:
                self._keys.move_to_end((bucket, key))
            return found

    def keep_record(self, record: ObjectRecord, epoch: int) -> CachedKey | None:
        """Keep ``record`` as what its key reads, unless a change came after ``epoch``;
        the entry kept, or ``None``."""
        if not self.caches_keys or epoch != self._epoch:
            return None
        # Outside the lock: writers' invalidations must not wait on header building.
        entry = CachedKey.of(record)
        with self._lock:
            if epoch != self._epoch:
                return None
            self._keys[(record.bucket, record.key)] = entry
            if len(self._keys) > self._key_entries:
                self._keys.popitem(last=False)
        return entry

    def forget_key(self, bucket: str, key: str) -> None:
        """What ``key`` reads has changed (a new ready version, a delete)."""
        with self._lock:
            self._epoch += 1
            self._keys.pop((bucket, key), None)

    # -- blobs by digest ------------------------------------------------------------------
    async def blob(self, digest: Digest) -> bytes | None:
        return await self._blobs.get(digest)

    async def keep_blob(self, digest: Digest, data: bytes) -> None:
        if len(data) <= MAX_CACHED_BLOB:
            await self._blobs.put(digest, data)

    async def close(self) -> None:
        await self._blobs.close()


def read_cache(request: Request) -> ReadCache:
    """The app's cache (``app.state.read_cache``), made on first use when the app has none.

    One made here never caches by key: this app cannot know that it sees every write.
    """
    state = request.app.state
    cache: ReadCache | None = getattr(state, "read_cache", None)
    if cache is None:
        cache = ReadCache(backends_of(request))
        state.read_cache = cache
    return cache
