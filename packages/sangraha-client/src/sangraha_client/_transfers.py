"""Resumable transfers, written once for both clients.

A chunked upload is a generator that yields batches of requests and receives their
responses (an error answer is thrown into it instead), so the sync client drives it with
threads and the async one with tasks. A download keeps its pure bookkeeping in
:class:`Download`; each client only moves the bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import pathlib
import threading
from collections.abc import Generator, Mapping
from concurrent.futures import Future
from typing import IO, Any

import httpx

from sangraha_core import Digest, ObjectRecord, UploadSession, UploadStatus

from ._base_client import BaseClient, RequestOptions
from ._constants import DEFAULT_PART_SIZE, PARTIAL_SUFFIX, SIDECAR_SUFFIX, STREAM_CHUNK_SIZE
from ._content import FileBody
from ._exceptions import (
    DigestMismatchError,
    NotFoundError,
    RangeNotSatisfiableError,
    UploadStateError,
)
from ._headers import etag_digest
from ._types import ProgressCallback

__all__ = [
    "ChunkedUpload",
    "Download",
    "UploadFlow",
    "advance",
    "choose_part_size",
    "sidecar_path",
]

#: Yields batches of requests (sent concurrently), receives their responses in order.
UploadFlow = Generator[list[RequestOptions], list[httpx.Response], ObjectRecord]


def sidecar_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def choose_part_size(
    size: int, requested: int | None, *, min_size: int, max_size: int, max_parts: int
) -> int:
    """The requested (or default) size, grown to fit ``max_parts``, clamped to the bounds."""
    part_size = requested or DEFAULT_PART_SIZE
    part_size = max(part_size, math.ceil(size / max_parts))
    return min(max(part_size, min_size), max_size)


def advance(
    flow: UploadFlow, responses: list[httpx.Response] | None, error: BaseException | None
) -> list[RequestOptions] | ObjectRecord:
    """Move the flow one step: the next batch, or the record once it has finished.

    Returning instead of raising ``StopIteration`` lets the async client run this in a
    worker thread, where a ``StopIteration`` could not cross into a future.
    """
    try:
        if error is not None:
            return flow.throw(error)
        if responses is None:
            return next(flow)
        return flow.send(responses)
    except StopIteration as stop:
        record: ObjectRecord = stop.value
        return record


class ChunkedUpload:
    """A file sent in parts through an upload session, resumable across runs.

    The session id is kept in ``<path>.sangraha-upload``; a later run with the same file
    asks the service which parts it already holds, checks them against the file, and
    sends only the rest.
    """

    def __init__(
        self,
        client: BaseClient,
        bucket: str,
        key: str,
        path: pathlib.Path,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        part_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.path = path
        self.content_type = content_type
        self.metadata = dict(metadata or {})
        self.part_size = part_size
        self.progress = progress
        self.sidecar = sidecar_path(path)
        self.total = 0
        self.done = 0
        self._lock = threading.Lock()

    def advance_progress(self, nbytes: int) -> None:
        if nbytes <= 0 and self.done:
            return
        with self._lock:
            self.done += nbytes
            if self.progress is not None:
                self.progress(self.done, self.total)

    def _read_sidecar(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.sidecar.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def _write_sidecar(self, state: Mapping[str, Any]) -> None:
        tmp = self.sidecar.with_name(self.sidecar.name + ".tmp")
        tmp.write_text(json.dumps(dict(state)), "utf-8")
        os.replace(tmp, self.sidecar)

    def _remove_sidecar(self) -> None:
        self.sidecar.unlink(missing_ok=True)

    def flow(self) -> UploadFlow:
        c = self.client
        stat = self.path.stat()
        self.total = stat.st_size
        identity = {
            "bucket": self.bucket,
            "key": self.key,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        session: UploadSession | None = None
        part_size = 0
        state = self._read_sidecar()
        if state is not None and all(state.get(k) == v for k, v in identity.items()):
            try:
                (resp,) = yield [c._get_upload_options(str(state["upload_id"]))]
                session = c._parse_session(resp)
            except NotFoundError:
                session = None
            if session is not None and session.status is UploadStatus.COMPLETED:
                if session.object_id is not None:
                    (resp,) = yield [c._record_by_id_options(session.object_id)]
                    self._remove_sidecar()
                    self.advance_progress(self.total)
                    return c._parse_record(resp)
                session = None
            elif session is not None and session.status is not UploadStatus.OPEN:
                session = None
            part_size = int(state.get("part_size", 0))
        elif state is not None and "upload_id" in state:
            # The file changed since that session began: its parts are of no use.
            with contextlib.suppress(NotFoundError, UploadStateError):
                yield [c._abort_upload_options(str(state["upload_id"]))]
            self._remove_sidecar()

        if session is None:
            (resp,) = yield [
                c._create_upload_options(
                    self.bucket,
                    self.key,
                    content_type=self.content_type,
                    size=self.total,
                    digest=None,
                    metadata=self.metadata,
                )
            ]
            session = c._parse_session(resp)
            part_size = 0
        if part_size <= 0:
            part_size = choose_part_size(
                self.total,
                self.part_size,
                min_size=session.min_part_size,
                max_size=session.max_part_size,
                max_parts=session.max_parts,
            )
        self._write_sidecar({**identity, "upload_id": session.id, "part_size": part_size})

        have = {p.number: p for p in session.parts}
        count = max(1, math.ceil(self.total / part_size))
        todo: list[RequestOptions] = []
        already = 0
        for number in range(1, count + 1):
            offset = (number - 1) * part_size
            body = FileBody(self.path, offset, min(part_size, self.total - offset))
            held = have.get(number)
            if held is not None and held.size == body.length and held.digest == body.digest():
                already += held.size
                continue
            todo.append(c._upload_part_options(session.id, number, body))
        self.advance_progress(already)
        # The digest of the whole file is worked out while its parts go up, and declared
        # when they are joined.
        stop = threading.Event()
        hashing = _hash_in_background(self.path, stop)
        try:
            if todo:
                yield todo
            digest = hashing.result()
        finally:
            stop.set()

        try:
            (resp,) = yield [c._complete_upload_options(session.id, digest=digest)]
        except (NotFoundError, UploadStateError) as exc:
            # A retried complete can land after the first one went through: look it up.
            try:
                (resp,) = yield [c._get_upload_options(session.id)]
                done = c._parse_session(resp)
            except NotFoundError:
                raise exc from None
            if done.object_id is None:
                raise
            (resp,) = yield [c._record_by_id_options(done.object_id)]
        self._remove_sidecar()
        return c._parse_record(resp)


def _hash_in_background(path: pathlib.Path, stop: threading.Event) -> Future[Digest]:
    """The digest of the file at ``path``, from a thread; it gives up once ``stop`` is set."""
    future: Future[Digest] = Future()

    def run() -> None:
        h = hashlib.sha256()
        try:
            with path.open("rb") as f:
                while not stop.is_set() and (chunk := f.read(STREAM_CHUNK_SIZE)):
                    h.update(chunk)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(Digest.from_hex(h.hexdigest()))

    threading.Thread(target=run, name="sangraha-file-digest", daemon=True).start()
    return future


class Download:
    """The bookkeeping of one download into ``<path>.part``, renamed once verified."""

    def __init__(
        self, path: pathlib.Path, *, resume: bool, progress: ProgressCallback | None
    ) -> None:
        self.path = path
        self.partial = path.with_name(path.name + PARTIAL_SUFFIX)
        self.progress = progress
        self.offset = 0
        if resume and self.partial.exists():
            self.offset = self.partial.stat().st_size
        else:
            self.partial.unlink(missing_ok=True)
        self.expected: Digest | None = None
        self.total: int | None = None
        self.done = 0
        self._hasher = hashlib.sha256()

    def request_headers(self) -> dict[str, str]:
        return {"Range": f"bytes={self.offset}-"} if self.offset else {}

    def restart(self) -> None:
        """Forget the partial file, as when its length lies past the object's end."""
        self.partial.unlink(missing_ok=True)
        self.offset = 0

    def can_restart(self, error: BaseException) -> bool:
        return isinstance(error, RangeNotSatisfiableError) and self.offset > 0

    def open(self, response: httpx.Response) -> IO[bytes]:
        """Start writing: append on ``206``, from scratch on a full ``200``."""
        self.expected = etag_digest(response.headers.get("etag"))
        length = response.headers.get("content-length")
        resumed = response.status_code == 206 and self._range_start(response) == self.offset
        if not resumed:
            self.offset = 0
        self._hasher = hashlib.sha256()
        if self.offset:
            with self.partial.open("rb") as f:
                while chunk := f.read(STREAM_CHUNK_SIZE):
                    self._hasher.update(chunk)
        self.done = self.offset
        self.total = self.offset + int(length) if length and length.isdigit() else None
        return self.partial.open("ab" if self.offset else "wb")

    @staticmethod
    def _range_start(response: httpx.Response) -> int | None:
        # Content-Range: bytes <start>-<end>/<size>
        value = response.headers.get("content-range", "")
        try:
            return int(value.split()[1].split("-")[0])
        except (IndexError, ValueError):
            return None

    def write(self, out: IO[bytes], chunk: bytes) -> None:
        out.write(chunk)
        self._hasher.update(chunk)
        self.done += len(chunk)
        if self.progress is not None:
            self.progress(self.done, self.total)

    def finish(self) -> pathlib.Path:
        """Check the digest, then move the file into place; a mismatch drops the partial."""
        actual = Digest.from_hex(self._hasher.hexdigest())
        if self.expected is not None and actual != self.expected:
            self.partial.unlink(missing_ok=True)
            raise DigestMismatchError(expected=str(self.expected), actual=str(actual))
        os.replace(self.partial, self.path)
        return self.path
