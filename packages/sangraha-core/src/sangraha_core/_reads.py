"""Reading objects: which record a request means, and what its answer looks like.

Framework-free so that every rule of a read (which version, which bytes, which headers)
is tested without a server. The getter turns a :class:`ReadPlan` into a response and
streams ``blobs.get(blob_key(digest), start=plan.start, end=plan.end)``.

Ranges follow RFC 9110 section 14: a single ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``
is served as a 206; a range that starts past the end is unsatisfiable
(:class:`InvalidRangeError`, a 416); anything else (another unit, several ranges, bad
syntax) is ignored and the whole representation is sent, which the RFC allows. A position
of any length is understood: one longer than any size is simply past the end.

Stored bytes are served as data, never as a page of the service's origin (the console
lives there): every content answer carries :data:`CONTENT_SECURITY_POLICY`, and PDFs,
the one stored kind browsers display with scripts of their own, go out as downloads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from ._constants import MAX_KEY_LENGTH
from ._digest import Digest
from ._exceptions import (
    InvalidMetadataError,
    InvalidNameError,
    InvalidRangeError,
    InvalidRequestError,
    ObjectNotFoundError,
    ObjectPendingError,
)
from ._models import ObjectRecord, ObjectStatus
from ._names import validate_bucket, validate_key, validate_metadata
from .metadata import MetadataStore
from .wire import ID_HEADER, META_HEADER_PREFIX, encode_header_value

__all__ = [
    "CACHE_IMMUTABLE",
    "CACHE_REVALIDATE",
    "CONTENT_SECURITY_POLICY",
    "META_PARAM_PREFIX",
    "ObjectFailedError",
    "ReadPlan",
    "Representation",
    "content_disposition",
    "etag_for",
    "http_date",
    "if_modified_since_matches",
    "if_none_match_matches",
    "if_range_matches",
    "meta_filters",
    "parse_http_date",
    "parse_range",
    "plan_read",
    "require_ready",
    "resolve_by_id",
    "resolve_by_key",
    "resolve_newest",
    "validate_prefix",
    "validate_time_bound",
]

#: For URLs whose answer can change (the latest version of a key): cache, but ask first.
CACHE_REVALIDATE = "no-cache"
#: For URLs naming one immutable version or digest: the bytes never change.
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
#: On every answer that carries stored bytes: should a browser open them as a document
#: (a JSON text holding ``<script>``, an image), nothing in them runs, loads or reaches the
#: origin's storage. The console's own page sets its own policy.
CONTENT_SECURITY_POLICY = "sandbox; default-src 'none'"

# Stored types a browser would display with scripts and forms of their own; a sandboxed
# document cannot show them in some browsers anyway, so they are sent as downloads.
_ATTACHMENT_TYPES = frozenset({"application/pdf"})
# A byte position with more significant digits than this is past the end of anything
# storable (sizes are 64-bit), so it is never converted: int() of thousands of digits is
# slow and, past 4,300 of them, refused by Python.
_MAX_POSITION_DIGITS = 19
_BEYOND_ANY_SIZE = 2**63
# No HTTP-date is longer (IMF-fixdate is 29 characters, RFC 850 dates at most 41).
_MAX_HTTP_DATE = 64

_ID_RE = re.compile(r"[0-9a-f]{32}")
_RANGE_RE = re.compile(r"bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)", re.IGNORECASE)
# One entity-tag of a list: optional weak prefix, then a quoted opaque tag.
_ETAG_RE = re.compile(r'[ \t]*(W/)?("[^"]*")[ \t]*(?:,|$)')
_MEDIA_TYPE_RE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")
# RFC 8187 attr-char beyond what ``quote`` always keeps (letters, digits, "_.-~").
_ATTR_SAFE = "!#$&+^`|"


class ObjectFailedError(ObjectNotFoundError):
    """The version asked for failed processing, so it has no content; ``reason`` says why.

    A kind of not-found, so that anywhere it is not answered on purpose (as a 409 naming
    the reason) it still becomes a 404, never a server error.
    """

    def __init__(self, record: ObjectRecord) -> None:
        self.record = record
        self.reason = record.error or "processing failed"
        super().__init__(f"version {record.id} of {record.key!r} failed processing: {self.reason}")


# -- which record ------------------------------------------------------------------------


def _check_id(object_id: str) -> str:
    # Ids are generated, never chosen by clients: anything else cannot name a version.
    if not _ID_RE.fullmatch(object_id):
        raise ObjectNotFoundError(f"no object with id {object_id!r}")
    return object_id


def _version_of(metadata: MetadataStore, bucket: str, key: str, version: str) -> ObjectRecord:
    record = metadata.get_object(_check_id(version))
    if record.bucket != bucket or record.key != key:
        # A version id of another key must not leak that key's content through this URL.
        raise ObjectNotFoundError(f"no version {version!r} of {key!r} in bucket {bucket!r}")
    return record


def require_ready(record: ObjectRecord) -> ObjectRecord:
    """The record itself when its content can be read; otherwise the error that says why."""
    if record.status is ObjectStatus.PENDING:
        raise ObjectPendingError(f"version {record.id} of {record.key!r} is still being processed")
    if record.status is ObjectStatus.FAILED:
        raise ObjectFailedError(record)
    return record


def resolve_by_key(
    metadata: MetadataStore, bucket: str, key: str, version: str | None = None
) -> ObjectRecord:
    """The ready record whose content ``GET /v1/buckets/{bucket}/objects/{key}`` serves.

    Without ``version``: the latest ready version (``ObjectPendingError`` when the only
    versions are still pending; :class:`ObjectFailedError` for the newest version when
    none is ready and the newest failed). With it: that version, which must belong to this
    key and be ready (``ObjectPendingError`` or :class:`ObjectFailedError` otherwise).
    """
    validate_bucket(bucket)
    validate_key(key)
    if version is None:
        try:
            return metadata.get_latest(bucket, key)
        except ObjectPendingError:
            raise
        except ObjectNotFoundError:
            # Only on this rare path is the newest version read too: a key whose upload
            # failed answers with why, as that version by id does, not "no object".
            return require_ready(metadata.get_newest(bucket, key))
    return require_ready(_version_of(metadata, bucket, key, version))


def resolve_newest(
    metadata: MetadataStore, bucket: str, key: str, version: str | None = None
) -> ObjectRecord:
    """The record ``GET /v1/buckets/{bucket}/metadata/{key}`` shows, whatever its status."""
    validate_bucket(bucket)
    validate_key(key)
    if version is None:
        return metadata.get_newest(bucket, key)
    return _version_of(metadata, bucket, key, version)


def resolve_by_id(metadata: MetadataStore, object_id: str) -> ObjectRecord:
    """The record with this id, whatever its status."""
    return metadata.get_object(_check_id(object_id))


# -- listing ---------------------------------------------------------------------------

#: Query parameters named ``meta.<name>`` filter a listing on user metadata equality.
META_PARAM_PREFIX = "meta."


def validate_prefix(prefix: str) -> str:
    """A key prefix to list under: any start of a valid key (so ``a/.`` is fine)."""
    if len(prefix.encode("utf-8", "surrogatepass")) > MAX_KEY_LENGTH:
        raise InvalidNameError(f"prefix must be at most {MAX_KEY_LENGTH} bytes of UTF-8")
    for ch in prefix:
        # The same characters keys refuse, so no prefix is refused that a key could start with.
        if unicodedata.category(ch) in ("Cc", "Cs", "Cn") or ch == "\\":
            raise InvalidNameError(
                "prefix must not contain control characters, backslashes or unassigned "
                f"code points (found U+{ord(ch):04X})"
            )
    return prefix


def validate_time_bound(name: str, value: datetime | None) -> datetime | None:
    """A ``created_after``/``created_before`` bound in UTC (a naive time is UTC already).

    Raise :class:`InvalidRequestError` for a time that UTC cannot hold (``9999-12-31``
    with a negative offset is in the year 10000), rather than fail in the database.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidRequestError(
            f"{name} {value.isoformat()} lies outside the years 1 to 9999 in UTC"
        ) from None


