"""A validator process: ``python -m sangraha_core.kinds._child MEMORY_LIMIT``.

It loads the parsers, caps its own address space at ``MEMORY_LIMIT`` bytes, then runs
``kinds.inspect`` on one job at a time (or on each object of a batch in turn) for the
parent at the other end of its standard input and output, under a CPU-time limit set
anew for every object. Whatever a parser does to this process (a segmentation fault, a
runaway allocation, an endless loop) ends here; the parent sees how the process ended and
fails that one object with the reason.

The bytes of a large object stay with the parent: every read is a request on the pipe,
so the parent keeps hashing what it hands over, and a blob store fault on the parent's
side is told apart from invalid content. Small ones come whole with their job, a batch of
them in one frame, so that many take one round trip.
"""

from __future__ import annotations

import io
import json
import math
import os
import resource
import sys
from typing import Any

from .._exceptions import InvalidContentError, UnsupportedContentTypeError
from . import _wire
from ._inspect import inspect

__all__ = ["main"]


class _ReadFailed(OSError):
    """The parent could not read the bytes asked for; the job is abandoned."""


class _RemoteFile(io.RawIOBase):
    """The object being validated, read from the parent a request at a time."""

    def __init__(self, channel: _wire.Channel, size: int) -> None:
        super().__init__()
        self._channel = channel
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), _wire.MAX_FRAME, max(0, self._size - self._position))
        if want == 0:
            return 0
        self._channel.send(_wire.READ, _wire.READ_REQUEST.pack(self._position, want))
        kind, data = self._channel.receive()
        if kind != _wire.DATA:
            raise _ReadFailed("the parent could not read the object")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(channel: _wire.Channel, job: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    size = int(job["size"])
    file: io.RawIOBase | io.BytesIO
    if job.get("inline"):
        kind, data = channel.receive()
        if kind != _wire.DATA:
            return _wire.READ_ABORTED, {}
        file = io.BytesIO(data)
    else:
        file = _RemoteFile(channel, size)
    channel.send(_wire.TAKEN)
    return _inspect(str(job["content_type"]), file, float(job["cpu_seconds"]))


def _run_batch(channel: _wire.Channel, batch: dict[str, Any]) -> None:
    """Each object of a ``BATCH`` inspected in turn, its answer sent as soon as it is
    known: if one ends this process, the parent knows which, and that those before it
    were answered."""
    kind, data = channel.receive()
    if kind != _wire.DATA:
        channel.send(_wire.READ_ABORTED, b"{}")
        return
    channel.send(_wire.TAKEN)
    view = memoryview(data)
    offset = 0
    for job in batch["jobs"]:
        size = int(job["size"])
        part = io.BytesIO(view[offset : offset + size])
        offset += size
        answer, body = _inspect(str(job["content_type"]), part, float(job["cpu_seconds"]))
        channel.send(answer, json.dumps(body).encode())


def _inspect(
    content_type: str, file: io.RawIOBase | io.BytesIO, cpu_seconds: float
) -> tuple[bytes, dict[str, Any]]:
    """``inspect`` under a CPU-time limit of its own, as an answer frame."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    # The limit counts the process's whole life, so each job's is set from what it used.
    soft = math.ceil(_cpu_used() + cpu_seconds)
    resource.setrlimit(
        resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )
    try:
        return _wire.RESULT, inspect(content_type, file)  # type: ignore[arg-type]
    except InvalidContentError as exc:
        return _wire.INVALID, {"reason": exc.reason}
    except UnsupportedContentTypeError as exc:
        return _wire.UNSUPPORTED, {"reason": str(exc)}
    except _ReadFailed:
        return _wire.READ_ABORTED, {}
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    memory_limit = int(args[0])
    # The pipes are the parent's; anything a library prints goes to standard error.
    channel = _wire.Channel(os.dup(0), os.dup(1))
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    # A crash must not leave a core file the size of the address space behind.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    channel.send(_wire.READY, json.dumps({"pid": os.getpid()}).encode())
    while True:
        try:
            kind, payload = channel.receive()
        except _wire.ChannelClosed:
            return  # the parent is gone or done with us
        if kind not in (_wire.JOB, _wire.BATCH):
            continue
        try:
            if kind == _wire.BATCH:
                _run_batch(channel, json.loads(payload))
                continue
            answer, body = _run(channel, json.loads(payload))
            channel.send(answer, json.dumps(body).encode())
        except MemoryError:
            # What is left of the heap may be fragmented past use: the parent starts anew.
            channel.send(_wire.OUT_OF_MEMORY, b"{}")
            return
        except _wire.ChannelClosed:
            return


if __name__ == "__main__":
    main()
