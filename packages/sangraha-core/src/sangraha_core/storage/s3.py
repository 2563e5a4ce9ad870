"""A blob store on S3 or anything that speaks its API (MinIO, moto), through boto3."""

from __future__ import annotations

import builtins
import collections
import contextlib
import functools
import itertools
import math
import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from hashlib import sha256
from typing import IO, TYPE_CHECKING, Any, Final, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from .._constants import CHUNK_SIZE, MAX_PART_SIZE, MAX_PARTS
from .._digest import Digest, DigestedStream, Hasher
from .._exceptions import (
    BlobExistsError,
    BlobNotFoundError,
    BlobStoreUnavailableError,
    ConfigurationError,
    InvalidPartError,
    SangrahaError,
    UploadNotFoundError,
)
from .._names import validate_key
from ._front import Fronts
from ._protocol import BlobInfo, Data, PartResult, PutMode, PutResult, ordered_parts
from ._reader import ChunkStream, closing_chunks, resolve_range

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = ["S3BlobStore"]

T = TypeVar("T")

#: Streams of unknown length are cut into parts of this size.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: Parts of one streamed put (or large copy) in flight at once: S3 answers each part after a
#: round trip, so one at a time leaves the link idle between parts.
DEFAULT_PART_CONCURRENCY = 4
#: A part (of a streamed put, or sent through ``upload_part``) is spooled to a temporary
#: file past this size: the receiver takes several uploads and parts at once, and each
#: part held in memory would cost its size per thread (freed memory stays with the thread's
#: malloc arena, so the process keeps the high-water mark of all of them).
PART_SPOOL_MEMORY = 1024 * 1024
#: The checksum every multipart upload declares and every part carries.
_CHECKSUM: Final = "SHA256"
#: Uploads whose front is hashed as parts arrive, at most, per store.
MAX_FRONTS = 64
#: Part bytes spooled to disk while they wait for the parts before them, at most, per
#: upload: enough for the few parts a client sends in parallel to land out of order. (Behind
#: a load balancer a replica may never see part 1; this bounds what it keeps meanwhile.)
FRONT_MAX_HELD = 64 * 1024 * 1024
#: copy_object takes at most 5 GiB; above that a copy goes part by part, still server-side.
DEFAULT_COPY_THRESHOLD = MAX_PART_SIZE
DEFAULT_COPY_PART_SIZE = 512 * 1024 * 1024

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_BAD_PART = frozenset({"EntityTooSmall", "InvalidPart", "InvalidPartOrder", "EntityTooLarge"})
_PRECONDITION = frozenset({"PreconditionFailed", "412"})
# Throttling and momentary server trouble; ConditionalRequestConflict is S3 asking a
# conditional write to try again while another one on the same key is in flight.
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "ConditionalRequestConflict",
        "500",
        "502",
        "503",
        "504",
    }
)
_URL_PARAMS = frozenset({"endpoint", "region"})
# Parsing botocore's service models takes most of a second; every store shares one parse.
# Each store still gets a session of its own, so credentials are read when it opens.
_LOADER = botocore.loaders.create_loader()


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: botocore.exceptions.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed: connection trouble, throttling, a 5xx."""
    if isinstance(
        exc,
        botocore.exceptions.ConnectionError
        | botocore.exceptions.HTTPClientError
        | botocore.exceptions.IncompleteReadError,
    ):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        return _code(exc) in _TRANSIENT_CODES or _status(exc) in (500, 502, 503, 504)
    return False


class S3BlobStore:
    """Blobs as objects in one S3 bucket, created on open if missing.

    Every request goes through one retry policy (tenacity): connection errors, timeouts,
    throttling and 5xx answers are tried again up to ``max_attempts`` times with jittered
    exponential back-off, then raise ``BlobStoreUnavailableError``. botocore's own retries
    are off so the two never multiply.

    ``mode="create"`` sends ``If-None-Match: *`` (on ``PutObject``, or on
    ``CompleteMultipartUpload`` for a streamed put longer than one part, after a ``HEAD``
    that fails early before any part is sent); S3, MinIO and moto answer 412 when the key
    exists, and only one of two racing creates wins.

    :param bucket: the bucket holding the blobs.
    :param endpoint_url: an S3-compatible endpoint (MinIO, moto); ``None`` for AWS.
    :param region: the region (default: ``AWS_DEFAULT_REGION`` / the AWS config).
    :param create_bucket: create the bucket on open if it does not exist.
    :param part_size: how much of a stream is held before it goes out as one part.
    :param part_concurrency: parts of one streamed put, or of one large copy, sent at once.
    :param copy_threshold: copies of larger blobs go part by part (``UploadPartCopy``).
    :param copy_part_size: the size of each of those parts (grown if it would need more
        than ``MAX_PARTS``).
    :param max_attempts: attempts per request before giving up.
    :param backoff: the first back-off, in seconds; it doubles, with jitter, per attempt.
    :param backoff_max: the longest back-off, in seconds.
    :param connect_timeout: seconds to wait for a TCP connection.
    :param read_timeout: seconds to wait for data on an open connection.
    :param max_pool_connections: connections kept for concurrent threads.
    :param list_page_size: keys per ``ListObjectsV2`` request (at most 1000).
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        create_bucket: bool = True,
        part_size: int = DEFAULT_PART_SIZE,
        part_concurrency: int = DEFAULT_PART_CONCURRENCY,
        copy_threshold: int = DEFAULT_COPY_THRESHOLD,
        copy_part_size: int = DEFAULT_COPY_PART_SIZE,
        max_attempts: int = 5,
        backoff: float = 0.1,
        backoff_max: float = 5.0,
        connect_timeout: float = 2.0,
        read_timeout: float = 60.0,
        max_pool_connections: int = 64,
        list_page_size: int = 1000,
    ) -> None:
        self._bucket = bucket
        self._fronts = Fronts(limit=MAX_FRONTS, max_held=FRONT_MAX_HELD)
        self._region = (
            region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        )
        self._part_size = part_size
        self._part_concurrency = part_concurrency
        # Threads start as parts are sent; every put and copy shares them.
        self._senders = ThreadPoolExecutor(
            max_workers=max_pool_connections, thread_name_prefix="sangraha-s3-part"
        )
        self._copy_threshold = copy_threshold
        self._copy_part_size = copy_part_size
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._list_page_size = list_page_size
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max_pool_connections,
            retries={"total_max_attempts": 1, "mode": "standard"},
            s3={
                # MinIO and moto want path-style URLs; AWS picks its own style.
                **({"addressing_style": "path"} if endpoint_url else {}),
                # Every body we write carries its SHA-256 in a signed header, which S3
                # checks: signing the body too would hash every byte once more (botocore
                # does so on any plain-HTTP endpoint, and on HTTPS without a checksum).
                "payload_signing_enabled": False,
            },
            # Checksums only where S3 demands them: ours are worked out as bytes arrive.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = botocore.session.get_session()
        session.register_component("data_loader", _LOADER)
        self._client: S3Client = boto3.session.Session(botocore_session=session).client(
            "s3", endpoint_url=endpoint_url, region_name=self._region, config=config
        )
        if create_bucket:
            self._ensure_bucket()

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.path not in ("", "/"):
            raise ConfigurationError(
                f"an S3 blob store URL looks like s3://bucket?..., got {url!r}"
            )
        query = parse_qs(parts.query, strict_parsing=False)
        unknown = set(query) - _URL_PARAMS
        if unknown:
            raise ConfigurationError(
                f"unknown S3 URL parameters {sorted(unknown)}; known: {sorted(_URL_PARAMS)}"
            )
        endpoint = query.get("endpoint", [None])[-1]
        region = query.get("region", [None])[-1]
        return cls(parts.netloc, endpoint_url=endpoint, region=region)

    @property
    def bucket(self) -> str:
        return self._bucket

    def put(self, key: str, data: Data, *, mode: PutMode = "overwrite") -> PutResult:
        validate_key(key)
        create = mode == "create"
        if isinstance(data, bytes | bytearray | memoryview):
            whole = bytes(data)
            return self._put_object(key, whole, len(whole), Digest.of(whole), create=create)
        parts = _parts(data, self._part_size)
        try:
            first = next(parts, None)
            if first is None:
                return self._put_object(key, b"", 0, Digest.of(b""), create=create)
            spool, digest = first
            if spool.tell() < self._part_size:
                # The whole stream fit in one part: a single PutObject.
                with spool:
                    return self._put_object(key, spool, spool.tell(), digest, create=create)
            return self._put_multipart(key, first, parts, create=create)
        finally:
            parts.close()

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        validate_key(key)
        if start < 0 or (end is not None and end <= start):
            # Nothing to fetch (or a bad range): resolve it against the real size.
            first, stop = resolve_range(start, end, self.head(key).size)
            return iter(()) if first == stop else self.get(key, start=first, end=stop)
        args: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            response = self._retry(lambda: self._client.get_object(**args), key)
        except _RangeNotSatisfiable:
            # Past the end, or any range of an empty blob: start == size is an empty read.
            resolve_range(start, end, self.head(key).size)
            return iter(())
        body = response["Body"]
        return ChunkStream(
            body.read, body.close, response["ContentLength"], on_error=self._stream_error
        )

    def head(self, key: str) -> BlobInfo:
        validate_key(key)
        response = self._retry(lambda: self._client.head_object(Bucket=self._bucket, Key=key), key)
        return BlobInfo(
            key=key,
            size=response["ContentLength"],
            etag=response["ETag"].strip('"'),
            last_modified=response["LastModified"],
        )

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except BlobNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        self._retry(lambda: self._client.delete_object(Bucket=self._bucket, Key=key), key)

    def copy(self, source: str, destination: str) -> None:
        validate_key(destination)
        size = self.head(source).size
        if size <= self._copy_threshold:
            self._retry(
                lambda: self._client.copy_object(
                    Bucket=self._bucket,
                    Key=destination,
                    CopySource={"Bucket": self._bucket, "Key": source},
                ),
                source,
            )
            return
        part_size = max(self._copy_part_size, math.ceil(size / MAX_PARTS))
        # No checksum declared: S3 works out what it needs for bytes it copies itself, and
        # a source written without checksums would leave it none to give for a part.
        upload_id = self._create_multipart(destination, checksum=False)
        try:
            spans = [
                (number, offset, min(offset + part_size, size))
                for number, offset in enumerate(range(0, size, part_size), start=1)
            ]
            parts = self._in_parallel(
                functools.partial(self._copy_part, source, destination, upload_id, *span)
                for span in spans
            )
            self._complete(destination, upload_id, parts, create=False, checksums=False)
        except BaseException:
            self._abort_quietly(destination, upload_id)
            raise

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        token: str | None = None
        while True:
            args: dict[str, Any] = {
                "Bucket": self._bucket,
                "Prefix": prefix,
                "MaxKeys": self._list_page_size,
            }
            if token:
                args["ContinuationToken"] = token
            page = self._retry(lambda a=args: self._client.list_objects_v2(**a), prefix)  # type: ignore[misc]
            for item in page.get("Contents", []):
                yield BlobInfo(
                    key=item["Key"],
                    size=item["Size"],
                    etag=item["ETag"].strip('"'),
                    last_modified=item["LastModified"],
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def create_multipart(self, key: str) -> str:
        # Every part then carries its SHA-256, which S3 checks as the part arrives and
        # again when the parts are joined. (It also spares an S3 that would otherwise work
        # out a checksum of the whole object at the join: moto copies it in memory to do so.)
        return self._create_multipart(key, checksum=True)

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Data) -> PartResult:
        if not 1 <= part_number <= MAX_PARTS:
            raise InvalidPartError(f"part numbers run from 1 to {MAX_PARTS}, got {part_number}")
        if isinstance(data, bytes | bytearray | memoryview):
            whole = bytes(data)
            return self._send_part(key, upload_id, part_number, whole, len(whole), Digest.of(whole))
        # S3 needs the length and the checksum up front: spool the part, to disk once it
        # outgrows a small buffer, so parts received in parallel cost disk, not a part size
        # of memory each.
        # A DigestedStream (the receiver's) hashes the bytes as they pass: no second pass.
        stream = data if isinstance(data, DigestedStream) else DigestedStream(data)
        with contextlib.ExitStack() as owned:
            spool = owned.enter_context(tempfile.SpooledTemporaryFile(max_size=PART_SPOOL_MEMORY))
            size = 0
            for chunk in stream:
                size += len(chunk)
                if size > MAX_PART_SIZE:
                    raise InvalidPartError(f"a part may hold at most {MAX_PART_SIZE} bytes")
                spool.write(chunk)
            digest = stream.digest()
            result = self._send_part(key, upload_id, part_number, spool, size, digest)
            # Sent: the spool goes on to the upload's front digest, which hashes it now or
            # once the parts before it have come, then closes it; ``complete`` reads less.
            owned.pop_all()
        self._fronts.of(upload_id).offer(part_number, result.etag, size, _SpoolBytes(spool))
        return result

    def complete_multipart(
        self, key: str, upload_id: str, parts: builtins.list[PartResult], *, create: bool = False
    ) -> PutResult:
        """Assemble the parts; with ``create``, only if ``key`` does not exist yet."""
        validate_key(key)
        ordered = ordered_parts(parts)
        # A session opened before its parts carried checksums has an upload that declared
        # none, and S3 refuses part checksums for it: list them only where it did.
        checksums = self._declares_checksum(key, upload_id)
        return self._complete(key, upload_id, ordered, create=create, checksums=checksums)

    def _complete(
        self,
        key: str,
        upload_id: str,
        ordered: builtins.list[PartResult],
        *,
        create: bool,
        checksums: bool,
    ) -> PutResult:
        """``CompleteMultipartUpload`` of ``ordered`` (checked, in order), listing each
        part's checksum if ``checksums``."""
        args: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": [_listed(p, checksum=checksums) for p in ordered]},
        }
        if create:
            args["IfNoneMatch"] = "*"
        response = self._retry(lambda: self._client.complete_multipart_upload(**args), key)
        return PutResult(
            key=key,
            size=sum(p.size for p in ordered),
            etag=str(response.get("ETag", "")).strip('"'),
        )

    def complete_multipart_digest(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> tuple[PutResult, Digest]:
        result = self.complete_multipart(key, upload_id, parts)
        front = self._fronts.pop(upload_id)
        taken = front.take(ordered_parts(parts)) if front is not None else None
        hasher, hashed = taken or (sha256(), 0)
        if hashed < result.size:
            # Only what the front did not see is read back.
            for chunk in closing_chunks(self.get(key, start=hashed)):
                hasher.update(chunk)
        return result, Digest.from_hex(hasher.hexdigest())

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._fronts.discard(upload_id)
        validate_key(key)
        with contextlib.suppress(UploadNotFoundError):
            self._retry(
                lambda: self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                ),
                key,
            )

    def check(self) -> None:
        try:
            self._head_bucket()
        except BlobNotFoundError:
            raise BlobStoreUnavailableError(
                f"the S3 bucket {self._bucket!r} does not exist"
            ) from None

    def _head_bucket(self) -> None:
        self._retry(lambda: self._client.head_bucket(Bucket=self._bucket), self._bucket)

    def close(self) -> None:
        self._fronts.close()
        self._senders.shutdown()
        self._client.close()

    # -- internals -------------------------------------------------------------------------

    def _retry(self, call: Callable[[], T], name: str) -> T:
        """Run one request under the retry policy; translate what S3 said into core errors."""
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_random_exponential(multiplier=self._backoff, max=self._backoff_max),
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        try:
            return retrying(call)
        except SangrahaError:
            raise
        except botocore.exceptions.ClientError as exc:
            raise self._translate(exc, name) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise BlobStoreUnavailableError(
                f"S3 at {self._client.meta.endpoint_url} is unreachable: {exc}"
            ) from exc

    def _translate(self, exc: botocore.exceptions.ClientError, name: str) -> Exception:
        code, status = _code(exc), _status(exc)
        message = exc.response.get("Error", {}).get("Message", "") or code
        if code == "InvalidRange" or status == 416:
            return _RangeNotSatisfiable(message)
        if code in _NOT_FOUND:
            return BlobNotFoundError(f"no blob under {name!r}")
        if code == "NoSuchUpload":
            return UploadNotFoundError(f"no multipart upload for {name!r}")
        if code in _PRECONDITION or status == 412:
            return BlobExistsError(f"a blob already exists under {name!r}")
        if code in _BAD_PART:
            return InvalidPartError(f"S3 refused the parts of {name!r}: {message}")
        if code == "InvalidRequest" and "checksum type mismatch" in message.lower():
            return _ChecksumTypeMismatch(message)
        if is_transient(exc):
            return BlobStoreUnavailableError(
                f"S3 is unavailable after {self._max_attempts} attempts: {code}: {message}"
            )
        return BlobStoreUnavailableError(f"S3 bucket {self._bucket!r} refused: {code}: {message}")

    def _stream_error(self, exc: Exception) -> Exception:
        if isinstance(exc, SangrahaError):
            return exc
        return BlobStoreUnavailableError(f"the S3 download broke off: {exc}")

    def _ensure_bucket(self) -> None:
        try:
            self._head_bucket()
            return
        except BlobNotFoundError:
            pass
        args: dict[str, Any] = {"Bucket": self._bucket}
        if self._region and self._region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        try:
            self._retry(lambda: self._client.create_bucket(**args), self._bucket)
        except BlobStoreUnavailableError as exc:
            # Another process created it between our HEAD and our CREATE.
            cause = exc.__cause__
            if not (
                isinstance(cause, botocore.exceptions.ClientError)
                and _code(cause) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
            ):
                raise
            self._head_bucket()

    def _put_object(
        self, key: str, body: bytes | IO[bytes], size: int, digest: Digest, *, create: bool
    ) -> PutResult:
        args: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "ContentLength": size,
            "ChecksumSHA256": digest.to_base64(),
        }
        if create:
            args["IfNoneMatch"] = "*"
        response = self._retry(lambda: self._client.put_object(Body=_rewound(body), **args), key)
        return PutResult(key=key, size=size, etag=response["ETag"].strip('"'))

    def _put_multipart(
        self,
        key: str,
        first: tuple[IO[bytes], Digest],
        rest: Iterator[tuple[IO[bytes], Digest]],
        *,
        create: bool,
    ) -> PutResult:
        try:
            if create and self.exists(key):
                raise BlobExistsError(f"a blob already exists under {key!r}")
            upload_id = self.create_multipart(key)
        except BaseException:
            first[0].close()
            raise
        try:
            # The next part is cut from the stream only when a sending slot is free: a put
            # holds ``part_concurrency`` spools, and the client's body waits on S3.
            parts = self._in_parallel(
                functools.partial(self._send_spool, key, upload_id, number, spool, digest)
                for number, (spool, digest) in enumerate(itertools.chain([first], rest), start=1)
            )
            return self._complete(key, upload_id, parts, create=create, checksums=True)
        except BaseException:
            self._abort_quietly(key, upload_id)
            raise

    def _create_multipart(self, key: str, *, checksum: bool) -> str:
        validate_key(key)
        extra: dict[str, Any] = {"ChecksumAlgorithm": _CHECKSUM} if checksum else {}
        response = self._retry(
            lambda: self._client.create_multipart_upload(Bucket=self._bucket, Key=key, **extra),
            key,
        )
        return response["UploadId"]

    def _declares_checksum(self, key: str, upload_id: str) -> bool:
        """Whether the multipart upload was created with our checksum algorithm."""
        response = self._retry(
            lambda: self._client.list_parts(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MaxParts=1
            ),
            key,
        )
        return response.get("ChecksumAlgorithm") == _CHECKSUM

    def _in_parallel(self, calls: Iterable[Callable[[], T]]) -> builtins.list[T]:
        """Run ``calls`` on the store's threads, ``part_concurrency`` at a time, taking the
        next from ``calls`` only once a slot is free; their results, in order. On a failure
        the calls already running finish before it is raised, so none outlives the upload
        it belongs to."""
        results: builtins.list[T] = []
        running: collections.deque[Future[T]] = collections.deque()
        pending = iter(calls)
        try:
            # A slot first, then the call: a spool is cut only when it can go out at once.
            while True:
                if len(running) >= self._part_concurrency:
                    results.append(running.popleft().result())
                call = next(pending, None)
                if call is None:
                    break
                running.append(self._senders.submit(call))
            while running:
                results.append(running.popleft().result())
            return results
        finally:
            wait(running)

    def _send_spool(
        self, key: str, upload_id: str, part_number: int, spool: IO[bytes], digest: Digest
    ) -> PartResult:
        with spool:
            return self._send_part(key, upload_id, part_number, spool, spool.tell(), digest)

    def _copy_part(
        self, source: str, key: str, upload_id: str, part_number: int, start: int, end: int
    ) -> PartResult:
        response = self._retry(
            lambda: self._client.upload_part_copy(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part_number,
                CopySource={"Bucket": self._bucket, "Key": source},
                CopySourceRange=f"bytes={start}-{end - 1}",
            ),
            source,
        )
        etag = response["CopyPartResult"]["ETag"].strip('"')
        return PartResult(part_number=part_number, size=end - start, etag=etag)

    def _send_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        body: bytes | IO[bytes],
        size: int,
        digest: Digest,
    ) -> PartResult:
        def send(checksum: bool) -> Any:
            extra: dict[str, Any] = {"ChecksumSHA256": digest.to_base64()} if checksum else {}
            return self._retry(
                lambda: self._client.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=part_number,
                    Body=_rewound(body),
                    ContentLength=size,
                    **extra,
                ),
                key,
            )

        try:
            response = send(checksum=True)
        except _ChecksumTypeMismatch:
            # An upload created before parts carried checksums (a session older than this
            # code): S3 takes its parts only without one.
            response = send(checksum=False)
        etag = response["ETag"].strip('"')
        return PartResult(part_number=part_number, size=size, etag=etag, digest=digest)

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        # The original error matters more; S3 lifecycle rules sweep what is left.
        with contextlib.suppress(SangrahaError):
            self.abort_multipart(key, upload_id)


