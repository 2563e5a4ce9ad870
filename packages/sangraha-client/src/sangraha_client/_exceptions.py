"""Every error the Sangraha client raises.

An answer with an error status becomes an :class:`APIStatusError` subclass picked by the
status, then refined by the last path segment of the problem ``type`` (its *slug*); which
class each status and slug the service sends stands for is
:class:`sangraha_core.wire.ProblemType`'s ``client_error``::

    SangrahaError
    ├── APIError
    │   ├── APIStatusError (status_code, response, type, title, detail)
    │   │   ├── BadRequestError                400
    │   │   │   ├── ChecksumMismatchError      checksum-mismatch
    │   │   │   ├── InvalidNameError           invalid-name
    │   │   │   ├── InvalidMetadataError       invalid-metadata
    │   │   │   └── InvalidPartError           invalid-part
    │   │   ├── AuthenticationError            401
    │   │   ├── NotFoundError                  404
    │   │   │   ├── UploadNotFoundError        upload-not-found
    │   │   │   └── BucketNotFoundError        no-such-bucket
    │   │   ├── ConflictError                  409
    │   │   │   ├── PendingError               pending
    │   │   │   ├── UploadStateError           upload-state
    │   │   │   ├── BucketAlreadyExistsError   bucket-exists
    │   │   │   └── BucketNotEmptyError        bucket-not-empty
    │   │   ├── TooLargeError                  413
    │   │   ├── UnsupportedMediaTypeError      415
    │   │   ├── RangeNotSatisfiableError       416
    │   │   ├── UnprocessableEntityError       422
    │   │   │   ├── IdempotencyKeyReusedError  idempotency-key-reused
    │   │   │   └── InvalidContentError        invalid-content
    │   │   ├── RateLimitError                 429
    │   │   └── InternalServerError            5xx
    │   │       └── ServiceUnavailableError    503
    │   └── APIConnectionError
    │       └── APITimeoutError
    ├── ProcessingFailedError   the worker rejected the object
    ├── WaitTimeoutError        (TimeoutError) still pending when the wait ran out
    └── DigestMismatchError     downloaded bytes do not hash to the advertised digest
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import httpx

from sangraha_core import is_secret_parameter

if TYPE_CHECKING:
    from sangraha_core import ObjectRecord, Problem

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AccessKeyNotFoundError",
    "AuthenticationError",
    "BadRequestError",
    "BucketAlreadyExistsError",
    "BucketNotEmptyError",
    "BucketNotFoundError",
    "ChecksumMismatchError",
    "ConflictError",
    "DigestMismatchError",
    "IdempotencyKeyReusedError",
    "InternalServerError",
    "InvalidContentError",
    "InvalidMetadataError",
    "InvalidNameError",
    "InvalidPartError",
    "NotFoundError",
    "PendingError",
    "PermissionDeniedError",
    "ProcessingFailedError",
    "RangeNotSatisfiableError",
    "RateLimitError",
    "SangrahaError",
    "ServiceUnavailableError",
    "TooLargeError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "UploadNotFoundError",
    "UploadStateError",
    "WaitTimeoutError",
    "redact_url",
]


class SangrahaError(Exception):
    """Base of every error the client raises."""


class APIError(SangrahaError):
    """The exchange with the service went wrong; ``request`` is what was sent."""

    request: httpx.Request

    def __init__(self, message: str, *, request: httpx.Request) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIStatusError(APIError):
    """The service answered with an error status and (usually) a problem+json body."""

    #: The problem ``type`` slug a subclass stands for; ``None`` for the status classes.
    slug_name: ClassVar[str | None] = None

    status_code: int
    response: httpx.Response
    type: str
    title: str
    detail: str | None
    problem: Problem | None

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        problem: Problem | None,
    ) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.problem = problem
        self.type = problem.type if problem is not None else "about:blank"
        self.title = problem.title if problem is not None else response.reason_phrase
        self.detail = problem.detail if problem is not None else None

    @property
    def slug(self) -> str:
        """The stable last path segment of ``type``, such as ``not-found``."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]

    @property
    def retry_after(self) -> float | None:
        """What ``Retry-After`` asked for, in seconds, when it is a plain number."""
        value = self.response.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class BadRequestError(APIStatusError):
    status_code: Literal[400]


class ChecksumMismatchError(BadRequestError):
    """The bytes the service received do not match the ``Content-Digest`` sent."""

    slug_name = "checksum-mismatch"


class InvalidNameError(BadRequestError):
    slug_name = "invalid-name"


class InvalidMetadataError(BadRequestError):
    slug_name = "invalid-metadata"


