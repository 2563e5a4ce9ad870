"""The frames a validator process and its parent exchange over two pipes.

A frame is one type byte, a 4-byte big-endian length and that many bytes. Payloads are
raw bytes or JSON, never pickles: the child parses hostile input, so whatever it sends
back is treated as data a compromised process could have written.

Parent to child: ``JOB`` (JSON: content type, size, CPU seconds, whether the bytes
follow inline), ``BATCH`` (JSON: a list of jobs whose bytes follow inline, one after
another, in one ``DATA``), ``DATA`` (the bytes of one read, or of the whole object or
batch), ``FAILED_READ`` (the parent's file raised; the child gives up the job).

Child to parent: ``READY`` once its libraries are loaded, ``READ`` (offset and size,
packed), ``TAKEN`` once it holds a job (a batch with its bytes): until then no object is
to blame if it ends. Then one answer per object: ``RESULT`` (JSON metadata), ``INVALID``
or ``UNSUPPORTED`` (JSON reason), ``READ_ABORTED`` (after a ``FAILED_READ``),
``OUT_OF_MEMORY`` (it exits next).
"""

from __future__ import annotations

import os
import select
import struct
import time
from typing import Final

__all__ = [
    "BATCH",
    "DATA",
    "FAILED_READ",
    "INVALID",
    "JOB",
    "MAX_FRAME",
    "OUT_OF_MEMORY",
    "READ",
    "READY",
    "READ_ABORTED",
    "READ_REQUEST",
    "RESULT",
    "TAKEN",
    "UNSUPPORTED",
    "Channel",
    "ChannelClosed",
    "ChannelTimeout",
]

JOB: Final = b"J"
BATCH: Final = b"B"
DATA: Final = b"D"
FAILED_READ: Final = b"X"
READY: Final = b"H"
READ: Final = b"R"
TAKEN: Final = b"T"
RESULT: Final = b"O"
INVALID: Final = b"I"
UNSUPPORTED: Final = b"U"
READ_ABORTED: Final = b"F"
OUT_OF_MEMORY: Final = b"M"

#: Largest frame either side accepts: a read is at most this, metadata far less.
MAX_FRAME: Final = 8 * 1024 * 1024
#: A ``READ`` payload: offset, size.
READ_REQUEST: Final = struct.Struct(">QI")
_HEADER = struct.Struct(">cI")


class ChannelClosed(Exception):
    """The other side closed its pipe (or sent a frame no honest peer would)."""


class ChannelTimeout(Exception):
    """No frame arrived before the deadline."""


class Channel:
    """Frames over a pair of pipe file descriptors, with a deadline on every receive."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        # A peer that stops reading must not hold a writer past its deadline.
        os.set_blocking(write_fd, False)
        self._buffer = bytearray()

    def send(self, kind: bytes, payload: bytes = b"", deadline: float | None = None) -> None:
        """Write one frame whole; ``ChannelTimeout`` once ``time.monotonic()`` passes
        ``deadline``, ``ChannelClosed`` if the other side is gone."""
        view = memoryview(_HEADER.pack(kind, len(payload)) + payload)
        try:
            while view:
                _wait(self._write_fd, deadline, write=True)
                try:
                    view = view[os.write(self._write_fd, view) :]
                except BlockingIOError:
                    continue
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ChannelClosed(str(exc)) from None

    def receive(self, deadline: float | None = None) -> tuple[bytes, bytes]:
        """The next frame; ``ChannelTimeout`` once ``time.monotonic()`` passes
        ``deadline``, ``ChannelClosed`` at the end of the pipe."""
        header = self._take(_HEADER.size, deadline)
        kind, size = _HEADER.unpack(header)
        if size > MAX_FRAME:
            raise ChannelClosed(f"a frame of {size} bytes is larger than {MAX_FRAME}")
        return kind, self._take(size, deadline)

    def _take(self, size: int, deadline: float | None) -> bytes:
        while len(self._buffer) < size:
            _wait(self._read_fd, deadline, write=False)
            data = os.read(self._read_fd, max(size - len(self._buffer), 64 * 1024))
            if not data:
                raise ChannelClosed("the pipe was closed")
            self._buffer += data
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken


def _wait(fd: int, deadline: float | None, *, write: bool) -> None:
    """Until ``fd`` is ready, or ``ChannelTimeout`` at the deadline."""
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise ChannelTimeout
    ready = select.select([], [fd], [], left) if write else select.select([fd], [], [], left)
    if not any(ready):
        raise ChannelTimeout
