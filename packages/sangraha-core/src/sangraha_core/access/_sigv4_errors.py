"""Why a SigV4 signature proves nothing, each reason with the code S3 answers it with."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "InvalidArgument",
    "InvalidToken",
    "RequestExpired",
    "RequestNotYetValid",
    "RequestTimeTooSkewed",
    "SignatureAccessDenied",
    "SignatureDoesNotMatch",
    "SignatureError",
]


class SignatureError(Exception):
    """A SigV4 request that cannot be trusted; ``code`` and ``status`` are S3's answer."""

    code: ClassVar[str] = "AccessDenied"
    status: ClassVar[int] = 403


class AuthorizationHeaderMalformed(SignatureError):
    """The ``Authorization`` header, or the credential scope in it, is not well formed."""

    code = "AuthorizationHeaderMalformed"
    status = 400


class AuthorizationQueryParametersError(SignatureError):
    """The presigned ``X-Amz-*`` query parameters are missing, repeated or not well formed."""

    code = "AuthorizationQueryParametersError"
    status = 400


class InvalidArgument(SignatureError):
    """Two ways of signing in one request, or a payload hash that is none of the known forms."""

    code = "InvalidArgument"
    status = 400


class InvalidToken(SignatureError):
    """A session token: this server issues none, so it can accept none."""

    code = "InvalidToken"
    status = 400


class SignatureDoesNotMatch(SignatureError):
    """The signature is not the one the key's secret gives for this request."""

    code = "SignatureDoesNotMatch"
    status = 403


class RequestTimeTooSkewed(SignatureError):
    """A header-signed request whose time is too far from the server's clock."""

    code = "RequestTimeTooSkewed"
    status = 403


class SignatureAccessDenied(SignatureError):
    """Refused outright: no request time, or ``x-amz-*`` headers left out of the signature."""

    code = "AccessDenied"
    status = 403


class RequestExpired(SignatureAccessDenied):
    """A presigned URL used after its ``X-Amz-Expires``."""


class RequestNotYetValid(SignatureAccessDenied):
    """A presigned URL whose ``X-Amz-Date`` is still in the future."""
