"""The multipart uploads of the S3 store: parts sent, copied and joined, some at once.

Three things use them: a streamed put longer than one part, a copy larger than
``CopyObject`` takes, and the upload sessions the receiver opens (one ``upload_part`` at a
time, from any replica). Every request on an upload names it to the retry policy, so an
upload that is gone answers ``UploadNotFoundError`` whatever the server's dialect.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import functools
import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Final, TypeVar

from .._constants import MAX_PARTS
from .._digest import Digest
from .._exceptions import SangrahaError, UploadNotFoundError
from .._names import validate_key
from ._protocol import PartResult, PutResult
from ._s3_requests import ChecksumTypeMismatch, Requests
from ._s3_spool import Piece, listed, rewound

__all__ = ["CHECKSUM", "Multipart"]

T = TypeVar("T")

#: The checksum every multipart upload declares and every part carries.
CHECKSUM: Final = "SHA256"


class Multipart:
    """Multipart uploads in the bucket of ``requests``.

    :param requests: the bucket's requests, under the store's retry policy.
    :param part_concurrency: parts of one streamed put, or of one large copy, sent at once.
    :param max_threads: threads sending parts, shared by every put and copy.
    :param head_etag: the ETag of a key, for a completion answered without one.
    """

    def __init__(
        self,
        requests: Requests,
        *,
        part_concurrency: int,
        max_threads: int,
        head_etag: Callable[[str], str],
    ) -> None:
        self._requests = requests
        self._client = requests.client
        self._bucket = requests.bucket
        self._part_concurrency = part_concurrency
        self._head_etag = head_etag
        # Threads start as parts are sent; every put and copy shares them.
        self._senders = ThreadPoolExecutor(
            max_workers=max_threads, thread_name_prefix="sangraha-s3-part"
        )

    def create(self, key: str, *, checksum: bool) -> str:
        validate_key(key)
        extra: dict[str, Any] = {"ChecksumAlgorithm": CHECKSUM} if checksum else {}
        response = self._requests.run(
            lambda: self._client.create_multipart_upload(Bucket=self._bucket, Key=key, **extra),
            key,
        )
        return response["UploadId"]

    def send_part(self, key: str, upload_id: str, part_number: int, piece: Piece) -> PartResult:
        def send(checksum: bool) -> Any:
            extra: dict[str, Any] = {"ChecksumSHA256": piece.digest.to_base64()} if checksum else {}
            if piece.md5 is not None:
                extra["ContentMD5"] = piece.md5
            return self._requests.run(
                lambda: self._client.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=part_number,
                    Body=rewound(piece.body),
                    ContentLength=piece.size,
                    **extra,
                ),
                key,
                upload=(key, upload_id),
            )

        try:
            response = send(checksum=True)
        except ChecksumTypeMismatch:
            # An upload created before parts carried checksums (a session older than this
            # code): S3 takes its parts only without one.
            response = send(checksum=False)
        etag = response["ETag"].strip('"')
        return PartResult(part_number=part_number, size=piece.size, etag=etag, digest=piece.digest)

    def send_all(self, key: str, upload_id: str, pieces: Iterable[Piece]) -> list[PartResult]:
        """Send ``pieces`` as parts 1, 2, ..., closing each once sent. The next piece is
        taken only when a sending slot is free: a put holds ``part_concurrency`` spools,
        and the client's body waits on S3."""

        def send(number: int, piece: Piece) -> PartResult:
            try:
                return self.send_part(key, upload_id, number, piece)
            finally:
                piece.close()

        return self._in_parallel(
            functools.partial(send, number, piece) for number, piece in enumerate(pieces, start=1)
        )

    def copy(self, source: str, destination: str, size: int, part_size: int) -> None:
        """Copy ``size`` bytes of ``source`` server-side, ``part_size`` bytes a part (grown
        if it would need more than ``MAX_PARTS``), and join them."""
        part_size = max(part_size, math.ceil(size / MAX_PARTS))
        # No checksum declared: S3 works out what it needs for bytes it copies itself, and
        # a source written without checksums would leave it none to give for a part.
        upload_id = self.create(destination, checksum=False)
        try:
            spans = [
                (number, offset, min(offset + part_size, size))
                for number, offset in enumerate(range(0, size, part_size), start=1)
            ]
            parts = self._in_parallel(
                functools.partial(self._copy_part, source, destination, upload_id, *span)
                for span in spans
            )
            self.complete(destination, upload_id, parts, create=False, checksums=False)
        except BaseException:
            self.abort_quietly(destination, upload_id)
            raise

    def declares_checksum(self, key: str, upload_id: str) -> bool:
        """Whether the multipart upload was created with our checksum algorithm."""
        response = self._requests.run(
            lambda: self._client.list_parts(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MaxParts=1
            ),
            key,
            upload=(key, upload_id),
        )
        return response.get("ChecksumAlgorithm") == CHECKSUM

    def complete(
        self,
        key: str,
        upload_id: str,
        ordered: builtins.list[PartResult],
        *,
        create: bool,
        checksums: bool,
    ) -> PutResult:
        """``CompleteMultipartUpload`` of ``ordered`` (checked, in order), listing each
        part's checksum if ``checksums``; with ``create``, ``If-None-Match: *``."""
        args: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": [listed(p, checksum=checksums) for p in ordered]},
        }
        if create:
            args["IfNoneMatch"] = "*"
        response = self._requests.run(
            lambda: self._client.complete_multipart_upload(**args), key, upload=(key, upload_id)
        )
        # RGW answers an empty ETag; the object has one, which HEAD gives.
        etag = str(response.get("ETag", "")).strip('"') or self._head_etag(key)
        return PutResult(key=key, size=sum(p.size for p in ordered), etag=etag)

    def uploaded_parts(self, key: str, upload_id: str) -> builtins.list[PartResult]:
        """Every part the upload holds, by number (``ListParts``, page after page)."""
        parts: builtins.list[PartResult] = []
        marker = 0
        while True:
            response = self._requests.run(
                functools.partial(
                    self._client.list_parts,
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumberMarker=marker,
                ),
                key,
                upload=(key, upload_id),
            )
            for part in response.get("Parts", []):
                checksum = part.get("ChecksumSHA256")
                parts.append(
                    PartResult(
                        part_number=part["PartNumber"],
                        size=part["Size"],
                        etag=str(part["ETag"]).strip('"'),
                        digest=None if not checksum else Digest.from_base64(checksum),
                    )
                )
            marker = int(response.get("NextPartNumberMarker") or 0)
            if not response.get("IsTruncated") or not marker:
                return parts

    def complete_some(
        self,
        key: str,
        upload_id: str,
        kept: builtins.list[PartResult],
        uploaded: builtins.list[PartResult],
        *,
        checksums: bool,
    ) -> PutResult:
        """Join only the parts ``kept`` of those ``uploaded``, where the server joins only
        every part it holds (RGW refuses a list that leaves one out): join them all, then
        copy the ranges of the kept ones over the object, server-side. Should the copy
        fail, the object of every part is left at ``key``: the caller deletes it."""
        self.complete(key, upload_id, uploaded, create=False, checksums=checksums)
        offsets: dict[int, int] = {}
        position = 0
        for part in uploaded:
            offsets[part.part_number] = position
            position += part.size
        spans = [
            (number, offsets[part.part_number], offsets[part.part_number] + part.size)
            for number, part in enumerate(kept, start=1)
        ]
        copy_id = self.create(key, checksum=False)
        try:
            parts = self._in_parallel(
                functools.partial(self._copy_part, key, key, copy_id, *span) for span in spans
            )
            return self.complete(key, copy_id, parts, create=False, checksums=False)
        except BaseException:
            self.abort_quietly(key, copy_id)
            raise

    def abort(self, key: str, upload_id: str) -> None:
        """Abort the upload; one already gone is not an error."""
        validate_key(key)
        with contextlib.suppress(UploadNotFoundError):
            self._requests.run(
                lambda: self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                ),
                key,
            )

    def abort_quietly(self, key: str, upload_id: str) -> None:
        # The original error matters more; S3 lifecycle rules sweep what is left.
        with contextlib.suppress(SangrahaError):
            self.abort(key, upload_id)

    def close(self) -> None:
        self._senders.shutdown()

    def _copy_part(
        self, source: str, key: str, upload_id: str, part_number: int, start: int, end: int
    ) -> PartResult:
        response = self._requests.run(
            lambda: self._client.upload_part_copy(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part_number,
                CopySource={"Bucket": self._bucket, "Key": source},
                CopySourceRange=f"bytes={start}-{end - 1}",
            ),
            # Not named as a request on the upload: a missing key here is the source.
            source,
        )
        etag = response["CopyPartResult"]["ETag"].strip('"')
        return PartResult(part_number=part_number, size=end - start, etag=etag)

    def _in_parallel(self, calls: Iterator[Callable[[], T]]) -> builtins.list[T]:
        """Run ``calls`` on the threads, ``part_concurrency`` at a time, taking the next
        from ``calls`` only once a slot is free; their results, in order. On a failure the
        calls already running finish before it is raised, so none outlives the upload it
        belongs to."""
        results: builtins.list[T] = []
        running: collections.deque[Future[T]] = collections.deque()
        try:
            # A slot first, then the call: a spool is cut only when it can go out at once.
            while True:
                if len(running) >= self._part_concurrency:
                    results.append(running.popleft().result())
                call = next(calls, None)
                if call is None:
                    break
                running.append(self._senders.submit(call))
            while running:
                results.append(running.popleft().result())
            return results
        finally:
            wait(running)
