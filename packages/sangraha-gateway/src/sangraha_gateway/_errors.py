"""The one catalogue of S3 errors the gateway answers, and the core errors each one stands for.

Every refusal is an :class:`S3Error`: S3's code, its HTTP status and a message that says
what is wrong in this request. Core errors are translated in :func:`s3_error_of`, so an
operation raises whatever the core raises and the app answers it in S3's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from starlette.responses import Response

from sangraha_core import (
    AccessDeniedError,
    BackendUnavailableError,
    BucketAlreadyExistsError,
    BucketNotEmptyError,
    BucketNotFoundError,
    ChecksumMismatchError,
    IdempotencyKeyReusedError,
    InvalidContentError,
    InvalidMetadataError,
    InvalidNameError,
    InvalidPartError,
    InvalidPartOrderError,
    InvalidRangeError,
    InvalidRequestError,
    NotFoundError,
    ObjectNotFoundError,
    ObjectPendingError,
    ObjectTooLargeError,
    PartTooSmallError,
    RateLimitedError,
    SangrahaError,
    UnauthenticatedError,
    UnsupportedContentTypeError,
    UploadNotFoundError,
    UploadStateError,
)
from sangraha_core.access import SignatureError

__all__ = ["RETRY_AFTER", "S3Error", "error_response", "s3_error_of"]

#: Seconds a client is asked to wait after a 503 when the cause names no time of its own.
RETRY_AFTER = 1

#: S3's status for each code the gateway answers with.
_STATUS: dict[str, int] = {
    "AccessDenied": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "BadDigest": 400,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "IncompleteBody": 400,
    "InternalError": 500,
    "InvalidAccessKeyId": 403,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidContent": 400,
    "InvalidDigest": 400,
    "InvalidLocationConstraint": 400,
    "InvalidPart": 400,
    "InvalidPartNumber": 416,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "InvalidToken": 400,
    "InvalidURI": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MetadataTooLarge": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "NoSuchBucket": 404,
    "NoSuchBucketPolicy": 404,
    "NoSuchCORSConfiguration": 404,
    "NoSuchKey": 404,
    "NoSuchLifecycleConfiguration": 404,
    "NoSuchTagSet": 404,
    "NoSuchUpload": 404,
    "NoSuchWebsiteConfiguration": 404,
    "NotImplemented": 501,
    "PreconditionFailed": 412,
    "RequestTimeTooSkewed": 403,
    "ServerSideEncryptionConfigurationNotFoundError": 404,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "SlowDown": 503,
    "UnsupportedMediaType": 415,
    "XAmzContentSHA256Mismatch": 400,
}


@dataclass
class S3Error(Exception):
    """An S3 error answer: ``code`` is S3's, ``message`` says what is wrong here.

    :param resource: the bucket or key the error concerns (S3's ``<Resource>``).
    :param retry_after: seconds, sent as ``Retry-After`` (503s).
    """

    code: str
    message: str
    resource: str | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.code not in _STATUS:
            raise ValueError(f"{self.code!r} is not in the gateway's error catalogue")
        super().__init__(f"{self.code}: {self.message}")

    @property
    def status(self) -> int:
        return _STATUS[self.code]


def s3_error_of(error: Exception) -> S3Error:
    """The S3 answer for an error the core (or the signature check) raised."""
    if isinstance(error, S3Error):
        return error
    if isinstance(error, SignatureError):
        return S3Error(error.code, str(error))
    message = str(error)
    code = _code_of(error)
    retry_after = None
    if code in ("ServiceUnavailable", "SlowDown"):
        retry_after = getattr(error, "retry_after", None) or RETRY_AFTER
    return S3Error(code, message, retry_after=retry_after)


def _code_of(error: Exception) -> str:
    match error:
        case UnauthenticatedError():
            return getattr(error, "code", None) or "AccessDenied"
        case AccessDeniedError():
            return "AccessDenied"
        case RateLimitedError():
            return "SlowDown"
        case BucketNotFoundError():
            return "NoSuchBucket"
        case BucketAlreadyExistsError():
            # One owner holds every bucket of a Sangraha installation.
            return "BucketAlreadyOwnedByYou"
        case BucketNotEmptyError():
            return "BucketNotEmpty"
        case ObjectNotFoundError() | ObjectPendingError():
            return "NoSuchKey"
        case UploadNotFoundError():
            return "NoSuchUpload"
        case NotFoundError():
            return "NoSuchKey"
        case ChecksumMismatchError():
            return "BadDigest"
        case ObjectTooLargeError():
            return "EntityTooLarge"
        case InvalidRangeError():
            return "InvalidRange"
        case PartTooSmallError():
            return "EntityTooSmall"
        case InvalidPartOrderError():
            return "InvalidPartOrder"
        case InvalidPartError():
            return "InvalidPart"
        case InvalidMetadataError():
            return "MetadataTooLarge" if "bytes" in str(error) else "InvalidArgument"
        case InvalidNameError():
            return "InvalidArgument"
        case UnsupportedContentTypeError():
            return "UnsupportedMediaType"
        case IdempotencyKeyReusedError() | InvalidRequestError() | UploadStateError():
            return "InvalidRequest"
        case InvalidContentError():
            return "InvalidContent"
        case BackendUnavailableError():
            return "ServiceUnavailable"
        case SangrahaError():
            return "InternalError"
    return "InternalError"


def error_response(error: S3Error, *, request_id: str, head: bool = False) -> Response:
    """S3's ``<Error>`` document (no body for a HEAD, which cannot carry one)."""
    headers = {"x-amz-request-id": request_id}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if head:
        return Response(status_code=error.status, headers=headers)
    resource = f"<Resource>{_text(error.resource)}</Resource>" if error.resource else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{error.code}</Code><Message>{_text(error.message)}</Message>"
        f"{resource}<RequestId>{request_id}</RequestId></Error>"
    )
    return Response(body, status_code=error.status, media_type="application/xml", headers=headers)


#: What XML 1.0 cannot carry, even as a character reference.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """``value`` escaped for XML; a character XML cannot carry (a path may hold ``%08``)
    is written as ``\\uXXXX``, so the document stays one every client can parse."""
    return _NOT_XML.sub(lambda found: f"\\u{ord(found.group()):04x}", escape(value))
