"""Everything the sync and async clients share, with no I/O of its own.

Configuration, URL building, headers, request building, the retry decision and its
backoff, and the mapping from an error answer to an exception all live here (what is read
from single headers, in :mod:`~sangraha_client._headers`).
:class:`~sangraha_client.Client` and :class:`~sangraha_client.AsyncClient` add only the
send loop, and :mod:`~sangraha_client._runtime` how each waits and overlaps requests.

Retry policy: connection errors, 408, 409 with the ``pending`` problem type, 429 and 5xx
are retried up to ``max_retries`` times (default 2), unless the answer carries
``x-should-retry: false`` (``true`` forces a retry). A ``Retry-After`` of 60 s or less is
honoured; otherwise the wait is ``min(0.5 * 2**n, 8)`` seconds less up to 25 % jitter.
Only requests that are safe to repeat are retried: reads, deletes, parts, and uploads
whose body can be read again, which always carry one ``Idempotency-Key`` for all tries.
"""

from __future__ import annotations

import copy
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from urllib.parse import quote

import httpx
import pydantic

from sangraha_core import (
    Digest,
    ObjectRecord,
    Page,
    PartRecord,
    Problem,
    UploadSession,
    encode_header_value,
)
from sangraha_core.wire import (
    CONTENT_DIGEST_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    META_HEADER_PREFIX,
    ProblemType,
)

from . import _exceptions
from ._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_API_KEY,
    ENV_KEY,
    ENV_URL,
    ENV_WRITE_URL,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
)
from ._content import Body, BytesBody
from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RangeNotSatisfiableError,
    RateLimitError,
    ServiceUnavailableError,
    TooLargeError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from ._headers import (
    ObjectHead,
    count_async,
    count_sync,
    parse_head,
    parse_retry_after,
    quote_key,
)
from ._types import NOT_GIVEN, ListObjectsParams, NotGiven, Timeout
from ._version import __version__

__all__ = ["BaseClient", "RequestOptions", "make_status_error"]

# Statuses a proxy or gateway may answer too, so they are classed with or without a problem.
_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    415: UnsupportedMediaTypeError,
    416: RangeNotSatisfiableError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def _problem_class(problem: ProblemType) -> type[APIStatusError]:
    cls = getattr(_exceptions, problem.client_error, None)
    if not (isinstance(cls, type) and issubclass(cls, APIStatusError)):
        raise TypeError(f"{problem} names {problem.client_error!r}, not a status error class")
    return cls


#: The class of every problem the service sends, by its status and slug; a slug that comes
#: with another status than the catalogue's says nothing, and the status alone decides.
_PROBLEM_CLASSES: dict[tuple[int, str], type[APIStatusError]] = {
    (problem.status, problem.slug): _problem_class(problem) for problem in ProblemType
}
_RETRIED_PROBLEMS = frozenset(
    (problem.status, problem.slug) for problem in ProblemType if problem.retry_after
)

_PROBLEM_ADAPTER = pydantic.TypeAdapter(Problem)
_PAGE_ADAPTER = pydantic.TypeAdapter(Page[ObjectRecord])


@dataclass
class RequestOptions:
    """One request as the send loop sees it; built once, so retries repeat it exactly."""

    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Body | None = None
    json_data: Any = None
    retryable: bool = True
    timeout: Timeout | NotGiven = NOT_GIVEN
    stream: bool = False
    #: Bytes this request moves, reported to a chunked upload's progress once it succeeds.
    progress_bytes: int = 0
    #: Called with the bytes of the body sent so far in this try.
    on_sent: Callable[[int], None] | None = None


def _parse_problem(response: httpx.Response) -> Problem | None:
    try:
        return _PROBLEM_ADAPTER.validate_json(response.content)
    except (pydantic.ValidationError, ValueError):
        return None


def make_status_error(response: httpx.Response) -> APIStatusError:
    """Pick the class by status, then refine it by the problem's type slug."""
    problem = _parse_problem(response)
    status = response.status_code
    cls = _STATUS_CLASSES.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    if problem is not None:
        slug = problem.type.rstrip("/").rsplit("/", 1)[-1]
        cls = _PROBLEM_CLASSES.get((status, slug), cls)
    if problem is not None:
        message = f"{status} {problem.title}"
        if problem.detail:
            message += f": {problem.detail}"
    else:
        text = response.text.strip()[:200] if response.content else ""
        message = f"{status} {response.reason_phrase}" + (f": {text}" if text else "")
    return cls(message, response=response, problem=problem)


def _wait_params(wait: float | None) -> tuple[dict[str, str], Timeout | NotGiven]:
    """The query and the timeout of a request that asks the service to ``wait``."""
    if wait is None:
        return {}, NOT_GIVEN
    # The service holds the answer back for up to ``wait`` seconds.
    return {"wait": f"{wait:g}"}, httpx.Timeout(max(60.0, wait + 30.0), connect=5.0)


def _problem_slug(response: httpx.Response) -> str | None:
    problem = _parse_problem(response)
    return None if problem is None else problem.type.rstrip("/").rsplit("/", 1)[-1]


