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
    │   │   │   └── UploadNotFoundError        upload-not-found
    │   │   ├── ConflictError                  409
    │   │   │   ├── PendingError               pending
    │   │   │   └── UploadStateError           upload-state
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


class ConflictError(APIStatusError):
    status_code: Literal[409]


class PendingError(ConflictError):
    """The object exists but is still being processed; ``retry_after`` says when to ask."""

    slug_name = "pending"


class UploadStateError(ConflictError):
    slug_name = "upload-state"


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


class APIConnectionError(APIError):
    """No answer: the connection failed or broke before a response arrived."""

    def __init__(self, *, request: httpx.Request, message: str = "Connection error.") -> None:
        super().__init__(message, request=request)


class APITimeoutError(APIConnectionError):
    def __init__(self, *, request: httpx.Request) -> None:
        super().__init__(request=request, message="Request timed out.")


class ProcessingFailedError(SangrahaError):
    """The object was stored but processing rejected it; ``record.error`` says why."""

    def __init__(self, record: ObjectRecord) -> None:
        reason = record.error or "no reason given"
        super().__init__(f"processing of {record.bucket}/{record.key} failed: {reason}")
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