def meta_filters(
    params: Iterable[tuple[str, str]], *, max_entries: int, max_bytes: int
) -> dict[str, str]:
    """User metadata equality filters from ``meta.<name>=<value>`` query parameters.

    Names are matched without regard to case, as they are stored. A name given twice is
    refused rather than silently narrowed to one of its values.
    """
    found: dict[str, str] = {}
    for param, value in params:
        if not param.startswith(META_PARAM_PREFIX):
            continue
        name = param[len(META_PARAM_PREFIX) :].lower()
        if name in found:
            raise InvalidMetadataError(f"metadata filter {name!r} is given more than once")
        found[name] = value
    return validate_metadata(found, max_entries=max_entries, max_bytes=max_bytes)


# -- headers -----------------------------------------------------------------------------


def etag_for(digest: Digest) -> str:
    """The strong entity-tag of content: its digest, quoted."""
    return f'"{digest}"'


def http_date(moment: datetime) -> str:
    """``Sun, 06 Nov 1994 08:49:37 GMT`` (RFC 9110 IMF-fixdate)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """``(weak, opaque-tag)`` for each tag of a list, or ``None`` when it does not parse."""
    tags: list[tuple[bool, str]] = []
    pos = 0
    text = header.strip()
    while pos < len(text):
        match = _ETAG_RE.match(text, pos)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        pos = match.end()
    return tags


def if_none_match_matches(header: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names this content (weak comparison, RFC 9110 13.1.2).

    ``*`` matches any content that exists; ``W/"x"`` matches ``"x"``; a list matches when
    any member does. A header that does not parse matches nothing, so the client gets
    the content rather than a 304 it cannot have meant.
    """
    if header.strip() == "*":
        return True
    tags = _entity_tags(header)
    return tags is not None and any(tag == etag for _, tag in tags)