class BaseClient:
    """Configuration and every pure step of talking to Sangraha."""

    _is_async: ClassVar[bool] = False

    base_url: str
    write_url: str
    api_key: str | None
    timeout: Timeout
    max_retries: int

    def __init__(
        self,
        *,
        base_url: str | None = None,
        write_url: str | None = None,
        api_key: str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        if base_url is None:
            base_url = os.environ.get(ENV_URL) or DEFAULT_BASE_URL
            # The write URL from the environment pairs with the read URL from it, never
            # with one the caller named explicitly.
            if write_url is None:
                write_url = os.environ.get(ENV_WRITE_URL) or None
        self.base_url = base_url.rstrip("/")
        self.write_url = (write_url or base_url).rstrip("/")
        if isinstance(api_key, NotGiven):
            api_key = os.environ.get(ENV_KEY) or os.environ.get(ENV_API_KEY) or None
        self.api_key = api_key
        self.timeout = DEFAULT_TIMEOUT if isinstance(timeout, NotGiven) else timeout
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.max_retries = max_retries
        self._default_headers = dict(default_headers or {})

    # -- configuration -------------------------------------------------------------------

    def _copy_with(self, *, max_retries: int | NotGiven, timeout: Timeout | NotGiven) -> Self:
        clone = copy.copy(self)
        if not isinstance(max_retries, NotGiven):
            if max_retries < 0:
                raise ValueError("max_retries must be 0 or more")
            clone.max_retries = max_retries
        if not isinstance(timeout, NotGiven):
            clone.timeout = timeout
        return clone

    # -- URLs and headers ----------------------------------------------------------------

    def _url(self, path: str, *, write: bool = False) -> str:
        return (self.write_url if write else self.base_url) + path

    @staticmethod
    def _object_path(bucket: str, key: str) -> str:
        return f"/v1/buckets/{quote(bucket, safe='')}/objects/{quote_key(key)}"

    @staticmethod
    def _bucket_path(bucket: str, what: str) -> str:
        return f"/v1/buckets/{quote(bucket, safe='')}/{what}"

    def _default_request_headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "User-Agent": f"sangraha-client/{__version__} python-httpx/{httpx.__version__}",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(self._default_headers)
        return headers

    def _build_headers(self, options: RequestOptions) -> dict[str, str]:
        headers = self._default_request_headers()
        headers.update(options.headers)
        body = options.body
        # httpx sizes plain bytes itself; a streamed body would otherwise go chunked.
        if body is not None and body.length is not None and not isinstance(body, BytesBody):
            headers["Content-Length"] = str(body.length)
        return headers

    def _build_request(self, options: RequestOptions) -> httpx.Request:
        content: Any = None
        if options.body is not None:
            stream = options.body.async_stream() if self._is_async else options.body.sync_stream()
            if options.on_sent is not None and not isinstance(stream, bytes):
                stream = (
                    count_async(stream, options.on_sent)
                    if isinstance(stream, AsyncIterator)
                    else count_sync(stream, options.on_sent)
                )
            content = stream
        timeout = self.timeout if isinstance(options.timeout, NotGiven) else options.timeout
        return httpx.Request(
            options.method,
            options.url,
            params=options.params or None,
            headers=self._build_headers(options),
            content=content,
            json=options.json_data,
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )

    # -- retries -------------------------------------------------------------------------

    def _should_retry(self, response: httpx.Response, *, retries_taken: int) -> bool:
        if retries_taken >= self.max_retries:
            return False
        forced = response.headers.get("x-should-retry")
        if forced == "true":
            return True
        if forced == "false":
            return False
        status = response.status_code
        if status in (408, 429) or status >= 500:
            return True
        return (status, _problem_slug(response)) in _RETRIED_PROBLEMS

    def _should_retry_error(self, options: RequestOptions, *, retries_taken: int) -> bool:
        return options.retryable and retries_taken < self.max_retries

    def _retry_delay(self, *, retries_taken: int, headers: Mapping[str, str] | None) -> float:
        if headers is not None:
            asked = parse_retry_after(headers)
            if asked is not None and 0 <= asked <= MAX_RETRY_AFTER:
                return asked
        delay = min(INITIAL_RETRY_DELAY * 2.0**retries_taken, MAX_RETRY_DELAY)
        return delay * (1 - 0.25 * random.random())

    def _make_status_error(self, response: httpx.Response) -> APIStatusError:
        return make_status_error(response)

    # -- requests of each operation -------------------------------------------------------

    def _upload_options(
        self,
        bucket: str,
        key: str | None,
        body: Body,
        *,
        content_type: str,
        digest: Digest | None,
        metadata: Mapping[str, str] | None,
        idempotency_key: str | None,
        wait: float | None,
    ) -> RequestOptions:
        headers = {
            "Content-Type": content_type,
            IDEMPOTENCY_KEY_HEADER: idempotency_key or str(uuid.uuid4()),
        }
        if digest is not None:
            headers[CONTENT_DIGEST_HEADER] = f"sha-256=:{digest.to_base64()}:"
        for name, value in (metadata or {}).items():
            # httpx sends header values as ASCII: other text goes in the RFC 8187 form.
            headers[META_HEADER_PREFIX + name] = encode_header_value(value)
        params, timeout = _wait_params(wait)
        path = (
            self._bucket_path(bucket, "objects") if key is None else self._object_path(bucket, key)
        )
        return RequestOptions(
            "POST" if key is None else "PUT",
            self._url(path, write=True),
            params=params,
            headers=headers,
            body=body,
            retryable=body.replayable,
            timeout=timeout,
        )

    def _content_options(
        self,
        bucket: str,
        key: str,
        *,
        version: str | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> RequestOptions:
        return RequestOptions(
            method,
            self._url(self._object_path(bucket, key)),
            params={"version": version} if version else {},
            headers={"Accept": "*/*", **(headers or {})},
            stream=stream,
        )

    def _record_options(self, bucket: str, key: str) -> RequestOptions:
        return RequestOptions(
            "GET", self._url(f"{self._bucket_path(bucket, 'metadata')}/{quote_key(key)}")
        )

    def _record_by_id_options(self, object_id: str) -> RequestOptions:
        return RequestOptions("GET", self._url(f"/v1/objects/{quote(object_id, safe='')}"))

    def _blob_options(self, digest: str, *, stream: bool = False) -> RequestOptions:
        valid = Digest(digest)
        return RequestOptions(
            "GET",
            self._url(f"/v1/blobs/sha256:{valid.hex}"),
            headers={"Accept": "*/*"},
            stream=stream,
        )

    def _list_options(
        self, bucket: str, params: ListObjectsParams, cursor: str | None
    ) -> RequestOptions:
        query: dict[str, str] = {}
        for name in ("prefix", "kind", "status"):
            value = params.get(name)
            if value is not None:
                query[name] = str(value)
        for meta_name, meta_value in params.get("metadata", {}).items():
            query[f"meta.{meta_name}"] = meta_value
        if "limit" in params:
            query["limit"] = str(params["limit"])
        if cursor is not None:
            query["cursor"] = cursor
        return RequestOptions("GET", self._url(self._bucket_path(bucket, "objects")), params=query)

    def _delete_options(self, bucket: str, key: str, version: str | None) -> RequestOptions:
        return RequestOptions(
            "DELETE",
            self._url(self._object_path(bucket, key), write=True),
            params={"version": version} if version else {},
        )

    def _create_upload_options(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        size: int | None,
        digest: Digest | None,
        metadata: Mapping[str, str] | None,
    ) -> RequestOptions:
        payload: dict[str, Any] = {"key": key, "content_type": content_type}
        if size is not None:
            payload["size"] = size
        if digest is not None:
            payload["digest"] = str(digest)
        if metadata:
            payload["metadata"] = dict(metadata)
        return RequestOptions(
            "POST",
            self._url(self._bucket_path(bucket, "uploads"), write=True),
            headers={IDEMPOTENCY_KEY_HEADER: str(uuid.uuid4())},
            json_data=payload,
        )

    def _upload_path(self, upload_id: str) -> str:
        return f"/v1/uploads/{quote(upload_id, safe='')}"

    def _upload_part_options(self, upload_id: str, number: int, body: Body) -> RequestOptions:
        return RequestOptions(
            "PUT",
            self._url(f"{self._upload_path(upload_id)}/parts/{number}", write=True),
            headers={"Content-Type": "application/octet-stream"},
            body=body,
            retryable=body.replayable,
            progress_bytes=body.length or 0,
        )

    def _get_upload_options(self, upload_id: str) -> RequestOptions:
        return RequestOptions("GET", self._url(self._upload_path(upload_id), write=True))

    def _complete_upload_options(
        self, upload_id: str, *, digest: Digest | None = None, wait: float | None = None
    ) -> RequestOptions:
        params, timeout = _wait_params(wait)
        return RequestOptions(
            "POST",
            self._url(f"{self._upload_path(upload_id)}/complete", write=True),
            params=params,
            headers={IDEMPOTENCY_KEY_HEADER: str(uuid.uuid4())},
            json_data=None if digest is None else {"digest": str(digest)},
            timeout=timeout,
        )

    def _abort_upload_options(self, upload_id: str) -> RequestOptions:
        return RequestOptions("DELETE", self._url(self._upload_path(upload_id), write=True))

    # -- answers ---------------------------------------------------------------------------

    @staticmethod
    def _parse_record(response: httpx.Response) -> ObjectRecord:
        return ObjectRecord.model_validate_json(response.content)

    @staticmethod
    def _parse_session(response: httpx.Response) -> UploadSession:
        return UploadSession.model_validate_json(response.content)

    @staticmethod
    def _parse_part(response: httpx.Response) -> PartRecord:
        return PartRecord.model_validate_json(response.content)

    @staticmethod
    def _parse_page(response: httpx.Response) -> Page[ObjectRecord]:
        return _PAGE_ADAPTER.validate_json(response.content)

    @staticmethod
    def _parse_head(response: httpx.Response) -> ObjectHead:
        return parse_head(response.headers)
