"""What the chunk signatures of a SigV4 streaming body (``STREAMING-AWS4-HMAC-SHA256-…``)
are checked against.

Each chunk of such a body is signed over the signature before it, the first chunk over
the request's own (the seed); the trailers, if any, over the last chunk's. The decoder of
the body (in the S3 gateway) chains them; this module only says what each one must be.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from ._sigv4 import SigV4Credentials
from ._sigv4_canonical import EMPTY_SHA256, signing_key

__all__ = [
    "STREAMING_SIGNED_PAYLOAD",
    "STREAMING_SIGNED_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_PAYLOAD_TRAILER",
    "StreamingSignature",
]

#: The ``x-amz-content-sha256`` of a body whose chunks are signed.
STREAMING_SIGNED_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#: Signed chunks, then trailers signed as well.
STREAMING_SIGNED_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#: Chunks without signatures, then trailers (what boto3 and the AWS CLI send by default).
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

_CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
_TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"


@dataclass(frozen=True)
class StreamingSignature:
    """The key, time and scope a streaming body's signatures are made with.

    :param key: the day's signing key (from the secret, date, region and service).
    :param timestamp: the request time as signed (``YYYYMMDDTHHMMSSZ``).
    :param scope: ``<date>/<region>/<service>/aws4_request``.
    :param seed: the request's own signature, which the first chunk's is chained to.
    """

    # Left out of the repr: the key signs for the secret's owner all day.
    key: bytes = field(repr=False)
    timestamp: str
    scope: str
    seed: str

    @classmethod
    def of(cls, credentials: SigV4Credentials, secret: str) -> StreamingSignature:
        """The signatures of a request whose ``credentials`` were verified with ``secret``."""
        key = signing_key(secret, credentials.date, credentials.region, credentials.service)
        return cls(key, credentials.timestamp, credentials.scope, credentials.signature)

    def chunk_signature(self, previous: str, chunk_sha256_hex: str) -> str:
        """The signature of a chunk whose data hashes to ``chunk_sha256_hex``, chained to
        ``previous`` (the seed for the first chunk)."""
        return self._sign(_CHUNK_ALGORITHM, previous, f"{EMPTY_SHA256}\n{chunk_sha256_hex}")

    def trailer_signature(self, previous: str, trailer_bytes: bytes) -> str:
        """The signature of the trailers, chained to the final chunk's.

        :param trailer_bytes: the trailers in canonical form: each ``name:value\\n``, names
            lower case and in order, values trimmed, the signature's own line left out.
        """
        return self._sign(_TRAILER_ALGORITHM, previous, hashlib.sha256(trailer_bytes).hexdigest())

    def _sign(self, algorithm: str, previous: str, payload: str) -> str:
        to_sign = f"{algorithm}\n{self.timestamp}\n{self.scope}\n{previous}\n{payload}"
        return hmac.new(self.key, to_sign.encode(), hashlib.sha256).hexdigest()
