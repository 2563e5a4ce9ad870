"""Signing with SigV4: presigned URLs and signed headers, byte for byte as botocore makes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from ._sigv4 import MAX_EXPIRES
from ._sigv4_canonical import (
    ALGORITHM,
    SCOPE_TERMINATOR,
    UNSIGNED_PAYLOAD,
    canonical_path,
    canonical_query,
    canonical_request,
    encode,
    signature_of,
    string_to_sign,
)

__all__ = ["presign", "sign_headers"]

Headers = Mapping[str, str] | Sequence[tuple[str, str]]

#: Headers a proxy may add, drop or rewrite, so botocore never signs them.
_NEVER_SIGNED = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
#: What a path may hold as sent; anything else (a space, a non-ASCII letter) is encoded.
_PATH_SAFE = "/%!$&'()*+,;=:@~"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def presign(
    method: str,
    url: str,
    *,
    key_id: str,
    secret: str,
    region: str,
    service: str = "s3",
    expires: int,
    now: datetime,
    headers: Headers | None = None,
) -> str:
    """``url`` with a SigV4 signature in its query, valid for ``expires`` seconds from ``now``.

    The path is signed as given (percent-encoded; characters a path cannot hold are encoded
    first). The query ``url`` already has is kept before the signature's parameters, and the
    ``headers`` given are signed too, so the request must send them with those values.
    """
    if not 1 <= expires <= MAX_EXPIRES:
        raise ValueError(f"expires must be from 1 to {MAX_EXPIRES} seconds, not {expires}")
    timestamp = _timestamp(now)
    parts = urlsplit(url)
    path = quote(parts.path, safe=_PATH_SAFE)
    signed = _headers_to_sign(headers, parts.scheme, parts.netloc)
    names = tuple(sorted({name for name, _ in signed}))
    scope = f"{timestamp[:8]}/{region}/{service}/{SCOPE_TERMINATOR}"
    # Form decoding, as botocore reads a URL's query: "+" is a space.
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs += [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{key_id}/{scope}"),
        ("X-Amz-Date", timestamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(names)),
    ]
    canonical = canonical_request(
        method=method,
        path=canonical_path(path, service),
        query=canonical_query(pairs),
        headers=signed,
        signed_headers=names,
        payload_hash=UNSIGNED_PAYLOAD,
    )
    signature = signature_of(
        secret, timestamp[:8], region, service, string_to_sign(timestamp, scope, canonical)
    )
    query = "&".join(f"{encode(name)}={encode(value)}" for name, value in pairs)
    query += f"&X-Amz-Signature={signature}"
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def sign_headers(
    method: str,
    url: str,
    *,
    key_id: str,
    secret: str,
    region: str,
    service: str = "s3",
    now: datetime,
    headers: Headers | None = None,
    payload_hash: str = UNSIGNED_PAYLOAD,
) -> dict[str, str]:
    """The headers to add to a request for it to be SigV4-signed in the header form.

    ``headers`` are those the request will send (all signed, but for the few proxies
    touch); ``payload_hash`` is the body's hex SHA-256 or ``UNSIGNED-PAYLOAD``. ``Host``
    is signed as the URL gives it, which is what HTTP clients send. The path is signed as
    given, so it must be percent-encoded as it will be sent.
    """
    timestamp = _timestamp(now)
    parts = urlsplit(url)
    added = {"x-amz-date": timestamp, "x-amz-content-sha256": payload_hash}
    given = [(name, value) for name, value in _pairs(headers) if name.lower() not in added]
    signed = _headers_to_sign([*given, *added.items()], parts.scheme, parts.netloc)
    names = tuple(sorted({name for name, _ in signed}))
    scope = f"{timestamp[:8]}/{region}/{service}/{SCOPE_TERMINATOR}"
    canonical = canonical_request(
        method=method,
        path=canonical_path(parts.path, service),
        query=canonical_query(parse_qsl(parts.query, keep_blank_values=True)),
        headers=signed,
        signed_headers=names,
        payload_hash=payload_hash,
    )
    signature = signature_of(
        secret, timestamp[:8], region, service, string_to_sign(timestamp, scope, canonical)
    )
    added["authorization"] = (
        f"{ALGORITHM} Credential={key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return added


def _pairs(headers: Headers | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _headers_to_sign(headers: Headers | None, scheme: str, netloc: str) -> list[tuple[str, str]]:
    signed = [
        (name.lower(), value)
        for name, value in _pairs(headers)
        if name.lower() not in _NEVER_SIGNED
    ]
    if not any(name == "host" for name, _ in signed):
        signed.append(("host", _host_of(scheme, netloc)))
    return signed


def _host_of(scheme: str, netloc: str) -> str:
    # As botocore derives it: lowercase, no user info, no default port.
    parts = urlsplit(f"{scheme}://{netloc}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    return host


def _timestamp(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
