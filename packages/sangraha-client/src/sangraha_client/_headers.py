"""What the clients read from and write into headers and URLs, apart from the JSON bodies.

Object keys quoted into paths, ``Retry-After``, the digest an ``ETag`` carries, what a
``HEAD`` answer tells (:class:`ObjectHead`, user metadata decoded), and a body stream that
counts what it has sent for progress callbacks. All of it is pure.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from urllib.parse import quote

import httpx
import pydantic

from sangraha_core import Digest, decode_header_value
from sangraha_core.wire import META_HEADER_PREFIX

__all__ = [
    "ObjectHead",
    "count_async",
    "count_sync",
    "etag_digest",
    "parse_head",
    "parse_retry_after",
    "quote_key",
    "user_metadata",
]


class ObjectHead(pydantic.BaseModel):
    """What ``HEAD`` tells about an object's content, without its bytes."""

    model_config = pydantic.ConfigDict(frozen=True)

    content_type: str | None
    size: int | None
    digest: Digest | None
    """The content digest, read from the ``ETag``."""
    etag: str | None
    last_modified: str | None = None
    metadata: dict[str, str] = pydantic.Field(default_factory=dict)
    """User metadata, names in lower case, values decoded from their header form."""


def _quote_segment(segment: str) -> str:
    # httpx drops literal "." and ".." path segments; escaped dots reach the service intact.
    if segment and segment.strip(".") == "":
        return segment.replace(".", "%2E")
    return quote(segment, safe="")


def quote_key(key: str) -> str:
    """Percent-quote each ``/``-separated segment of a key, keeping the slashes."""
    return "/".join(_quote_segment(s) for s in key.split("/"))


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _strip_etag(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def etag_digest(value: str | None) -> Digest | None:
    """The digest an ``ETag`` carries, or ``None`` when it carries none."""
    text = _strip_etag(value)
    try:
        return Digest(text) if text else None
    except ValueError:
        return None


def parse_head(headers: httpx.Headers) -> ObjectHead:
    """What the headers of a ``GET`` or ``HEAD`` answer tell about the content."""
    length = headers.get("content-length")
    etag = headers.get("etag")
    return ObjectHead(
        content_type=headers.get("content-type"),
        size=int(length) if length is not None and length.isdigit() else None,
        digest=etag_digest(etag),
        etag=etag,
        last_modified=headers.get("last-modified"),
        metadata=user_metadata(headers),
    )


def user_metadata(headers: httpx.Headers) -> dict[str, str]:
    """The ``X-Sangraha-Meta-*`` headers, names in lower case, values decoded."""
    metadata: dict[str, str] = {}
    for name, value in headers.items():
        if name.startswith(META_HEADER_PREFIX):
            try:
                decoded = decode_header_value(value)
            except ValueError:
                # A value the service did not encode is shown as it came, not dropped.
                decoded = value
            metadata[name[len(META_HEADER_PREFIX) :]] = decoded
    return metadata


def count_sync(stream: Iterator[bytes], on_sent: Callable[[int], None]) -> Iterator[bytes]:
    """``stream`` as it is, calling ``on_sent`` with the bytes passed on so far."""
    sent = 0
    for chunk in stream:
        yield chunk
        sent += len(chunk)
        on_sent(sent)


async def count_async(
    stream: AsyncIterator[bytes], on_sent: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """The async form of :func:`count_sync`."""
    sent = 0
    async for chunk in stream:
        yield chunk
        sent += len(chunk)
        on_sent(sent)
