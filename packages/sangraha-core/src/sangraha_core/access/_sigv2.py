"""AWS Signature Version 2: the ``Authorization: AWS <key id>:<signature>`` header and the
presigned query (``AWSAccessKeyId=…&Signature=…&Expires=…``).

Accepted for compatibility only: botocore still presigns S3 URLs with it unless told
otherwise (``HmacV1QueryAuth``), and s3cmd can sign headers with it (botocore's
``HmacV1Auth``). The string to sign is the one those signers build, byte for byte; the
tests hold it to botocore's. SigV2 signs no body, so a request signed this way proves who
sent it and what it asked for, never what its body holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from ._sigv4 import MAX_EXPIRES
from ._sigv4_canonical import SignedRequest
from ._sigv4_errors import (
    AuthorizationQueryParametersError,
    InvalidArgument,
    InvalidToken,
    RequestExpired,
    RequestTimeTooSkewed,
    SignatureAccessDenied,
    SignatureDoesNotMatch,
)

__all__ = [
    "SIGV2_SUBRESOURCES",
    "SigV2Credentials",
    "parse_sigv2",
    "sigv2_string_to_sign",
    "verify_sigv2",
]

#: The query parameters the canonical resource keeps: botocore's
#: ``HmacV1Auth.QSAOfInterest``, matched by their name as sent.
SIGV2_SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)

_HEADER_PREFIX = "AWS "
_QUERY_PARAMS = ("AWSAccessKeyId", "Signature", "Expires")
#: A SigV4 presigned URL is recognised by any of these (as :mod:`._sigv4` reads it).
_SIGV4_QUERY_PARAMS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    }
)
_SECURITY_TOKEN = "x-amz-security-token"
#: Besides ``x-amz-*``, the headers botocore's query signer moves into a presigned URL.
_QUERY_HEADERS = ("content-md5", "content-type")
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
#: Epoch seconds are 10 digits until the year 2286.
_MAX_EXPIRES_DIGITS = 20


@dataclass(frozen=True)
class SigV2Credentials:
    """What a SigV2 request claims; nothing here is proven until :func:`verify_sigv2` passes.

    :param signature: the base64 signature as sent.
    :param expires: the presigned URL's ``Expires`` as sent (epoch seconds, digits only);
        ``None`` for the header form.
    """

    key_id: str
    signature: str
    expires: str | None = None

    @property
    def presigned(self) -> bool:
        return self.expires is not None


def parse_sigv2(request: SignedRequest) -> SigV2Credentials | None:
    """The SigV2 credentials ``request`` carries, or ``None`` if it is not signed with SigV2.

    Raise a :class:`~._sigv4_errors.SignatureError` for SigV2 that is not well formed, for
    SigV2 beside another way of signing, and for a session token.
    """
    authorization = request.header("authorization")
    header_form = authorization is not None and authorization.startswith(_HEADER_PREFIX)
    pairs = request.query_pairs()
    names = {name for name, _ in pairs}
    query_form = "AWSAccessKeyId" in names or "Signature" in names
    if not (header_form or query_form):
        return None
    if (query_form and authorization is not None) or names & _SIGV4_QUERY_PARAMS:
        raise InvalidArgument(
            "only one auth mechanism allowed: the Authorization header, SigV4's X-Amz-* query "
            "parameters or SigV2's AWSAccessKeyId and Signature, not more than one"
        )
    if request.header(_SECURITY_TOKEN) is not None or _SECURITY_TOKEN in names:
        raise InvalidToken("session tokens are not accepted: this server issues none")
    if header_form:
        assert authorization is not None
        key_id, colon, signature = authorization[len(_HEADER_PREFIX) :].strip().partition(":")
        if not (colon and key_id.strip() and signature.strip()):
            raise InvalidArgument(
                "AWS authorization header is invalid: expected AWS AwsAccessKeyId:signature"
            )
        return SigV2Credentials(key_id=key_id.strip(), signature=signature.strip())
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in _QUERY_PARAMS:
            if name in found:
                raise AuthorizationQueryParametersError(
                    f"the query parameter {name} is given twice"
                )
            found[name] = value
    if len(found) != len(_QUERY_PARAMS) or not (found["AWSAccessKeyId"] and found["Signature"]):
        raise SignatureAccessDenied(
            "query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters"
        )
    expires = found["Expires"]
    if not (expires.isascii() and expires.isdigit()):
        raise SignatureAccessDenied(
            f"invalid date (should be seconds since epoch): Expires={expires!r}"
        )
    if len(expires) > _MAX_EXPIRES_DIGITS:
        # Centuries ahead, and past what int() reads without a fuss; refused as such.
        raise AuthorizationQueryParametersError(
            "Expires is more than a week ahead: a presigned URL is valid for at most a week"
        )
    # Base64 holds no space: one here is a '+' a client left unencoded, read as a form field.
    signature = found["Signature"].replace(" ", "+")
    return SigV2Credentials(key_id=found["AWSAccessKeyId"], signature=signature, expires=expires)


def verify_sigv2(
    request: SignedRequest,
    credentials: SigV2Credentials,
    secret: str,
    *,
    now: datetime,
    max_skew: timedelta = timedelta(minutes=15),
    max_expires: timedelta = timedelta(seconds=MAX_EXPIRES),
) -> None:
    """Check ``credentials`` (from :func:`parse_sigv2`) against ``secret``.

    Header form: the request time (``x-amz-date``, else ``Date``) must be within
    ``max_skew`` of ``now``. Query form: ``Expires`` must not be past, nor more than
    ``max_expires`` (plus ``max_skew``, for the signer's clock) ahead. A request to a
    bucket alone may be signed as ``/bucket/`` (as botocore and s3cmd sign it) or as sent.
    The key id is the caller's to resolve; there is no body hash to check.

    :raises SignatureError: the subclass, and its ``code``, say what is wrong.
    """
    if credentials.expires is None:
        _check_request_time(request, now, max_skew)
        dates = _header_dates(request)
    else:
        _check_expires(int(credentials.expires), now, max_skew, max_expires)
        dates = [credentials.expires]
    sent = credentials.signature.encode("utf-8", "surrogateescape")
    # Every candidate is compared, so the time taken says nothing of which one matched.
    matched = False
    for path in _resource_paths(request.path):
        as_signed = replace(request, path=path)
        for date in dates:
            to_sign = sigv2_string_to_sign(as_signed, date=date, presigned=credentials.presigned)
            matched |= hmac.compare_digest(_signature(secret, to_sign).encode(), sent)
    if not matched:
        raise SignatureDoesNotMatch(
            "the request signature we calculated does not match the signature you provided; "
            "check your key and signing method"
        )


def sigv2_string_to_sign(request: SignedRequest, *, date: str, presigned: bool = False) -> str:
    """The SigV2 StringToSign of ``request``, with ``date`` on its date line.

    ``method \\n Content-MD5 \\n Content-Type \\n date \\n`` then the ``x-amz-*`` headers
    (lowercase, sorted, ``name:value\\n``) and the canonical resource: the path as sent and
    the :data:`SIGV2_SUBRESOURCES` in the query, sorted by name, values decoded. For a
    presigned URL, the ``x-amz-*``, ``content-md5`` and ``content-type`` query parameters
    stand for headers of those names the request lacks, as botocore's query signer moves
    them there.
    """
    headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers.setdefault(name.lower(), []).append(value.strip())
    if presigned:
        from_query: dict[str, list[str]] = {}
        for name, value in request.query_pairs():
            lowered = name.lower()
            if lowered.startswith("x-amz-") or lowered in _QUERY_HEADERS:
                from_query.setdefault(lowered, []).append(value.strip())
        for name, values in from_query.items():
            headers.setdefault(name, values)
    lines = [
        request.method.upper(),
        ",".join(headers.get("content-md5", [])),
        ",".join(headers.get("content-type", [])),
        date,
    ]
    lines += [
        f"{name}:{','.join(headers[name])}" for name in sorted(headers) if name.startswith("x-amz-")
    ]
    lines.append(_canonical_resource(request))
    return "\n".join(lines)


def _canonical_resource(request: SignedRequest) -> str:
    kept: list[tuple[str, str]] = []
    for piece in request.query.split("&"):
        name, equals, value = piece.partition("=")
        if name in SIGV2_SUBRESOURCES:
            kept.append(
                (name, f"{name}={unquote(value, errors='surrogateescape')}" if equals else name)
            )
    # Sorted by name alone, repeated names in the order sent, as botocore sorts them.
    kept.sort(key=lambda item: item[0])
    resource = request.path or "/"
    if kept:
        resource += "?" + "&".join(text for _, text in kept)
    return resource


def _signature(secret: str, to_sign: str) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), to_sign.encode("utf-8", "surrogateescape"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def _resource_paths(path: str) -> list[str]:
    """The paths a request to ``path`` may have been signed with.

    A request to a bucket alone (``/bucket``) is signed as ``/bucket/``, the resource AWS
    names it by: botocore's ``authPath`` for every bucket operation, and s3cmd's. Signed as
    sent is taken too; both name the same bucket.
    """
    if path.count("/") == 1 and len(path) > 1 and path.startswith("/"):
        return [path, path + "/"]
    return [path]


def _header_dates(request: SignedRequest) -> list[str]:
    """The date lines a header-signed request may have been signed with.

    With ``x-amz-date`` sent, AWS signs an empty date line (as s3cmd does); botocore's
    ``HmacV1Auth`` signs the ``Date`` header it sets whatever else is sent, so that is
    taken too. Either way the line is covered by the signature.
    """
    date = request.header("date")
    if request.header("x-amz-date") is None:
        return [(date or "").strip()]
    if date is None or not date.strip():
        return [""]
    return ["", date.strip()]


def _check_request_time(request: SignedRequest, now: datetime, max_skew: timedelta) -> None:
    sent = (request.header("x-amz-date") or request.header("date") or "").strip()
    when = _parse_date(sent) if sent else None
    if when is None:
        raise SignatureAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
    if abs(now - when) > max_skew:
        raise RequestTimeTooSkewed(
            f"the difference between the request time {sent} and the server's time is "
            f"more than {max_skew}"
        )


def _parse_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _check_expires(
    expires: int, now: datetime, max_skew: timedelta, max_expires: timedelta
) -> None:
    current = now.timestamp()
    if current > expires:
        raise RequestExpired(f"Request has expired: Expires {expires} is past")
    if expires - current > (max_expires + max_skew).total_seconds():
        raise AuthorizationQueryParametersError(
            f"Expires {expires} is more than {int(max_expires.total_seconds())} seconds ahead: "
            f"a presigned URL is valid for at most a week"
        )
