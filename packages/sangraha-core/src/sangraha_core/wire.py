"""The HTTP wire contract: every problem the services answer, the headers they share, and
how a user metadata value travels in a header.

The services build their problem answers from :class:`ProblemType` and the SDK builds its
answer-to-exception map from it, so the two cannot disagree about a status or a slug. It
needs no web framework: the SDK depends on the core without extras.

A problem answer is RFC 9457 ``application/problem+json`` whose ``type`` is
:data:`PROBLEM_BASE` plus the entry's slug; the slug is the stable part clients match.
"""

from __future__ import annotations

# Modules, not names, so that what this public module defines is all it exports.
import enum
import re
import urllib.parse

from . import _exceptions as exc

__all__ = [
    "CONTENT_DIGEST_HEADER",
    "IDEMPOTENCY_KEY_HEADER",
    "ID_HEADER",
    "META_HEADER_PREFIX",
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "SHA256_HEADER",
    "ProblemType",
    "decode_header_value",
    "encode_header_value",
]

PROBLEM_BASE = "https://sangraha.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# Header names in lower case, as ASGI carries them; HTTP compares them case-insensitively.
#: ``x-sangraha-meta-<name>: <value>``: one entry of user metadata, on uploads and reads.
META_HEADER_PREFIX = "x-sangraha-meta-"
#: The id of the version a content answer serves.
ID_HEADER = "x-sangraha-id"
#: RFC 9530 ``sha-256=:<base64>:``: the digest an upload declares for its body.
CONTENT_DIGEST_HEADER = "content-digest"
#: The same declaration as 64 hexadecimal digits, for clients that cannot write base64.
SHA256_HEADER = "x-sangraha-sha256"
#: One key for every try of one write, so a retried upload makes one object.
IDEMPOTENCY_KEY_HEADER = "idempotency-key"


class ProblemType(enum.Enum):
    """Every problem a service answers: its slug, status and title, the core error it
    answers, and the name of the exception class the SDK raises for it.

    Ordered most specific first, because the first entry whose ``error`` an exception is an
    instance of decides the answer. ``error`` is ``None`` where no core error stands behind
    the problem: the HTTP layer's own refusals, a server fault, and ``failed``, which the
    content routes answer on purpose (elsewhere that error is a kind of not-found).
    """

    slug: str
    status: int
    title: str
    error: type[exc.SangrahaError] | None
    client_error: str
    retry_after: bool

    PENDING = (
        "pending",
        409,
        "Object is still being processed",
        exc.ObjectPendingError,
        "PendingError",
        True,
    )
    UPLOAD_NOT_FOUND = (
        "upload-not-found",
        404,
        "Upload session not found",
        exc.UploadNotFoundError,
        "UploadNotFoundError",
        False,
    )
    ACCESS_KEY_NOT_FOUND = (
        "access-key-not-found",
        404,
        "Access key not found",
        exc.AccessKeyNotFoundError,
        "AccessKeyNotFoundError",
        False,
    )
    BUCKET_NOT_FOUND = (
        "no-such-bucket",
        404,
        "Bucket not found",
        exc.BucketNotFoundError,
        "BucketNotFoundError",
        False,
    )
    NOT_FOUND = ("not-found", 404, "Not found", exc.NotFoundError, "NotFoundError", False)
    BUCKET_EXISTS = (
        "bucket-exists",
        409,
        "Bucket already exists",
        exc.BucketAlreadyExistsError,
        "BucketAlreadyExistsError",
        False,
    )
    BUCKET_NOT_EMPTY = (
        "bucket-not-empty",
        409,
        "Bucket is not empty",
        exc.BucketNotEmptyError,
        "BucketNotEmptyError",
        False,
    )
    CONFLICT = ("conflict", 409, "Already exists", exc.BlobExistsError, "ConflictError", False)
    UPLOAD_STATE = (
        "upload-state",
        409,
        "Upload session cannot do that now",
        exc.UploadStateError,
        "UploadStateError",
        False,
    )
    INVALID_NAME = (
        "invalid-name",
        400,
        "Invalid bucket name or key",
        exc.InvalidNameError,
        "InvalidNameError",
        False,
    )
    INVALID_METADATA = (
        "invalid-metadata",
        400,
        "Invalid metadata",
        exc.InvalidMetadataError,
        "InvalidMetadataError",
        False,
    )
    INVALID_RANGE = (
        "invalid-range",
        416,
        "Range not satisfiable",
        exc.InvalidRangeError,
        "RangeNotSatisfiableError",
        False,
    )
    INVALID_PART = (
        "invalid-part",
        400,
        "Invalid part",
        exc.InvalidPartError,
        "InvalidPartError",
        False,
    )
    UNSUPPORTED_CONTENT_TYPE = (
        "unsupported-content-type",
        415,
        "Unsupported content type",
        exc.UnsupportedContentTypeError,
        "UnsupportedMediaTypeError",
        False,
    )
    CHECKSUM_MISMATCH = (
        "checksum-mismatch",
        400,
        "Checksum mismatch",
        exc.ChecksumMismatchError,
        "ChecksumMismatchError",
        False,
    )
    TOO_LARGE = (
        "too-large",
        413,
        "Object too large",
        exc.ObjectTooLargeError,
        "TooLargeError",
        False,
    )
    # 422, as the IETF Idempotency-Key draft asks of a key reused with another payload.
    IDEMPOTENCY_KEY_REUSED = (
        "idempotency-key-reused",
        422,
        "Idempotency-Key reused for a different request",
        exc.IdempotencyKeyReusedError,
        "IdempotencyKeyReusedError",
        False,
    )
    INVALID_REQUEST = (
        "invalid-request",
        400,
        "Invalid request",
        exc.InvalidRequestError,
        "BadRequestError",
        False,
    )
    # 422: the request was well formed, the bytes are not a valid object of their kind.
    INVALID_CONTENT = (
        "invalid-content",
        422,
        "Invalid content",
        exc.InvalidContentError,
        "InvalidContentError",
        False,
    )
    UNAVAILABLE = (
        "unavailable",
        503,
        "Service unavailable",
        exc.BackendUnavailableError,
        "ServiceUnavailableError",
        True,
    )
    FAILED = ("failed", 409, "Object processing failed", None, "ConflictError", False)
    UNAUTHORIZED = (
        "unauthorized",
        401,
        "Unauthorized",
        exc.UnauthenticatedError,
        "AuthenticationError",
        False,
    )
    ACCESS_DENIED = (
        "access-denied",
        403,
        "Access denied",
        exc.AccessDeniedError,
        "PermissionDeniedError",
        False,
    )
    RATE_LIMITED = (
        "rate-limited",
        429,
        "Too many requests",
        exc.RateLimitedError,
        "RateLimitError",
        True,
    )
    METHOD_NOT_ALLOWED = (
        "method-not-allowed",
        405,
        "Method not allowed",
        None,
        "APIStatusError",
        False,
    )
    LENGTH_REQUIRED = ("length-required", 411, "Length required", None, "APIStatusError", False)
    INTERNAL = ("internal", 500, "Internal server error", None, "InternalServerError", False)

    def __init__(
        self,
        slug: str,
        status: int,
        title: str,
        error: type[exc.SangrahaError] | None,
        client_error: str,
        retry_after: bool,
    ) -> None:
        self.slug = slug
        self.status = status
        self.title = title
        self.error = error
        #: The class of ``sangraha_client`` raised for this answer, by name: the SDK's
        #: classes are its own, and the core must not import them.
        self.client_error = client_error
        #: Whether the answer carries ``Retry-After`` (and the SDK tries again).
        self.retry_after = retry_after

    @property
    def type(self) -> str:
        """The problem's ``type`` URI."""
        return PROBLEM_BASE + self.slug

    @classmethod
    def of_error(cls, error: BaseException) -> ProblemType | None:
        """The entry answering ``error``: the first whose ``error`` it is an instance of."""
        for entry in cls:
            if entry.error is not None and isinstance(error, entry.error):
                return entry
        return None

    @classmethod
    def of_status(cls, status: int) -> ProblemType | None:
        """The entry the HTTP layer answers a bare status with (a route not found, a method
        not allowed, a framework refusal); ``None`` for a status with no entry of its own."""
        return _BY_STATUS.get(status)