class InvalidPartError(BadRequestError):
    slug_name = "invalid-part"


class AuthenticationError(APIStatusError):
    status_code: Literal[401]


class PermissionDeniedError(APIStatusError):
    """The key is genuine but holds no grant for what was asked; the detail names it."""

    status_code: Literal[403]


class NotFoundError(APIStatusError):
    status_code: Literal[404]


class AccessKeyNotFoundError(NotFoundError):
    slug_name = "access-key-not-found"


class UploadNotFoundError(NotFoundError):
    """The upload session was never opened, or is completed, aborted or expired."""

    slug_name = "upload-not-found"


class BucketNotFoundError(NotFoundError):
    """No bucket has that name."""

    slug_name = "no-such-bucket"


class ConflictError(APIStatusError):
    status_code: Literal[409]


class PendingError(ConflictError):
    """The object exists but is still being processed; ``retry_after`` says when to ask."""

    slug_name = "pending"


class UploadStateError(ConflictError):
    slug_name = "upload-state"


class BucketAlreadyExistsError(ConflictError):
    """A bucket of that name exists already."""

    slug_name = "bucket-exists"


class BucketNotEmptyError(ConflictError):
    """The bucket still holds objects or an upload in progress."""

    slug_name = "bucket-not-empty"


class TooLargeError(APIStatusError):
    status_code: Literal[413]


class UnsupportedMediaTypeError(APIStatusError):
    status_code: Literal[415]


class RangeNotSatisfiableError(APIStatusError):
    status_code: Literal[416]


class UnprocessableEntityError(APIStatusError):
    status_code: Literal[422]


class IdempotencyKeyReusedError(UnprocessableEntityError):
    """The ``Idempotency-Key`` sent already made an object from a different request (another
    key, content type or body); the service kept nothing of this one. Send it with a new key."""

    slug_name = "idempotency-key-reused"


class InvalidContentError(UnprocessableEntityError):
    """The bytes are not a valid object of the kind their ``Content-Type`` names."""

    slug_name = "invalid-content"


class RateLimitError(APIStatusError):
    status_code: Literal[429]


class InternalServerError(APIStatusError):
    pass


class ServiceUnavailableError(InternalServerError):
    status_code: Literal[503]


_REDACTED = "REDACTED"


def _secret_values(url: httpx.URL) -> list[str]:
    return [
        value for name, value in url.params.multi_items() if value and is_secret_parameter(name)
    ]


def redact_url(url: httpx.URL) -> str:
    """``url`` fit to print: no user or password, and no value of a secret query parameter."""
    params = [
        (name, _REDACTED if is_secret_parameter(name) else value)
        for name, value in url.params.multi_items()
    ]
    return str(url.copy_with(userinfo=b"", params=params, fragment=None))


class APIConnectionError(APIError):
    """No answer: the connection failed or broke before a response arrived.

    The message names the method and the URL, with no credentials in it: the user and
    password of the URL and the values of secret query parameters are left out.
    """

    _what: ClassVar[str] = "Connection error"

    def __init__(
        self,
        *,
        request: httpx.Request,
        message: str | None = None,
        reason: str | None = None,
    ) -> None:
        if message is None:
            message = f"{self._what}: {request.method} {redact_url(request.url)}"
            if reason:
                for secret in _secret_values(request.url):
                    reason = reason.replace(secret, _REDACTED)
                message += f" ({reason})"
        super().__init__(message, request=request)
        #: What the transport said went wrong, when it said anything.
        self.reason = reason


class APITimeoutError(APIConnectionError):
    _what = "Request timed out"


class ProcessingFailedError(SangrahaError):
    """The object was stored but processing rejected it; ``reason`` (``record.error``) says why.

    Raised by :meth:`~sangraha_client.Client.wait_until_ready`, and by an upload or a
    session's ``complete`` given ``wait`` when the version failed within it.
    """

    def __init__(self, record: ObjectRecord) -> None:
        self.reason = record.error or "no reason given"
        super().__init__(f"processing of {record.bucket}/{record.key} failed: {self.reason}")
        self.record = record


class WaitTimeoutError(SangrahaError, TimeoutError):
    """The object was still pending when the wait ran out; ``record`` is its last state."""

    def __init__(self, record: ObjectRecord, timeout: float) -> None:
        super().__init__(f"{record.bucket}/{record.key} still pending after {timeout:g}s")
        self.record = record
        self.timeout = timeout


class DigestMismatchError(SangrahaError):
    """Downloaded bytes hash to something other than the digest the service announced."""

    def __init__(self, *, expected: str, actual: str) -> None:
        super().__init__(f"downloaded bytes hash to {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual
