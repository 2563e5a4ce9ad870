"""Every error Sangraha's core raises.

Storage errors also subclass the matching built-in, so ``except FileNotFoundError`` works
as a caller would expect. The services map each class to exactly one HTTP status.

    SangrahaError
    ├── NotFoundError (LookupError)
    │   ├── BlobNotFoundError (FileNotFoundError)
    │   ├── ObjectNotFoundError
    │   ├── UploadNotFoundError
    │   ├── AccessKeyNotFoundError
    │   └── BucketNotFoundError
    ├── BlobExistsError (FileExistsError)
    ├── BucketAlreadyExistsError
    ├── BucketNotEmptyError
    ├── ObjectPendingError
    ├── UploadStateError
    ├── InvalidRequestError (ValueError)
    │   ├── InvalidNameError
    │   ├── InvalidMetadataError
    │   ├── InvalidRangeError
    │   ├── InvalidPartError
    │   │   ├── InvalidPartOrderError
    │   │   └── PartTooSmallError
    │   ├── UnsupportedContentTypeError
    │   ├── ChecksumMismatchError
    │   ├── ObjectTooLargeError
    │   └── IdempotencyKeyReusedError
    ├── InvalidContentError (ValueError)
    ├── UnauthenticatedError
    ├── AccessDeniedError (PermissionError)
    ├── RateLimitedError
    ├── BackendUnavailableError (ConnectionError)
    │   ├── BlobStoreUnavailableError
    │   ├── MetadataUnavailableError
    │   └── QueueUnavailableError
    ├── SerializationError / DeserializationError
    ├── MessageStateError
    ├── ConfigurationError
    │   └── MasterKeyError
    └── MissingExtraError (ImportError)
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AccessKeyNotFoundError",
    "BackendUnavailableError",
    "BlobExistsError",
    "BlobNotFoundError",
    "BlobStoreUnavailableError",
    "BucketAlreadyExistsError",
    "BucketNotEmptyError",
    "BucketNotFoundError",
    "ChecksumMismatchError",
    "ConfigurationError",
    "DeserializationError",
    "IdempotencyKeyReusedError",
    "InvalidContentError",
    "InvalidMetadataError",
    "InvalidNameError",
    "InvalidPartError",
    "InvalidPartOrderError",
    "InvalidRangeError",
    "InvalidRequestError",
    "MasterKeyError",
    "MessageStateError",
    "MetadataUnavailableError",
    "MissingExtraError",
    "NotFoundError",
    "ObjectNotFoundError",
    "ObjectPendingError",
    "ObjectTooLargeError",
    "PartTooSmallError",
    "QueueUnavailableError",
    "RateLimitedError",
    "SangrahaError",
    "SerializationError",
    "UnauthenticatedError",
    "UnsupportedContentTypeError",
    "UploadNotFoundError",
    "UploadStateError",
]


class SangrahaError(Exception):
    """Base of every error raised by Sangraha."""


class NotFoundError(SangrahaError, LookupError):
    """Something named by the caller does not exist."""


class BlobNotFoundError(NotFoundError, FileNotFoundError):
    """No blob is stored under that key."""


class ObjectNotFoundError(NotFoundError):
    """No object (or no such version) in that bucket under that key or id."""


class UploadNotFoundError(NotFoundError):
    """No open upload session with that id (never opened, completed, aborted or expired)."""


class AccessKeyNotFoundError(NotFoundError):
    """No access key has that id."""


class BucketNotFoundError(NotFoundError):
    """No bucket has that name."""


class BlobExistsError(SangrahaError, FileExistsError):
    """A create-only put found a blob already stored under that key."""


class BucketAlreadyExistsError(SangrahaError):
    """A bucket of that name exists already."""


class BucketNotEmptyError(SangrahaError):
    """The bucket still holds an object version or an open upload session."""


class ObjectPendingError(SangrahaError):
    """The object exists but is still being processed; try again shortly."""


class UploadStateError(SangrahaError):
    """The upload session cannot do that now (e.g. complete with a part missing)."""


class InvalidRequestError(SangrahaError, ValueError):
    """The caller sent something Sangraha will not accept; the message says what."""


class InvalidNameError(InvalidRequestError):
    """A bucket name or object key breaks the naming rules."""


class InvalidMetadataError(InvalidRequestError):
    """User metadata has too many entries, is too large, or has a bad name or value."""


class InvalidRangeError(InvalidRequestError):
    """A byte range lies outside the object."""

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


class InvalidPartError(InvalidRequestError):
    """A part number or size lies outside the advertised bounds, or a part named to complete
    an upload was not uploaded (or not with that ETag)."""


class InvalidPartOrderError(InvalidPartError):
    """The parts named to complete an upload are not in strictly ascending order."""


class PartTooSmallError(InvalidPartError):
    """A part other than the last is smaller than the session's minimum part size."""


class UnsupportedContentTypeError(InvalidRequestError):
    """The declared Content-Type names no kind Sangraha stores."""


class ChecksumMismatchError(InvalidRequestError):
    """The bytes received do not match the digest the client declared."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class ObjectTooLargeError(InvalidRequestError):
    """The body is larger than the configured limit."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class IdempotencyKeyReusedError(InvalidRequestError):
    """An ``Idempotency-Key`` already made an object from a different request: another
    target or content type, or a body with another digest. Nothing of this one is kept."""


class InvalidContentError(SangrahaError, ValueError):
    """The bytes are not a valid object of the declared kind; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnauthenticatedError(SangrahaError):
    """A request carried no credentials, or credentials that prove nothing: an unknown,
    expired or revoked key, a wrong secret, a bad or expired signature.

    :param code: S3's error code for the reason (``InvalidAccessKeyId``,
        ``SignatureDoesNotMatch``, …), for the S3 gateway; ``None`` when S3 has none.
    """

    def __init__(self, *args: object, code: str | None = None) -> None:
        super().__init__(*args)
        self.code = code


class AccessDeniedError(SangrahaError, PermissionError):
    """The request's key is genuine but holds no grant for what it asked."""


class RateLimitedError(SangrahaError):
    """Too many requests for one key, or too many failed sign-ins from one address.

    :param retry_after: seconds until a request may succeed again.
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendUnavailableError(SangrahaError, ConnectionError):
    """A backend (blob store, database, broker) cannot be reached; retry later."""


class BlobStoreUnavailableError(BackendUnavailableError):
    """The blob store cannot be reached."""


class MetadataUnavailableError(BackendUnavailableError):
    """The metadata database cannot be reached."""


class QueueUnavailableError(BackendUnavailableError):
    """The broker cannot be reached or did not confirm a message."""


class SerializationError(SangrahaError):
    """A message could not be turned into bytes."""


class DeserializationError(SangrahaError):
    """Bytes from the broker are not a message this version understands."""


class MessageStateError(SangrahaError):
    """A delivery was acknowledged, retried or dead-lettered twice."""


class ConfigurationError(SangrahaError):
    """A setting is missing or malformed."""


class MasterKeyError(ConfigurationError):
    """The master key that seals access key secrets is missing, malformed, or not the one
    the stored secrets were sealed under."""


class MissingExtraError(SangrahaError, ImportError):
    """A backend needs an optional dependency that is not installed."""

    def __init__(self, scheme: str, extra: str) -> None:
        super().__init__(
            f"the {scheme!r} backend needs an optional dependency: "
            f'pip install "sangraha-core[{extra}]"'
        )
        self.extra = extra