_BY_STATUS: dict[int, ProblemType] = {
    400: ProblemType.INVALID_REQUEST,
    401: ProblemType.UNAUTHORIZED,
    403: ProblemType.ACCESS_DENIED,
    404: ProblemType.NOT_FOUND,
    405: ProblemType.METHOD_NOT_ALLOWED,
    411: ProblemType.LENGTH_REQUIRED,
    413: ProblemType.TOO_LARGE,
    415: ProblemType.UNSUPPORTED_CONTENT_TYPE,
    # The framework's own 422 is a malformed request, not invalid content.
    422: ProblemType.INVALID_REQUEST,
    500: ProblemType.INTERNAL,
}

# -- user metadata values in headers -----------------------------------------------------

# RFC 8187 attr-char beyond what ``quote`` always keeps (letters, digits, "_.-~").
_ATTR_SAFE = "!#$&+^`|"
# A user metadata value goes out as it is only when HTTP cannot alter or reject it.
_PLAIN_VALUE_RE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")
_EXT_VALUE_PREFIX = "UTF-8''"
# RFC 8187 value-chars: attr-char or a percent-encoded octet.
_EXT_VALUE_RE = re.compile(r"(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-Fa-f]{2})*")


def encode_header_value(value: str) -> str:
    """A user metadata value as a header value HTTP carries unchanged.

    Printable ASCII without edge whitespace goes as it is; anything else (non-ASCII,
    leading or trailing spaces, or text that looks encoded) goes in the RFC 8187 form
    ``UTF-8''<percent-encoded>``.
    """
    if _PLAIN_VALUE_RE.fullmatch(value) and not value.startswith(_EXT_VALUE_PREFIX):
        return value
    return _EXT_VALUE_PREFIX + urllib.parse.quote(value, safe=_ATTR_SAFE, errors="surrogatepass")


def decode_header_value(value: str) -> str:
    """The user metadata value a header carries: the inverse of :func:`encode_header_value`.

    A value in the ``UTF-8''<percent-encoded>`` form is decoded; any other value is taken
    as it is, so plain text sent by hand keeps working. Raise
    :class:`~sangraha_core.InvalidMetadataError` when the encoded form is malformed or not
    UTF-8, rather than store text the sender did not mean.
    """
    if not value.startswith(_EXT_VALUE_PREFIX):
        return value
    encoded = value[len(_EXT_VALUE_PREFIX) :]
    if not _EXT_VALUE_RE.fullmatch(encoded):
        raise exc.InvalidMetadataError(
            f"malformed UTF-8'' metadata value {value!r}: only attr-chars and %XX may follow"
        )
    try:
        return urllib.parse.unquote_to_bytes(encoded).decode("utf-8")
    except UnicodeDecodeError:
        raise exc.InvalidMetadataError(
            f"UTF-8'' metadata value {value!r} does not decode as UTF-8"
        ) from None
