"""Requests as a server receives them, built from botocore's signers, for the SigV2 and
SigV4 suites alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import quote, urlsplit

from botocore.awsrequest import AWSRequest

from sangraha_core.access import SignedRequest

__all__ = ["ENDPOINT", "from_url", "object_url", "wire", "with_header"]

ENDPOINT = "http://127.0.0.1:9000"


def object_url(key: str, bucket: str = "docs") -> str:
    # How botocore puts a key in a path-style URL.
    return f"{ENDPOINT}/{bucket}/{quote(key, safe='/~')}"


def wire(request: AWSRequest) -> SignedRequest:
    """The request as a server receives it: the prepared URL, and Host from it."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = [(name.lower(), value) for name, value in prepared.headers.items()]
    if not any(name == "host" for name, _ in headers):
        headers.append(("host", parts.netloc))
    return SignedRequest(prepared.method, parts.path, parts.query, headers)


def from_url(method: str, url: str, headers: Sequence[tuple[str, str]] = ()) -> SignedRequest:
    parts = urlsplit(url)
    return SignedRequest(method, parts.path, parts.query, [("host", parts.netloc), *headers])


def with_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    """``request`` with ``name`` (any case) set to ``value`` alone."""
    kept = [(n, v) for n, v in request.headers if n.lower() != name.lower()]
    return replace(request, headers=[*kept, (name, value)])
