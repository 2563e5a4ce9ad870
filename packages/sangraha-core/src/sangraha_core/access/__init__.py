"""Access keys and request signatures."""

from ._sigv4 import MAX_EXPIRES, SigV4Credentials, parse_authorization, verify
from ._sigv4_canonical import EMPTY_SHA256, UNSIGNED_PAYLOAD, SignedRequest
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
from ._sigv4_sign import presign, sign_headers

__all__ = [
    "EMPTY_SHA256",
    "MAX_EXPIRES",
    "UNSIGNED_PAYLOAD",
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "InvalidArgument",
    "InvalidToken",
    "RequestExpired",
    "RequestNotYetValid",
    "RequestTimeTooSkewed",
    "SigV4Credentials",
    "SignatureAccessDenied",
    "SignatureDoesNotMatch",
    "SignatureError",
    "SignedRequest",
    "parse_authorization",
    "presign",
    "sign_headers",
    "verify",
]
