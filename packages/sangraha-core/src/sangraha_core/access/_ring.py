"""Each service's view of the access keys: read from the metadata store, trusted briefly.

Every process reads a key again once what it holds is ``refresh`` seconds old, so a key
created, rotated or revoked anywhere is seen everywhere within that time, in both
topologies, with no broadcast to lose. Unknown ids are remembered as briefly, so a flood of
made-up ids costs one query per id per ``refresh``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from .._exceptions import AccessKeyNotFoundError, MasterKeyError, UnauthenticatedError
from .._models import utcnow
from ._grants import Principal
from ._keys import AccessKey
from ._seal import MasterKey
from ._store import AccessKeys

__all__ = ["KeyEntry", "KeyRing"]

logger = logging.getLogger("sangraha.access")

#: Ids a ring remembers at most; the least recently used go first.
MAX_ENTRIES = 10_000
#: A key's ``last_used_at`` is written at most this often per process.
LAST_USED_GRANULARITY = timedelta(seconds=60)


@dataclass
class KeyEntry:
    """A key and its opened secret, as one process last read them."""

    key: AccessKey
    secret: str
    #: Set once a request proved it holds the secret; the next read records the use.
    used: bool = field(default=False)
    _principal: Principal | None = field(default=None, repr=False, compare=False)

    def principal(self) -> Principal:
        """The key's principal (not presigned), made once per read of the key: an entry
        is replaced, never changed, when the key is read again."""
        principal = self._principal
        if principal is None:
            principal = self._principal = self.key.principal()
        return principal


@dataclass
class _Slot:
    entry: KeyEntry | None
    read_at: float


class KeyRing:
    """Keys by id, each read at most once per ``refresh`` seconds."""

    def __init__(
        self,
        store: AccessKeys,
        master: MasterKey,
        *,
        refresh: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._master = master
        self._refresh = refresh
        self._clock = clock
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key_id: str) -> KeyEntry | bool | None:
        """What the ring holds for ``key_id`` without a query: the entry, ``None`` for an id
        known not to exist, or ``False`` when it must be read (``lookup``)."""
        with self._lock:
            slot = self._slots.get(key_id)
            if slot is None or self._clock() - slot.read_at >= self._refresh:
                return False
            self._slots.move_to_end(key_id)
            return slot.entry

    def lookup(self, key_id: str) -> KeyEntry | None:
        """The key, read from the store if what the ring holds is stale. Blocks."""
        held = self.peek(key_id)
        if held is not False:
            assert not isinstance(held, bool)
            return held
        try:
            key: AccessKey | None = self._store.get_access_key(key_id)
        except AccessKeyNotFoundError:
            key = None
        entry = None
        if key is not None:
            try:
                secret = self._master.open(key.key_id, key.sealed_secret)
            except MasterKeyError as error:
                # The operator's fault, not the client's: said in the log, and the key
                # proves nothing here (a 401), rather than a 500 on each of its requests.
                logger.error("access key %s cannot be used: %s", key_id, error)
                raise UnauthenticatedError(
                    f"access key {key_id} cannot be opened with this server's master key"
                ) from None
            entry = KeyEntry(key, secret)
            self._note_use(key_id, key)
        with self._lock:
            self._slots[key_id] = _Slot(entry, self._clock())
            self._slots.move_to_end(key_id)
            while len(self._slots) > MAX_ENTRIES:
                self._slots.popitem(last=False)
        return entry

    def forget(self, key_id: str) -> None:
        """Drop what this process holds of a key (it changed here; read it afresh)."""
        with self._lock:
            self._slots.pop(key_id, None)

    def _note_use(self, key_id: str, key: AccessKey) -> None:
        # Written when a key that signed a request since the last read is read again, and
        # at most once a minute, so a busy key costs no write per request and a request
        # never waits on one.
        with self._lock:
            slot = self._slots.get(key_id)
            used = slot is not None and slot.entry is not None and slot.entry.used
        now = utcnow()
        if used and (key.last_used_at is None or now - key.last_used_at >= LAST_USED_GRANULARITY):
            self._store.touch_access_key(key_id, now)
