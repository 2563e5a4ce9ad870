"""The digest of a multipart upload's front, worked out while its parts arrive.

The whole object's SHA-256 can only be taken in order, and parts arrive in any order and
in parallel. A :class:`FrontDigest` is offered each part as it lands; it hashes the part if
it is the next one, holds it until its turn if not, and so has the first parts hashed by the
time the upload completes, leaving the join only the rest to read. The parts it hashed are
named by their etags: if the join is given others (a part was sent again), the front is
of no use and the join hashes the whole object, as it would without one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from hashlib import sha256
from typing import TYPE_CHECKING, Protocol

from ._protocol import PartResult

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

__all__ = ["FrontDigest", "Fronts", "PartBytes"]


class PartBytes(Protocol):
    """A landed part's bytes, read once when its turn comes, then let go."""

    def show(self, observe: Callable[[bytes], object]) -> int:
        """Pass every byte to ``observe`` in order; how many there were."""
        ...

    def close(self) -> None: ...


class FrontDigest:
    """Hash parts 1, 2, ... as they become available; hold the ones ahead of their turn.

    :param max_held: the most bytes of parts held waiting for their turn; past it the front
        gives up (a client sending in reverse order should not fill a disk).
    """

    def __init__(self, max_held: int) -> None:
        self._max_held = max_held
        self._hash = sha256()
        self._etags: list[str] = []
        self._hashed = 0
        self._held: dict[int, tuple[str, int, PartBytes]] = {}
        self._held_bytes = 0
        self._lock = threading.Lock()
        self._done = False

    def offer(self, number: int, etag: str, size: int, part: PartBytes) -> None:
        """Part ``number`` has landed as ``etag``: hash it and whatever follows it, or hold
        it. The front owns ``part`` from here and closes it."""
        with self._lock:
            if self._done or number <= len(self._etags):
                # Hashed already: this sending replaces it, and ``take`` will see so.
                part.close()
                return
            earlier = self._held.pop(number, None)
            if earlier is not None:
                self._held_bytes -= earlier[1]
                earlier[2].close()
            self._held[number] = (etag, size, part)
            self._held_bytes += size
            if self._held_bytes > self._max_held:
                self._give_up()
                return
            while (turn := self._held.pop(len(self._etags) + 1, None)) is not None:
                etag, size, part = turn
                self._held_bytes -= size
                try:
                    shown = part.show(self._hash.update)
                except Exception:
                    # Only a shortcut: whatever goes wrong here, ``complete`` reads back.
                    shown = -1
                finally:
                    part.close()
                if shown != size:
                    self._give_up()
                    return
                self._etags.append(etag)
                self._hashed += size

    def take(self, parts: list[PartResult]) -> tuple[Hash, int] | None:
        """End it: the hasher and how many of the object's first bytes it has seen, if the
        parts it hashed are the first of ``parts`` (in order), with the same etags."""
        with self._lock:
            hashed = self._etags
            done = self._done
            self._give_up()
            if done or len(hashed) > len(parts):
                return None
            for tag, part in zip(hashed, parts, strict=False):
                if part.etag != tag:
                    return None
            return self._hash, self._hashed

    def close(self) -> None:
        """Let go of every part held; hash nothing more."""
        with self._lock:
            self._give_up()

    def _give_up(self) -> None:
        self._done = True
        for _, _, part in self._held.values():
            part.close()
        self._held.clear()
        self._held_bytes = 0


class Fronts:
    """A store's front digests, one per upload it has seen parts of.

    They are this process's memory: an upload completed by another process, or left to
    expire, is never taken, so past ``limit`` the oldest is let go.
    """

    def __init__(self, *, limit: int, max_held: int) -> None:
        self._limit = limit
        self._max_held = max_held
        self._fronts: dict[str, FrontDigest] = {}
        self._lock = threading.Lock()

    def of(self, upload_id: str) -> FrontDigest:
        """The upload's front digest, begun if need be."""
        evicted: list[FrontDigest] = []
        with self._lock:
            front = self._fronts.get(upload_id)
            if front is None:
                while len(self._fronts) >= self._limit:
                    evicted.append(self._fronts.pop(next(iter(self._fronts))))
                front = self._fronts[upload_id] = FrontDigest(max_held=self._max_held)
        for old in evicted:
            old.close()
        return front

    def pop(self, upload_id: str) -> FrontDigest | None:
        with self._lock:
            return self._fronts.pop(upload_id, None)

    def discard(self, upload_id: str) -> None:
        front = self.pop(upload_id)
        if front is not None:
            front.close()

    def close(self) -> None:
        with self._lock:
            fronts = list(self._fronts.values())
            self._fronts.clear()
        for front in fronts:
            front.close()
