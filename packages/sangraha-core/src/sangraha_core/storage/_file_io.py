"""Small file operations the file store is built from: durable writes, copies, etags."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from .._constants import CHUNK_SIZE
from .._exceptions import InvalidPartError
from ._protocol import Data

__all__ = [
    "copy_range",
    "etag",
    "fill",
    "fill_at",
    "fsync_dir",
    "show_range",
    "unlink_quietly",
]


def fill(fd: int, data: Data, limit: int | None) -> os.stat_result:
    """Write ``data`` to the new file ``fd`` (closed after), fsync it; its final stat."""
    with open(fd, "wb") as out:
        size = 0
        for chunk in _chunks(data):
            size += len(chunk)
            if limit is not None and size > limit:
                raise InvalidPartError(f"a part may hold at most {limit} bytes")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
        return os.fstat(out.fileno())


def fill_at(fd: int, data: Data, offset: int, size: int) -> None:
    """Write ``data``, which must be exactly ``size`` bytes, to ``fd`` from ``offset``.

    Writing stops before a byte past ``size`` lands, so a body longer than it said cannot
    spill into the bytes after it; the caller makes the write durable.
    """
    written = 0
    for chunk in _chunks(data):
        if written + len(chunk) > size:
            raise InvalidPartError(f"the part holds more than the {size} bytes it declared")
        view = memoryview(chunk)
        while view:
            done = os.pwrite(fd, view, offset + written)
            written += done
            view = view[done:]
    if written != size:
        raise InvalidPartError(f"the part holds {written} bytes, not the {size} it declared")


def copy_range(src: int, offset: int, length: int, dst: int, dst_offset: int | None) -> None:
    """Copy ``length`` bytes of ``src`` from ``offset`` into ``dst``, in the kernel where
    it can: at ``dst_offset``, or at ``dst``'s position (which then moves on).

    ``src`` is read at explicit offsets, so another thread may read it at the same time.
    """
    done = 0
    try:
        while done < length:
            target = None if dst_offset is None else dst_offset + done
            copied = os.copy_file_range(
                src, dst, min(length - done, CHUNK_SIZE * 8), offset + done, target
            )
            if not copied:
                break
            done += copied
    except OSError:
        # Not across these filesystems (or not here at all): copy in chunks.
        pass
    while done < length and (chunk := os.pread(src, min(length - done, CHUNK_SIZE), offset + done)):
        if dst_offset is None:
            os.write(dst, chunk)
        else:
            os.pwrite(dst, chunk, dst_offset + done)
        done += len(chunk)
    if done != length:
        raise InvalidPartError(f"expected {length} bytes to copy, found {done}")


def show_range(src: int, offset: int, length: int, observe: Callable[[bytes], object]) -> int:
    """Pass ``length`` bytes of ``src`` from ``offset`` to ``observe``, in order, in chunks;
    how many there were (fewer if the file ends first)."""
    start, end = offset, offset + length
    while offset < end and (chunk := os.pread(src, min(end - offset, CHUNK_SIZE), offset)):
        observe(chunk)
        offset += len(chunk)
    return offset - start


def etag(st: os.stat_result) -> str:
    # Inode, mtime and size change whenever a put installs a new file; no need to hash.
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _chunks(data: Data) -> Iterable[bytes | bytearray | memoryview]:
    return [data] if isinstance(data, bytes | bytearray | memoryview) else data
