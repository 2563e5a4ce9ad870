"""The SigV4 canonical request, string to sign and signing key, as AWS (and botocore) build them.

Everything here is a pure function of text: the request as it came over the wire goes in,
the exact bytes AWS would hash come out.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote_plus

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "SCOPE_TERMINATOR",
    "UNSIGNED_PAYLOAD",
    "SignedRequest",
    "canonical_path",
    "canonical_query",
    "canonical_request",
    "encode",
    "signature_of",
    "signing_key",
    "string_to_sign",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE_TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

#: AWS's unreserved characters: the only ones a canonical name or value leaves as they are.
_UNRESERVED = "-_.~"


@dataclass(frozen=True)
class SignedRequest:
    """A request as it arrived, for checking its signature.

    :param path: the path exactly as sent, still percent-encoded (ASGI's ``raw_path``).
    :param query: the raw query string as sent, without the ``?``. It is decoded the way
        form parameters are (``+`` is a space, as the routes will read it) and each name and
        value encoded again by AWS's rules, so the signature covers what the routes see.
    :param headers: ``(name, value)`` pairs in the order received; a name may repeat, and
        names are matched without regard to case.
    """

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]

    def header(self, name: str) -> str | None:
        """The header's values joined with ``,`` (as HTTP allows), or ``None`` if absent."""
        values = self.header_values(name)
        return ",".join(values) if values else None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def query_pairs(self) -> list[tuple[str, str]]:
        """The query's ``(name, value)`` pairs, decoded, in the order sent."""
        return list(decode_query(self.query))


def decode_query(query: str) -> Iterable[tuple[str, str]]:
    # Empty pieces (``a=1&&b=2``, a trailing ``&``) name nothing, as every server reads them.
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            yield (
                unquote_plus(name, errors="surrogateescape"),
                unquote_plus(value, errors="surrogateescape"),
            )


def encode(text: str) -> str:
    """URI-encode ``text`` by AWS's rules: UTF-8, every byte but the unreserved as ``%XY``."""
    return quote(text.encode("utf-8", "surrogateescape"), safe=_UNRESERVED)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Names and values encoded, sorted by name then value, joined as ``n=v&n=v``."""
    encoded = sorted((encode(name), encode(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_path(path: str, service: str) -> str:
    """The canonical URI: S3 signs the path as sent; other services sign it normalised and
    encoded once more, as botocore's ``SigV4Auth`` does."""
    if service == "s3":
        return path or "/"
    return quote(_remove_dot_segments(path), safe="/~")


def _remove_dot_segments(path: str) -> str:
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    joined = "/".join(out)
    if not joined.startswith("/"):
        joined = "/" + joined
    if path.endswith(("/", "/.", "/..")) and not joined.endswith("/"):
        joined += "/"
    return joined


def _trim(value: str) -> str:
    # AWS's Trimall: no space at either end, and each inner run of spaces as one.
    return " ".join(value.split())


def canonical_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """The canonical request over ``signed_headers`` (lowercase names, in signing order).

    ``query`` is already canonical (see :func:`canonical_query`) and ``path`` the canonical
    URI. A signed header the request lacks is signed as empty; the caller refuses that.
    """
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(_trim(value))
    lines = "".join(f"{name}:{','.join(by_name.get(name, []))}\n" for name in signed_headers)
    return "\n".join([method.upper(), path, query, lines, ";".join(signed_headers), payload_hash])


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The key of one day, region and service; cached, as one serves a key all day."""
    key = _hmac(f"AWS4{secret}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, SCOPE_TERMINATOR)


def signature_of(secret: str, date: str, region: str, service: str, to_sign: str) -> str:
    key = signing_key(secret, date, region, service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
