"""A blob store on S3 or anything that speaks its API (Ceph RGW, MinIO, moto), through boto3."""

from __future__ import annotations

import builtins
import contextlib
import itertools
import os
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from .._constants import MAX_PART_SIZE, MAX_PARTS
from .._digest import Digest, DigestedStream
from .._exceptions import (
    BlobExistsError,
    BlobNotFoundError,
    BlobStoreUnavailableError,
    ConfigurationError,
    InvalidPartError,
    SangrahaError,
)
from .._names import validate_key
from ._front import Fronts
from ._protocol import BlobInfo, Data, PartResult, PutMode, PutResult, ordered_parts
from ._reader import ChunkStream, closing_chunks, resolve_range
from ._s3_multipart import CHECKSUM, Multipart
from ._s3_probe import Capabilities, probe
from ._s3_requests import (
    RangeNotSatisfiable,
    Requests,
    error_code,
    is_transient,
)
from ._s3_spool import (
    PART_SPOOL_MEMORY,
    Piece,
    SpoolBytes,
    cut_pieces,
    new_spool,
    rewound,
    spool_all,
    spool_stream,
)

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import DeleteObjectsOutputTypeDef, ObjectIdentifierTypeDef

__all__ = ["PART_SPOOL_MEMORY", "Capabilities", "S3BlobStore", "is_transient"]

#: Streams of unknown length are cut into parts of this size.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: Parts of one streamed put (or large copy) in flight at once: S3 answers each part after a
#: round trip, so one at a time leaves the link idle between parts.
DEFAULT_PART_CONCURRENCY = 4
#: Uploads whose front is hashed as parts arrive, at most, per store.
MAX_FRONTS = 64
#: Part bytes spooled to disk while they wait for the parts before them, at most, per
#: upload: enough for the few parts a client sends in parallel to land out of order. (Behind
#: a load balancer a replica may never see part 1; this bounds what it keeps meanwhile.)
FRONT_MAX_HELD = 64 * 1024 * 1024
#: copy_object takes at most 5 GiB; above that a copy goes part by part, still server-side.
DEFAULT_COPY_THRESHOLD = MAX_PART_SIZE
DEFAULT_COPY_PART_SIZE = 512 * 1024 * 1024

#: Keys one ``DeleteObjects`` request may name, at most (S3's own limit).
_DELETE_BATCH = 1000

_URL_PARAMS = frozenset({"endpoint", "region"})
# Parsing botocore's service models takes most of a second; every store shares one parse.
# Each store still gets a session of its own, so credentials are read when it opens.
_LOADER = botocore.loaders.create_loader()