def parse_http_date(value: str) -> datetime | None:
    """The moment an HTTP-date (RFC 9110 section 5.6.7) names, in UTC, or ``None``.

    ``None`` for anything that is not a date with a zone, including dates whose numbers
    lie outside what a ``datetime`` holds: a condition on such a date is ignored, as the
    RFC asks of an invalid one.
    """
    text = value.strip()
    if not text or len(text) > _MAX_HTTP_DATE:
        return None
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:
            return None
        return when.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _whole_seconds(moment: datetime) -> int:
    # HTTP dates carry whole seconds; a naive time is UTC, as everywhere in Sangraha.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def if_modified_since_matches(header: str, last_modified: datetime | None) -> bool:
    """Whether ``If-Modified-Since`` finds the content unchanged, so a 304 is the answer.

    A date that does not parse, or content without a modification time, never matches:
    the content is sent (RFC 9110 section 13.1.3).
    """
    when = parse_http_date(header)
    if when is None or last_modified is None:
        return False
    return _whole_seconds(last_modified) <= _whole_seconds(when)


def if_range_matches(header: str, etag: str, last_modified: datetime | None) -> bool:
    """Whether ``If-Range`` still names this content, so the range may be served.

    An entity-tag must match strongly (a weak tag never does); a date must equal
    ``Last-Modified`` to the second. Anything else does not match: the whole content is
    sent, which is always safe.
    """
    value = header.strip()
    if value.startswith('"'):
        return value == etag
    if value.startswith("W/") or last_modified is None:
        return False
    when = parse_http_date(value)
    return when is not None and _whole_seconds(when) == _whole_seconds(last_modified)


