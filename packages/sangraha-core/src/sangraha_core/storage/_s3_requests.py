"""Every request of the S3 store: one retry policy, and S3's answers as core errors.

S3-compatible servers do not all answer alike. Two that matter here, both from Ceph RGW:
a multipart upload that is gone (aborted, completed, never made) answers ``ListParts`` with
404 ``NoSuchKey`` rather than ``NoSuchUpload``, and ``CompleteMultipartUpload`` with 500
``InternalError`` ("This multipart completion is already in progress": RGW could not lock
the upload's record because there is none). moto answers a part or a completion of a gone
upload with a bare 500. A 500 is otherwise worth retrying, so before a request on an upload
is tried again after one, ``ListParts`` asks whether the upload is still there; if not, the
answer is ``UploadNotFoundError`` at once, not five attempts and ``BlobStoreUnavailableError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import botocore.exceptions
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from .._exceptions import (
    BlobExistsError,
    BlobNotFoundError,
    BlobStoreUnavailableError,
    InvalidPartError,
    SangrahaError,
    UploadNotFoundError,
)

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = [
    "ChecksumTypeMismatch",
    "RangeNotSatisfiable",
    "Requests",
    "error_code",
    "error_status",
    "is_transient",
]

T = TypeVar("T")

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_UPLOAD_GONE = frozenset({"NoSuchUpload", "NoSuchKey"})
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
# The server refused a body whose bytes did not match its Content-MD5 or checksum: they
# changed on the way. Every body goes out again from its start (bytes, or a rewound
# spool), so another attempt sends the bytes that were hashed.
_CORRUPTED_CODES = frozenset({"BadDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"})


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_status(exc: botocore.exceptions.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _message(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "") or error_code(exc))


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed: connection trouble, throttling, a 5xx, a body
    that arrived with other bytes than it left with."""
    if isinstance(
        exc,
        botocore.exceptions.ConnectionError
        | botocore.exceptions.HTTPClientError
        | botocore.exceptions.IncompleteReadError,
    ):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        code = error_code(exc)
        return (
            code in _TRANSIENT_CODES
            or code in _CORRUPTED_CODES
            or error_status(exc) in (500, 502, 503, 504)
        )
    return False


class ChecksumTypeMismatch(BlobStoreUnavailableError):
    """S3 refused a part's checksum: its multipart upload declared another algorithm, or
    none. Where nothing catches it, it is S3 refusing a request, as any other refusal."""


class RangeNotSatisfiable(SangrahaError):
    """S3 answered 416; ``get`` turns it into an empty read or an ``InvalidRangeError``."""


class Requests:
    """Runs requests against one bucket under the retry policy, translating failures.

    :param client: the boto3 client, its own retries off.
    :param bucket: the bucket every request names.
    :param max_attempts: attempts per request before giving up.
    :param backoff: the first back-off, in seconds; it doubles, with jitter, per attempt.
    :param backoff_max: the longest back-off, in seconds.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        max_attempts: int,
        backoff: float,
        backoff_max: float,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.max_attempts = max_attempts
        self._backoff = backoff
        self._backoff_max = backoff_max

    def run(self, call: Callable[[], T], name: str, *, upload: tuple[str, str] | None = None) -> T:
        """Run one request under the retry policy; translate what S3 said into core errors.

        ``upload`` (key, upload id) names the multipart upload the request works on: a
        missing key then means the upload is gone, and a 5xx is retried only while
        ``ListParts`` still finds the upload.
        """
        attempt = call if upload is None else self._on_upload(call, *upload)
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_random_exponential(multiplier=self._backoff, max=self._backoff_max),
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except SangrahaError:
            raise
        except botocore.exceptions.ClientError as exc:
            raise self.translate(exc, name, upload=upload) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise BlobStoreUnavailableError(
                f"S3 at {self.client.meta.endpoint_url} is unreachable: {exc}"
            ) from exc

    def upload_gone(self, key: str, upload_id: str) -> bool:
        """Whether S3 says the multipart upload no longer exists (one attempt: a failure
        to ask is no answer, and the request that raised the question is retried)."""
        try:
            self.client.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=1)
        except botocore.exceptions.ClientError as exc:
            return error_code(exc) in _UPLOAD_GONE
        except botocore.exceptions.BotoCoreError:
            return False
        return False

    def _on_upload(self, call: Callable[[], T], key: str, upload_id: str) -> Callable[[], T]:
        def attempt() -> T:
            try:
                return call()
            except botocore.exceptions.ClientError as exc:
                if error_status(exc) >= 500 and self.upload_gone(key, upload_id):
                    raise UploadNotFoundError(f"no multipart upload for {key!r}") from exc
                raise

        return attempt

    def translate(
        self,
        exc: botocore.exceptions.ClientError,
        name: str,
        *,
        upload: tuple[str, str] | None = None,
    ) -> Exception:
        code, status = error_code(exc), error_status(exc)
        message = _message(exc)
        if code == "InvalidRange" or status == 416:
            return RangeNotSatisfiable(message)
        if code == "NoSuchUpload" or (upload is not None and code in _UPLOAD_GONE):
            return UploadNotFoundError(f"no multipart upload for {name!r}")
        if code in _NOT_FOUND:
            return BlobNotFoundError(f"no blob under {name!r}")
        if code in _PRECONDITION or status == 412:
            return BlobExistsError(f"a blob already exists under {name!r}")
        if code in _BAD_PART:
            return InvalidPartError(f"S3 refused the parts of {name!r}: {message}")
        if code == "InvalidRequest" and "checksum type mismatch" in message.lower():
            return ChecksumTypeMismatch(message)
        if code in _CORRUPTED_CODES:
            return BlobStoreUnavailableError(
                f"S3 refused the bytes of {name!r} {self.max_attempts} times: they did not "
                f"arrive as they were sent ({code})"
            )
        if is_transient(exc):
            return BlobStoreUnavailableError(
                f"S3 is unavailable after {self.max_attempts} attempts: {code}: {message}"
            )
        return BlobStoreUnavailableError(f"S3 bucket {self.bucket!r} refused: {code}: {message}")