class S3BlobStore:
    """Blobs as objects in one S3 bucket, created on open if missing.

    Every request goes through one retry policy (tenacity): connection errors, timeouts,
    throttling and 5xx answers are tried again up to ``max_attempts`` times with jittered
    exponential back-off, then raise ``BlobStoreUnavailableError``. botocore's own retries
    are off so the two never multiply.

    What the endpoint honours is learnt on first need, by a probe of a few requests on a
    scratch key (see :attr:`capabilities`), and the store follows it: bodies carry
    ``Content-MD5`` where the server verifies that and not their SHA-256, and
    ``mode="create"`` leans only on the conditional writes the server keeps.

    ``mode="create"`` sends ``If-None-Match: *`` on ``PutObject``. A streamed put longer
    than one part sends a ``HEAD`` first (to fail before uploading anything), then, where
    the server refuses a conditional ``CompleteMultipartUpload`` on an existing key (AWS,
    moto), sends its parts and completes with ``If-None-Match: *``; where the server ignores
    that header on completion (Ceph RGW), it spools the whole stream and sends it as one
    conditional ``PutObject`` (up to 5 GiB), since a completion there would silently replace
    a rival. Either way only one of two racing creates wins. A server that ignores
    ``If-None-Match`` on ``PutObject`` too cannot keep a create, which then raises
    ``ConfigurationError`` rather than overwrite.

    :param bucket: the bucket holding the blobs.
    :param endpoint_url: an S3-compatible endpoint (Ceph RGW, MinIO, moto); ``None`` for AWS.
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
        self._copy_threshold = copy_threshold
        self._copy_part_size = copy_part_size
        self._list_page_size = list_page_size
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max_pool_connections,
            retries={"total_max_attempts": 1, "mode": "standard"},
            s3={
                # RGW, MinIO and moto want path-style URLs; AWS picks its own style.
                **({"addressing_style": "path"} if endpoint_url else {}),
                # Every body we write carries its SHA-256 in a signed header (and its
                # Content-MD5 where the server checks only that): signing the body too
                # would hash every byte once more (botocore does so on any plain-HTTP
                # endpoint, and on HTTPS without a checksum).
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
        self._requests = Requests(
            self._client,
            bucket,
            max_attempts=max_attempts,
            backoff=backoff,
            backoff_max=backoff_max,
        )
        self._retry = self._requests.run
        self._multipart = Multipart(
            self._requests,
            part_concurrency=part_concurrency,
            max_threads=max_pool_connections,
            head_etag=lambda key: self.head(key).etag,
        )
        self._capabilities: Capabilities | None = None
        self._probing = threading.Lock()
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

    @property
    def capabilities(self) -> Capabilities:
        """What the endpoint honours: probed on first need (logged at INFO), then kept.
        A probe that cannot reach the endpoint raises, and the next need probes again."""
        if self._capabilities is None:
            with self._probing:
                if self._capabilities is None:
                    self._capabilities = probe(self._requests)
        return self._capabilities

    def put(self, key: str, data: Data, *, mode: PutMode = "overwrite") -> PutResult:
        validate_key(key)
        create = mode == "create"
        found = self.capabilities
        if create and not found.conditional_put:
            raise ConfigurationError(
                f"S3 at {self._client.meta.endpoint_url} ignores If-None-Match on PutObject: "
                "a create-only put cannot be kept there"
            )
        md5 = found.send_md5
        if isinstance(data, bytes | bytearray | memoryview):
            return self._put_object(key, Piece.of(bytes(data), md5=md5), create=create)
        stream = iter(data)
        pieces = cut_pieces(stream, self._part_size, md5=md5)
        try:
            first = next(pieces, None)
            if first is None:
                return self._put_object(key, Piece.of(b"", md5=md5), create=create)
            if first.size < self._part_size:
                # The whole stream fit in one part: a single PutObject.
                with contextlib.closing(first):
                    return self._put_object(key, first, create=create)
            if create and not found.conditional_complete:
                return self._put_whole(key, first, stream)
            return self._put_multipart(key, first, pieces, create=create)
        finally:
            pieces.close()

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
        except RangeNotSatisfiable:
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

    def delete_many(self, keys: Sequence[str]) -> None:
        # Once each: a batch may name a key twice (one job delivered twice), and a
        # DeleteObjects request need not accept that.
        keys = list(dict.fromkeys(keys))
        for key in keys:
            validate_key(key)
        for start in range(0, len(keys), _DELETE_BATCH):
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": key} for key in keys[start : start + _DELETE_BATCH]
            ]
            answer = self._retry(partial(self._delete_objects, batch), batch[0]["Key"])
            # Quiet: only the keys that could not be deleted are named.
            if errors := answer.get("Errors"):
                first = errors[0]
                raise BlobStoreUnavailableError(
                    f"could not delete {len(errors)} of {len(batch)} blobs, "
                    f"{first.get('Key')!r} first: {first.get('Code')} {first.get('Message')}"
                )

    def _delete_objects(self, batch: list[ObjectIdentifierTypeDef]) -> DeleteObjectsOutputTypeDef:
        return self._client.delete_objects(
            Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
        )

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
        self._multipart.copy(source, destination, size, self._copy_part_size)

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
        return self._multipart.create(key, checksum=True)

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Data) -> PartResult:
        if not 1 <= part_number <= MAX_PARTS:
            raise InvalidPartError(f"part numbers run from 1 to {MAX_PARTS}, got {part_number}")
        md5 = self.capabilities.send_md5
        if isinstance(data, bytes | bytearray | memoryview):
            whole = bytes(data)
            return self._multipart.send_part(key, upload_id, part_number, Piece.of(whole, md5=md5))
        # S3 needs the length and the checksum up front: spool the part, to disk once it
        # outgrows a small buffer, so parts received in parallel cost disk, not a part size
        # of memory each.
        # A DigestedStream (the receiver's) hashes the bytes as they pass: no second pass.
        stream = data if isinstance(data, DigestedStream) else DigestedStream(data)
        with contextlib.ExitStack() as owned:
            spool = owned.enter_context(new_spool())
            size, md5_sum = spool_stream(
                stream, spool, md5=md5, limit=MAX_PART_SIZE, too_large=_part_too_large
            )
            piece = Piece(spool, size, stream.digest(), md5_sum)
            result = self._multipart.send_part(key, upload_id, part_number, piece)
            # Sent: the spool goes on to the upload's front digest, which hashes it now or
            # once the parts before it have come, then closes it; ``complete`` reads less.
            owned.pop_all()
        self._fronts.of(upload_id).offer(part_number, result.etag, size, SpoolBytes(spool))
        return result

    def complete_multipart(
        self, key: str, upload_id: str, parts: builtins.list[PartResult], *, create: bool = False
    ) -> PutResult:
        """Assemble the parts; with ``create``, only if ``key`` does not exist yet (refused
        with ``ConfigurationError`` where the server ignores a conditional completion)."""
        validate_key(key)
        ordered = ordered_parts(parts)
        if create and not self.capabilities.conditional_complete:
            raise ConfigurationError(
                f"S3 at {self._client.meta.endpoint_url} ignores If-None-Match on "
                "CompleteMultipartUpload: a create-only completion cannot be kept there"
            )
        # A session opened before its parts carried checksums has an upload that declared
        # none, and S3 refuses part checksums for it: list them only where it did.
        checksums = self._multipart.declares_checksum(key, upload_id)
        try:
            return self._multipart.complete(
                key, upload_id, ordered, create=create, checksums=checksums
            )
        except InvalidPartError:
            if create:
                raise
            # Some servers (RGW) join every part they hold or none: a completion that
            # leaves parts out (S3's CompleteMultipartUpload may) is refused there.
            uploaded = self._multipart.uploaded_parts(key, upload_id)
            held = {part.part_number: part.etag for part in uploaded}
            named = {part.part_number: part.etag for part in ordered}
            if named.items() >= held.items() or not named.items() <= held.items():
                raise
            try:
                return self._multipart.complete_some(
                    key, upload_id, ordered, uploaded, checksums=checksums
                )
            except BaseException:
                # Never leave the join of every part where the object of some belongs.
                with contextlib.suppress(SangrahaError):
                    self.delete(key)
                raise

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
        self._multipart.abort(key, upload_id)

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
        self._multipart.close()
        self._client.close()

    # -- internals -------------------------------------------------------------------------

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
                and error_code(cause) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
            ):
                raise
            self._head_bucket()

    def _put_object(self, key: str, piece: Piece, *, create: bool) -> PutResult:
        args: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "ContentLength": piece.size,
            # Declared as well as sent, so a server that keeps checksums keeps this one.
            "ChecksumAlgorithm": CHECKSUM,
            "ChecksumSHA256": piece.digest.to_base64(),
        }
        if piece.md5 is not None:
            args["ContentMD5"] = piece.md5
        if create:
            args["IfNoneMatch"] = "*"
        response = self._retry(
            lambda: self._client.put_object(Body=rewound(piece.body), **args), key
        )
        return PutResult(key=key, size=piece.size, etag=response["ETag"].strip('"'))

    def _put_whole(self, key: str, first: Piece, rest: Iterator[bytes]) -> PutResult:
        """A create longer than one part, on a server that would let a completion replace
        a rival: the whole stream goes out as one conditional ``PutObject``."""
        with contextlib.closing(first):
            if self.exists(key):
                raise BlobExistsError(f"a blob already exists under {key!r}")
            too_large = ConfigurationError(
                f"S3 at {self._client.meta.endpoint_url} ignores If-None-Match on "
                f"CompleteMultipartUpload: a create-only put there is one PutObject, which "
                f"holds at most {MAX_PART_SIZE} bytes"
            )
            assert not isinstance(first.body, bytes)
            whole = spool_all(
                first.body,
                rest,
                md5=first.md5 is not None,
                limit=MAX_PART_SIZE,
                too_large=too_large,
            )
            return self._put_object(key, whole, create=True)

    def _put_multipart(
        self, key: str, first: Piece, rest: Iterator[Piece], *, create: bool
    ) -> PutResult:
        try:
            if create and self.exists(key):
                raise BlobExistsError(f"a blob already exists under {key!r}")
            upload_id = self.create_multipart(key)
        except BaseException:
            first.close()
            raise
        try:
            parts = self._multipart.send_all(key, upload_id, itertools.chain([first], rest))
            return self._multipart.complete(key, upload_id, parts, create=create, checksums=True)
        except BaseException:
            self._multipart.abort_quietly(key, upload_id)
            raise


def _part_too_large() -> InvalidPartError:
    return InvalidPartError(f"a part may hold at most {MAX_PART_SIZE} bytes")
