"""A blob store as a third party would write one: blobs in a dict, in this process.

It is built on the public names alone (``sangraha_core``, ``sangraha_core.storage``), so
that passing the shipped suite shows the suite asks nothing the protocol does not say.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sangraha_core import (
    MIN_PART_SIZE,
    BlobExistsError,
    BlobNotFoundError,
    BlobStoreUnavailableError,
    InvalidPartError,
    InvalidRangeError,
    UploadNotFoundError,
    utcnow,
)
from sangraha_core.storage import BlobInfo, Data, PartResult, PutMode, PutResult, ordered_parts

__all__ = ["DictBlobStore"]


@dataclass(frozen=True, slots=True)
class _Blob:
    # Kept as the chunks that arrived: joining them would hold every byte twice.
    chunks: tuple[bytes, ...]
    info: BlobInfo


@dataclass(slots=True)
class _Upload:
    key: str
    parts: dict[int, tuple[PartResult, tuple[bytes, ...]]] = field(default_factory=dict)


def _collect(data: Data) -> tuple[bytes, ...]:
    """Every chunk of ``data``, read to its end before anything is stored: a stream that
    fails part-way (or at its end, as a ``DigestedStream`` does) leaves nothing behind."""
    if isinstance(data, bytes):
        return (data,)
    return tuple(bytes(chunk) for chunk in data if chunk)


def _slices(chunks: Iterable[bytes], start: int, end: int) -> Iterator[bytes]:
    offset = 0
    for chunk in chunks:
        if offset >= end:
            return
        if offset + len(chunk) > start:
            yield chunk[max(0, start - offset) : end - offset]
        offset += len(chunk)


class DictBlobStore:
    """Every write builds its blob aside and swaps it in under one lock, which is what
    makes ``put`` and ``complete_multipart`` atomic here."""

    def __init__(self, *, min_part_size: int = MIN_PART_SIZE) -> None:
        self._min_part_size = min_part_size
        self._lock = threading.Lock()
        self._blobs: dict[str, _Blob] = {}
        self._uploads: dict[str, _Upload] = {}
        self._closed = False

    def _blob(self, key: str) -> _Blob:
        with self._lock:
            blob = self._blobs.get(key)
        if blob is None:
            raise BlobNotFoundError(f"no blob {key!r}")
        return blob

    def _store(self, key: str, chunks: tuple[bytes, ...], *, mode: PutMode) -> PutResult:
        info = BlobInfo(key, sum(map(len, chunks)), uuid.uuid4().hex, utcnow())
        with self._lock:
            if mode == "create" and key in self._blobs:
                raise BlobExistsError(f"a blob {key!r} exists")
            self._blobs[key] = _Blob(chunks, info)
        return PutResult(key, info.size, info.etag)

    def put(self, key: str, data: Data, *, mode: PutMode = "overwrite") -> PutResult:
        return self._store(key, _collect(data), mode=mode)

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        blob = self._blob(key)
        size = blob.info.size
        if not 0 <= start <= size:
            raise InvalidRangeError(f"{start} lies outside {size} bytes", size=size)
        return _slices(blob.chunks, start, size if end is None else min(end, size))

    def head(self, key: str) -> BlobInfo:
        return self._blob(key).info

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._blobs

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(key, None)

    def copy(self, source: str, destination: str) -> None:
        self._store(destination, self._blob(source).chunks, mode="overwrite")

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        with self._lock:
            found = [blob.info for key, blob in self._blobs.items() if key.startswith(prefix)]
        return iter(sorted(found, key=lambda info: info.key))

    def create_multipart(self, key: str) -> str:
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._uploads[upload_id] = _Upload(key)
        return upload_id

    def _upload(self, key: str, upload_id: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.key != key:
            raise UploadNotFoundError(f"no upload {upload_id!r} of {key!r}")
        return upload

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Data) -> PartResult:
        if part_number < 1:
            raise InvalidPartError(f"part numbers start at 1, not {part_number}")
        chunks = _collect(data)
        result = PartResult(part_number, sum(map(len, chunks)), uuid.uuid4().hex)
        with self._lock:
            self._upload(key, upload_id).parts[part_number] = (result, chunks)
        return result

    def complete_multipart(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> PutResult:
        with self._lock:
            upload = self._upload(key, upload_id)
            joined: builtins.list[bytes] = []
            for part in ordered_parts(parts, self._min_part_size):
                stored = upload.parts.get(part.part_number)
                if stored is None or stored[0].etag != part.etag:
                    raise InvalidPartError(f"part {part.part_number} is not the one uploaded")
                joined.extend(stored[1])
            del self._uploads[upload_id]
        return self._store(key, tuple(joined), mode="overwrite")

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with self._lock:
            self._uploads.pop(upload_id, None)

    def check(self) -> None:
        if self._closed:
            raise BlobStoreUnavailableError("the store is closed")

    def close(self) -> None:
        self._closed = True
