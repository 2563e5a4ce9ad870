"""Who a request is: the principal its credentials prove, or why they prove nothing.

Three forms are taken: a key's bearer token (``Authorization: Bearer <id>.<secret>``),
an AWS SigV4 signature in the ``Authorization`` header, and SigV4 in the query (a
presigned URL); and, for S3 clients that still send it, SigV2 in either place. The
server's operator token (``SANGRAHA_API_KEY``), when set, is a bearer token that may do
anything.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .._exceptions import UnauthenticatedError
from .._models import utcnow
from ._grants import Principal
from ._keys import KeyStatus, split_bearer
from ._ring import KeyEntry
from ._sigv2 import SigV2Credentials, parse_sigv2, verify_sigv2
from ._sigv4 import SignatureError, SignedRequest, parse_authorization, verify
from ._sigv4_streaming import (
    STREAMING_SIGNED_PAYLOAD,
    STREAMING_SIGNED_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    StreamingSignature,
)

__all__ = ["OPERATOR", "Authenticator", "Identity", "Lookup", "NeedsRead"]

#: The principal of the operator token.
OPERATOR = Principal(key_id="operator", grants=(), unrestricted=True)

_BEARER = "bearer "

#: The streaming payloads whose chunks this server can check (not SigV4a's ECDSA ones).
_STREAMING = frozenset(
    {STREAMING_SIGNED_PAYLOAD, STREAMING_SIGNED_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER}
)


@dataclass(frozen=True)
class Identity:
    """What a request's credentials proved.

    :param payload_sha256: the body's SHA-256 the signature covers, which the caller must
        check the body against; ``None`` when the body is not signed, or signed by chunk.
    :param streaming: what the chunk signatures of an ``aws-chunked`` body are checked
        against (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]``); ``None`` otherwise,
        also for ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, whose chunks carry no signature.
    """

    principal: Principal
    payload_sha256: str | None = None
    streaming: StreamingSignature | None = None


class NeedsRead(Exception):
    """The key must be read from the store first: call again with a blocking lookup."""


#: ``KeyRing.peek`` or ``KeyRing.lookup``: the entry, ``None`` for no such key, or ``False``
#: (from ``peek``) when the store must be read.
Lookup = Callable[[str], "KeyEntry | bool | None"]


class Authenticator:
    """Checks credentials against the keys a :class:`~.KeyRing` reads.

    :param allow_streaming: accept SigV4 ``STREAMING-…`` bodies (the S3 gateway, which
        decodes them); the identity then says how to check their chunks.
    """

    def __init__(
        self,
        *,
        operator_token: str = "",
        region: str = "us-east-1",
        clock: Callable[[], datetime] = utcnow,
        allow_streaming: bool = False,
    ) -> None:
        self._operator = operator_token.encode()
        self._region = region
        self._clock = clock
        self._allow_streaming = allow_streaming

    def authenticate(self, request: SignedRequest, lookup: Lookup) -> Identity:
        """The principal ``request`` acts as.

        Raise :class:`UnauthenticatedError` saying what is wrong (its ``code`` is S3's),
        or :class:`NeedsRead` when ``lookup`` (a ``peek``) cannot answer without the store.
        """
        authorization = request.header("authorization")
        if authorization is not None and authorization[: len(_BEARER)].lower() == _BEARER:
            return self.bearer(authorization[len(_BEARER) :].strip(), lookup)
        try:
            # SigV2 first: it refuses a request that also carries SigV4.
            legacy = parse_sigv2(request)
            credentials = None if legacy is not None else parse_authorization(request)
        except SignatureError as error:
            raise UnauthenticatedError(str(error), code=error.code) from None
        if legacy is not None:
            return self._sigv2(request, legacy, lookup)
        if credentials is None:
            if authorization is not None:
                raise UnauthenticatedError(
                    "the Authorization header is neither a bearer token, AWS4-HMAC-SHA256 "
                    "nor AWS (Signature Version 2)",
                    code="InvalidRequest",
                )
            raise UnauthenticatedError(
                "this server needs an access key: send 'Authorization: Bearer <id>.<secret>', "
                "sign the request with SigV4, or use a presigned URL",
                code="AccessDenied",
            )
        if credentials.streaming and credentials.payload_hash not in _STREAMING:
            raise UnauthenticatedError(
                f"{credentials.payload_hash} payloads are not supported", code="InvalidArgument"
            )
        entry = self._entry(credentials.key_id, lookup)
        try:
            verify(
                request,
                credentials,
                entry.secret,
                now=self._clock(),
                region=self._region,
                allow_streaming=self._allow_streaming,
            )
        except SignatureError as error:
            raise UnauthenticatedError(str(error), code=error.code) from None
        entry.used = True
        streaming = None
        if credentials.streaming and credentials.payload_hash != STREAMING_UNSIGNED_PAYLOAD_TRAILER:
            streaming = StreamingSignature.of(credentials, entry.secret)
        return Identity(
            entry.key.principal(presigned=credentials.presigned),
            credentials.payload_sha256,
            streaming,
        )

    def _sigv2(
        self, request: SignedRequest, credentials: SigV2Credentials, lookup: Lookup
    ) -> Identity:
        entry = self._entry(credentials.key_id, lookup)
        try:
            verify_sigv2(request, credentials, entry.secret, now=self._clock())
        except SignatureError as error:
            raise UnauthenticatedError(str(error), code=error.code) from None
        entry.used = True
        # SigV2 signs no body: there is no hash for the caller to check it against.
        return Identity(entry.key.principal(presigned=credentials.presigned))

    def bearer(self, token: str, lookup: Lookup) -> Identity:
        """What the bearer ``token`` (the ``Authorization`` value after ``Bearer``, stripped)
        proves; as :meth:`authenticate` for a request that sends it."""
        return Identity(self._bearer(token, lookup))

    def _bearer(self, token: str, lookup: Lookup) -> Principal:
        # Constant time, so the answer's timing says nothing about either secret.
        if self._operator and hmac.compare_digest(token.encode(), self._operator):
            return OPERATOR
        key_id, secret = split_bearer(token)
        entry = self._entry(key_id, lookup)
        if not hmac.compare_digest(secret.encode(), entry.secret.encode()):
            raise UnauthenticatedError(
                f"wrong secret for access key {key_id}", code="SignatureDoesNotMatch"
            )
        entry.used = True
        return entry.principal()

    def _entry(self, key_id: str, lookup: Lookup) -> KeyEntry:
        found = lookup(key_id)
        if found is False:
            raise NeedsRead(key_id)
        if found is None or found is True:
            raise UnauthenticatedError(_unknown_id(key_id), code="InvalidAccessKeyId")
        key = found.key
        # The clock only matters for a key that expires (and reading it costs a datetime).
        status = key.status(self._clock() if key.expires_at is not None else None)
        # S3 answers a key that no longer works as one it does not know.
        if status is KeyStatus.REVOKED:
            raise UnauthenticatedError(f"access key {key_id} is revoked", code="InvalidAccessKeyId")
        if status is KeyStatus.EXPIRED:
            raise UnauthenticatedError(
                f"access key {key_id} expired at {key.expires_at}",
                code="InvalidAccessKeyId",
            )
        return found


#: The most of an unknown key id an answer repeats: an id is 20 characters.
_SHOWN_ID = 24


def _unknown_id(key_id: str) -> str:
    """Why an id names no key, without repeating what may be a secret: a whole bearer
    token pasted as the AWS access key id carries the secret after its ``.``."""
    if "." in key_id:
        return (
            f"no access key has the id {key_id.partition('.')[0][:_SHOWN_ID]!r}…: that looks "
            "like a whole '<id>.<secret>' token; the access key id is the part before the '.', "
            "the secret the part after it"
        )
    shown = key_id if len(key_id) <= _SHOWN_ID else key_id[:_SHOWN_ID] + "…"
    return f"no access key has the id {shown!r}"
