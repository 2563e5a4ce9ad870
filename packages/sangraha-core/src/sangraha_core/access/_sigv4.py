"""AWS Signature Version 4: reading a request's credentials and checking its signature.

Both forms AWS SDKs send are taken: the ``Authorization: AWS4-HMAC-SHA256 …`` header and
the presigned query (``X-Amz-Signature=…``). Signing, for the SDK and the tests, is in
:mod:`._sigv4_sign`. The body is not read here: a signed body hash is handed back
(:attr:`SigV4Credentials.payload_sha256`) for the caller to check as the body streams in.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from ._sigv4_canonical import (
    ALGORITHM,
    EMPTY_SHA256,
    SCOPE_TERMINATOR,
    UNSIGNED_PAYLOAD,
    SignedRequest,
    canonical_path,
    canonical_query,
    canonical_request,
    signature_of,
    string_to_sign,
)
from ._sigv4_errors import (
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidArgument,
    InvalidToken,
    RequestExpired,
    RequestNotYetValid,
    RequestTimeTooSkewed,
    SignatureAccessDenied,
    SignatureDoesNotMatch,
    SignatureError,
)

# The request and the error base are named here too: they are what a caller of verify needs.
__all__ = [
    "MAX_EXPIRES",
    "SigV4Credentials",
    "SignatureError",
    "SignedRequest",
    "parse_authorization",
    "verify",
]

#: The longest a presigned URL may be valid, in seconds: AWS's week.
MAX_EXPIRES = 604_800

_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_TIMESTAMP_SHAPE = re.compile(r"\d{8}T\d{6}Z")
_SHA256_SHAPE = re.compile(r"[0-9a-f]{64}")
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


@dataclass(frozen=True)
class SigV4Credentials:
    """What a SigV4 request claims; nothing here is proven until :func:`verify` passes.

    :param timestamp: the request time as signed (``YYYYMMDDTHHMMSSZ``).
    :param expires: the presigned URL's lifetime; ``None`` for the header form.
    :param payload_hash: as declared: 64 hex digits, ``UNSIGNED-PAYLOAD`` or
        ``STREAMING-…``; the SHA-256 of nothing when a header-signed request declares none.
    """

    key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    request_time: datetime
    payload_hash: str
    expires: timedelta | None = None

    @property
    def presigned(self) -> bool:
        return self.expires is not None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{SCOPE_TERMINATOR}"

    @property
    def payload_sha256(self) -> str | None:
        """The hex SHA-256 the body must have, which the caller checks; ``None`` when the
        body is not signed (``UNSIGNED-PAYLOAD``) or is signed chunk by chunk."""
        return self.payload_hash if _SHA256_SHAPE.fullmatch(self.payload_hash) else None

    @property
    def streaming(self) -> bool:
        """The body is ``aws-chunked`` with a signature per chunk (``STREAMING-…``)."""
        return self.payload_hash.startswith("STREAMING-")


def parse_authorization(request: SignedRequest) -> SigV4Credentials | None:
    """The SigV4 credentials ``request`` carries, or ``None`` if it is not signed with SigV4.

    Raise a :class:`SignatureError` for SigV4 that is not well formed, for both forms at
    once, and for a session token.
    """
    authorization = request.header("authorization")
    header_form = authorization is not None and authorization.startswith(ALGORITHM + " ")
    pairs = request.query_pairs()
    query_form = any(name in _PRESIGN_PARAMS for name, _ in pairs)
    if header_form and query_form:
        raise InvalidArgument(
            "only one auth mechanism allowed: the Authorization header or the X-Amz-Algorithm "
            "query parameter, not both"
        )
    if query_form:
        return _parse_query(pairs)
    if header_form:
        assert authorization is not None
        return _parse_header(request, authorization)
    return None


def _parse_header(request: SignedRequest, authorization: str) -> SigV4Credentials:
    malformed = AuthorizationHeaderMalformed
    if request.header("x-amz-security-token") is not None:
        raise InvalidToken("session tokens are not accepted: this server issues none")
    fields: dict[str, str] = {}
    for part in authorization[len(ALGORITHM) :].split(","):
        name, equals, value = part.strip().partition("=")
        if not equals or name in fields:
            raise malformed(f"the Authorization header is malformed near {part.strip()!r}")
        fields[name] = value.strip()
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise malformed(
            "the Authorization header must have exactly Credential, SignedHeaders and Signature"
        )
    timestamp = request.header("x-amz-date")
    if timestamp is None:
        date = request.header("date")
        if date is None:
            raise SignatureAccessDenied(
                "AWS authentication requires a valid Date or x-amz-date header"
            )
        timestamp = _from_http_date(date)
    declared = request.header("x-amz-content-sha256")
    # A signer that sends no body hash (botocore's SigV4Auth for a body-less request) signs
    # the hash of an empty body; the caller then checks that the body is empty.
    payload_hash = EMPTY_SHA256 if declared is None else declared.strip()
    if not (
        payload_hash == UNSIGNED_PAYLOAD
        or payload_hash.startswith("STREAMING-")
        or _SHA256_SHAPE.fullmatch(payload_hash)
    ):
        raise InvalidArgument(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-…, or a lowercase hex SHA-256"
        )
    return _credentials(
        malformed,
        credential=fields["Credential"],
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        timestamp=timestamp,
        payload_hash=payload_hash,
        expires=None,
    )


def _parse_query(pairs: list[tuple[str, str]]) -> SigV4Credentials:
    malformed = AuthorizationQueryParametersError
    if any(name == "X-Amz-Security-Token" for name, _ in pairs):
        raise InvalidToken("session tokens are not accepted: this server issues none")
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in _PRESIGN_PARAMS:
            if name in found:
                raise malformed(f"the query parameter {name} is given twice")
            found[name] = value
    missing = [name for name in _PRESIGN_PARAMS if name not in found]
    if missing:
        raise malformed(f"a presigned URL needs the query parameters {', '.join(missing)}")
    if found["X-Amz-Algorithm"] != ALGORITHM:
        raise malformed(f"X-Amz-Algorithm only supports {ALGORITHM}")
    expires = found["X-Amz-Expires"]
    if not (expires.isascii() and expires.isdigit()) or not 1 <= int(expires) <= MAX_EXPIRES:
        raise malformed(f"X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES}")
    return _credentials(
        malformed,
        credential=found["X-Amz-Credential"],
        signed_headers=found["X-Amz-SignedHeaders"],
        signature=found["X-Amz-Signature"],
        timestamp=found["X-Amz-Date"],
        payload_hash=UNSIGNED_PAYLOAD,
        expires=timedelta(seconds=int(expires)),
    )


def _credentials(
    malformed: type[SignatureError],
    *,
    credential: str,
    signed_headers: str,
    signature: str,
    timestamp: str,
    payload_hash: str,
    expires: timedelta | None,
) -> SigV4Credentials:
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or not all(parts):
        raise malformed(
            f"the credential must be <key id>/<date>/<region>/<service>/{SCOPE_TERMINATOR}"
        )
    key_id, date, region, service, terminator = parts
    if terminator != SCOPE_TERMINATOR:
        raise malformed(f"the credential scope must end in {SCOPE_TERMINATOR}")
    if not (date.isascii() and date.isdigit() and len(date) == 8):
        raise malformed(f"the credential date {date!r} is not YYYYMMDD")
    if not _TIMESTAMP_SHAPE.fullmatch(timestamp):
        raise malformed("the request time (X-Amz-Date) must be YYYYMMDDTHHMMSSZ")
    try:
        request_time = datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise malformed(f"the request time {timestamp!r} is no date") from None
    if date != timestamp[:8]:
        raise malformed(
            f"the credential date {date} is not the date of the request time {timestamp}"
        )
    names = tuple(signed_headers.split(";"))
    if not all(names) or any(name != name.lower() for name in names):
        raise malformed("SignedHeaders must be lowercase header names separated by ';'")
    if "host" not in names:
        raise malformed("the host header must be signed")
    if not (signature.isascii() and signature):
        raise malformed("the signature must be hex digits")
    return SigV4Credentials(
        key_id=key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=names,
        signature=signature,
        timestamp=timestamp,
        request_time=request_time,
        payload_hash=payload_hash,
        expires=expires,
    )


def _from_http_date(value: str) -> str:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise SignatureAccessDenied(f"the Date header {value!r} is no date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(_TIMESTAMP)


def verify(
    request: SignedRequest,
    credentials: SigV4Credentials,
    secret: str,
    *,
    now: datetime,
    region: str | None = None,
    service: str = "s3",
    max_skew: timedelta = timedelta(minutes=15),
    max_expires: timedelta = timedelta(seconds=MAX_EXPIRES),
    allow_streaming: bool = False,
) -> None:
    """Check ``credentials`` (from :func:`parse_authorization`) against ``secret``.

    The key id is the caller's to resolve (S3's ``InvalidAccessKeyId``), and so is the body:
    it must hash to :attr:`~SigV4Credentials.payload_sha256` when that is set.

    :param region: the region the scope must name; ``None`` takes any.
    :param allow_streaming: accept ``STREAMING-…`` payloads, whose chunk signatures the
        caller then checks; refused by default, since the body would arrive framed.
    :raises SignatureError: the subclass, and its ``code``, say what is wrong.
    """
    malformed: type[SignatureError] = (
        AuthorizationQueryParametersError if credentials.presigned else AuthorizationHeaderMalformed
    )
    if region is not None and credentials.region != region:
        raise malformed(f"the region {credentials.region!r} is wrong; expecting {region!r}")
    if credentials.service != service:
        raise malformed(f"the service {credentials.service!r} is wrong; expecting {service!r}")
    if credentials.streaming and not allow_streaming:
        raise InvalidArgument(f"{credentials.payload_hash} payloads are not accepted here")
    _check_time(credentials, now, max_skew, max_expires)
    present = {name.lower() for name, _ in request.headers}
    absent = [name for name in credentials.signed_headers if name not in present]
    if absent:
        raise malformed(f"signed headers are missing from the request: {', '.join(absent)}")
    unsigned = sorted(
        name
        for name in present
        if name.startswith("x-amz-") and name not in credentials.signed_headers
    )
    if unsigned:
        raise SignatureAccessDenied(
            f"there were headers present in the request which were not signed: "
            f"{', '.join(unsigned)}"
        )
    pairs = request.query_pairs()
    if credentials.presigned:
        pairs = [(name, value) for name, value in pairs if name != "X-Amz-Signature"]
    canonical = canonical_request(
        method=request.method,
        path=canonical_path(request.path, credentials.service),
        query=canonical_query(pairs),
        headers=request.headers,
        signed_headers=credentials.signed_headers,
        payload_hash=credentials.payload_hash,
    )
    expected = signature_of(
        secret,
        credentials.date,
        credentials.region,
        credentials.service,
        string_to_sign(credentials.timestamp, credentials.scope, canonical),
    )
    if not hmac.compare_digest(expected.encode(), credentials.signature.encode()):
        raise SignatureDoesNotMatch(
            "the request signature we calculated does not match the signature you provided; "
            "check your key and signing method"
        )


def _check_time(
    credentials: SigV4Credentials, now: datetime, max_skew: timedelta, max_expires: timedelta
) -> None:
    if credentials.expires is None:
        if abs(now - credentials.request_time) > max_skew:
            raise RequestTimeTooSkewed(
                f"the difference between the request time {credentials.timestamp} and the "
                f"server's time is more than {max_skew}"
            )
        return
    if credentials.expires > max_expires:
        raise AuthorizationQueryParametersError(
            f"X-Amz-Expires must be at most {int(max_expires.total_seconds())} seconds"
        )
    if credentials.request_time > now + max_skew:
        raise RequestNotYetValid(f"Request is not valid yet (X-Amz-Date {credentials.timestamp})")
    if now > credentials.request_time + credentials.expires:
        raise RequestExpired(
            f"Request has expired: signed at {credentials.timestamp} for "
            f"{int(credentials.expires.total_seconds())} s"
        )
