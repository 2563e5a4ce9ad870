"""Access control: keys and their grants, sealed secrets, request signatures, limits.

The HTTP side (the middleware and the route checks) is in ``sangraha_core.web``.
"""

from ._authenticate import OPERATOR, Authenticator, Identity, Lookup, NeedsRead
from ._grants import ANYONE, Action, Grant, Principal, pattern_covers, validate_pattern
from ._guard import AccessGuard, master_key_of
from ._keys import (
    AccessKey,
    KeyStatus,
    NewKey,
    bearer_token,
    looks_like_bearer,
    new_key_id,
    new_secret,
    split_bearer,
)
from ._limits import FailureThrottle, RateLimiter
from ._manage import KeyAdmin
from ._ring import KeyEntry, KeyRing
from ._seal import MasterKey
from ._sigv2 import (
    SIGV2_SUBRESOURCES,
    SigV2Credentials,
    parse_sigv2,
    sigv2_string_to_sign,
    verify_sigv2,
)
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
from ._sigv4_streaming import (
    STREAMING_SIGNED_PAYLOAD,
    STREAMING_SIGNED_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    StreamingSignature,
)
from ._store import AccessKeys
from ._views import CreateKey, KeyView, NewKeyView

__all__ = [
    "ANYONE",
    "EMPTY_SHA256",
    "MAX_EXPIRES",
    "OPERATOR",
    "SIGV2_SUBRESOURCES",
    "STREAMING_SIGNED_PAYLOAD",
    "STREAMING_SIGNED_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_PAYLOAD_TRAILER",
    "UNSIGNED_PAYLOAD",
    "AccessGuard",
    "AccessKey",
    "AccessKeys",
    "Action",
    "Authenticator",
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "CreateKey",
    "FailureThrottle",
    "Grant",
    "Identity",
    "InvalidArgument",
    "InvalidToken",
    "KeyAdmin",
    "KeyEntry",
    "KeyRing",
    "KeyStatus",
    "KeyView",
    "Lookup",
    "MasterKey",
    "NeedsRead",
    "NewKey",
    "NewKeyView",
    "Principal",
    "RateLimiter",
    "RequestExpired",
    "RequestNotYetValid",
    "RequestTimeTooSkewed",
    "SigV2Credentials",
    "SigV4Credentials",
    "SignatureAccessDenied",
    "SignatureDoesNotMatch",
    "SignatureError",
    "SignedRequest",
    "StreamingSignature",
    "bearer_token",
    "looks_like_bearer",
    "master_key_of",
    "new_key_id",
    "new_secret",
    "parse_authorization",
    "parse_sigv2",
    "pattern_covers",
    "presign",
    "sign_headers",
    "sigv2_string_to_sign",
    "split_bearer",
    "validate_pattern",
    "verify",
    "verify_sigv2",
]