class _SpoolBytes:
    """A sent part's spool, kept for the upload's front digest."""

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool

    def show(self, observe: Callable[[bytes], object]) -> int:
        self._spool.seek(0)
        shown = 0
        while chunk := self._spool.read(CHUNK_SIZE):
            observe(chunk)
            shown += len(chunk)
        return shown

    def close(self) -> None:
        self._spool.close()


class _ChecksumTypeMismatch(BlobStoreUnavailableError):
    """S3 refused a part's checksum: its multipart upload declared another algorithm, or
    none. Where nothing catches it, it is S3 refusing a request, as any other refusal."""


class _RangeNotSatisfiable(SangrahaError):
    """S3 answered 416; ``get`` turns it into an empty read or an ``InvalidRangeError``."""


def _parts(
    chunks: Iterable[bytes], part_size: int
) -> Generator[tuple[IO[bytes], Digest], None, None]:
    """Regroup ``chunks`` into spools of at least ``part_size`` bytes (the last may be less),
    each with its digest and positioned at its end; each spool is the caller's to close.

    A spool rather than joined bytes: botocore streams it to the socket, and beyond
    ``PART_SPOOL_MEMORY`` it lives on disk, so a streamed put holds about that much per
    part in flight.
    """
    stream = iter(chunks)
    while True:
        # Not a ``with``: a spool outlives this generator, until its part has been sent.
        spool = tempfile.SpooledTemporaryFile(max_size=PART_SPOOL_MEMORY)  # noqa: SIM115
        hasher = Hasher()
        try:
            for chunk in stream:
                spool.write(chunk)
                hasher.update(chunk)
                if spool.tell() >= part_size:
                    break
        except BaseException:
            spool.close()
            raise
        if not spool.tell():
            spool.close()
            return
        yield spool, hasher.digest()


def _listed(part: PartResult, *, checksum: bool) -> dict[str, Any]:
    """A part as ``CompleteMultipartUpload`` lists it."""
    listed: dict[str, Any] = {"PartNumber": part.part_number, "ETag": f'"{part.etag}"'}
    if checksum and part.digest is not None:
        listed["ChecksumSHA256"] = part.digest.to_base64()
    return listed


def _rewound(body: bytes | IO[bytes]) -> bytes | IO[bytes]:
    """``body`` ready to be sent from its start, also on a retry of the same request."""
    if not isinstance(body, bytes):
        body.seek(0)
    return body