def _position(digits: str) -> int:
    """A byte position of ``1*DIGIT``; one too long for any size is ``_BEYOND_ANY_SIZE``."""
    significant = digits.lstrip("0")
    if len(significant) > _MAX_POSITION_DIGITS:
        return _BEYOND_ANY_SIZE
    return int(significant or "0")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a ``Range`` header asks of ``size`` bytes, or ``None``.

    ``None`` means "send everything": the header is not a single ``bytes`` range, or it
    asks for a suffix of an empty representation. Raise :class:`InvalidRangeError` when
    the range is well formed but lies wholly past the end (a 416).
    """
    match = _RANGE_RE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = _position(first)
        if last:
            end = _position(last) + 1
            if end <= start:
                # "bytes=5-2" is invalid syntax, not an unsatisfiable range: ignore it.
                return None
        else:
            end = size
        if start >= size:
            where = str(start) if start < _BEYOND_ANY_SIZE else f"{len(first)} digits long"
            raise InvalidRangeError(
                f"range starts at byte {where}, past the end of {size} bytes", size=size
            )
        return start, min(end, size)
    if not last:
        return None
    suffix = _position(last)
    if suffix == 0:
        raise InvalidRangeError("a suffix range of zero bytes selects nothing", size=size)
    if size == 0:
        return None
    return max(size - suffix, 0), size


def content_disposition(key: str, disposition: str = "inline") -> str:
    """``inline; filename="<ascii>"; filename*=UTF-8''<utf-8>`` for the key's last segment.

    The quoted fallback keeps only printable ASCII, with quotes, backslashes and percent
    signs replaced, so no key can end the header value early or smuggle another
    parameter; the RFC 8187 form carries the exact name for clients that read it.
    """
    name = next((s for s in reversed(key.split("/")) if s), "") or "download"
    fallback = (
        "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in name).strip()
        or "download"
    )
    encoded = quote(name, safe=_ATTR_SAFE, errors="surrogatepass")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


# -- the answer --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Representation:
    """What a read serves: content and the facts its headers state."""

    digest: Digest
    size: int
    content_type: str = "application/octet-stream"
    last_modified: datetime | None = None
    filename_key: str | None = None
    """The key whose last segment names the download; ``None`` for bare blobs."""
    object_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_record(cls, record: ObjectRecord) -> Representation:
        return cls(
            digest=record.digest,
            size=record.size,
            content_type=record.content_type,
            last_modified=record.updated_at,
            filename_key=record.key,
            object_id=record.id,
            metadata=record.metadata,
        )

    def headers(self, cache_control: str) -> dict[str, str]:
        """The headers every answer about this content carries, 304s included."""
        headers = {
            "ETag": etag_for(self.digest),
            "Cache-Control": cache_control,
            "Accept-Ranges": "bytes",
        }
        if self.last_modified is not None:
            headers["Last-Modified"] = http_date(self.last_modified)
        if self.object_id is not None:
            headers[ID_HEADER] = self.object_id
        for name, value in self.metadata.items():
            headers[META_HEADER_PREFIX + name] = encode_header_value(value)
        return headers


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How to answer one read: the status, the bytes ``[start, end)`` and the headers."""

    status: int
    start: int
    end: int
    headers: dict[str, str]

    @property
    def has_body(self) -> bool:
        return self.status != 304 and self.end > self.start


def plan_read(
    rep: Representation,
    request_headers: Mapping[str, str],
    *,
    method: str = "GET",
    cache_control: str = CACHE_REVALIDATE,
) -> ReadPlan:
    """Decide the answer to a ``GET`` or ``HEAD`` of ``rep`` (RFC 9110 section 13.2.2).

    ``request_headers`` is looked up by lowercase name. ``If-None-Match`` is evaluated
    first (a match is a 304), ``If-Modified-Since`` only without it; then, for ``GET``
    only, ``If-Range`` and ``Range``.
    Raise :class:`InvalidRangeError` for an unsatisfiable range.
    """
    headers = rep.headers(cache_control)
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        if if_none_match_matches(if_none_match, headers["ETag"]):
            return ReadPlan(status=304, start=0, end=0, headers=headers)
    else:
        # Only without If-None-Match: the entity-tag is the better validator (13.1.3).
        if_modified_since = request_headers.get("if-modified-since")
        if if_modified_since is not None and if_modified_since_matches(
            if_modified_since, rep.last_modified
        ):
            return ReadPlan(status=304, start=0, end=0, headers=headers)

    content_type = rep.content_type
    if not _MEDIA_TYPE_RE.fullmatch(content_type):
        content_type = "application/octet-stream"
    headers["Content-Type"] = content_type
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if rep.filename_key is not None:
        disposition = "attachment" if content_type.lower() in _ATTACHMENT_TYPES else "inline"
        headers["Content-Disposition"] = content_disposition(rep.filename_key, disposition)

    selected: tuple[int, int] | None = None
    range_header = request_headers.get("range")
    if range_header is not None and method.upper() == "GET":
        if_range = request_headers.get("if-range")
        if if_range is None or if_range_matches(if_range, headers["ETag"], rep.last_modified):
            selected = parse_range(range_header, rep.size)
    if selected is None:
        headers["Content-Length"] = str(rep.size)
        return ReadPlan(status=200, start=0, end=rep.size, headers=headers)
    start, end = selected
    headers["Content-Length"] = str(end - start)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{rep.size}"
    return ReadPlan(status=206, start=start, end=end, headers=headers)
