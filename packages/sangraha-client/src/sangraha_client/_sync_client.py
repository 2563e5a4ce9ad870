# Generated from _async_client.py by scripts/unasync.py: edit that file, then run the script.
# nox -s lint and tests/client/test_unasync.py fail when this one has drifted from it.
"""The :class:`Client`, and the :class:`ObjectStream` its streamed reads yield.

Every pure step comes from :class:`~sangraha_client._base_client.BaseClient`, the methods
of access keys and presigned URLs from :mod:`~sangraha_client._keys_sync`, and every way
of waiting, running blocking work or overlapping requests from
:mod:`~sangraha_client._runtime`; what is left here is sending and moving bytes, written
once. Edit ``_async_client.py``: ``_sync_client.py`` is generated from it by
``scripts/unasync.py`` (run ``python3 scripts/unasync.py`` after a change).
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Self, Unpack

import httpx

from sangraha_core import Digest, ObjectRecord, ObjectStatus, PartRecord, UploadSession

from ._base_client import BaseClient, RequestOptions
from ._buckets_sync import SyncBucketMethods
from ._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_THRESHOLD,
    DEFAULT_WAIT_TIMEOUT,
    STREAM_CHUNK_SIZE,
)
from ._content import FileBody, UploadData, guess_content_type, make_body
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    PendingError,
    ProcessingFailedError,
    WaitTimeoutError,
)
from ._headers import ObjectHead, etag_digest
from ._keys_sync import SyncKeyMethods
from ._pagination import SyncPage
from ._runtime import SyncRuntime
from ._transfers import ChunkedUpload, Download, advance
from ._types import NOT_GIVEN, ListObjectsParams, NotGiven, ProgressCallback, Timeout

__all__ = ["Client", "ObjectStream"]


def _poll_delay(attempt: int) -> float:
    return float(min(0.25 * 1.5**attempt, 2.0))


def _settle(record: ObjectRecord) -> ObjectRecord | None:
    """The record once processing is over (raising if it failed), else ``None``."""
    if record.status is ObjectStatus.FAILED:
        raise ProcessingFailedError(record)
    return record if record.status is ObjectStatus.READY else None


def _waited(record: ObjectRecord, wait: float | None) -> ObjectRecord:
    """The answer to a request that asked the service to ``wait``: a failure raises.

    Without ``wait`` the record is whatever the service holds (a replayed upload may
    already have failed), and the caller asked for no verdict.
    """
    if wait is not None and record.status is ObjectStatus.FAILED:
        raise ProcessingFailedError(record)
    return record


class ObjectStream:
    """An object's content as it arrives; iterate it for chunks of bytes."""

    def __init__(self, response: httpx.Response, chunk_size: int) -> None:
        self.response = response
        self.chunk_size = chunk_size
        self.head = BaseClient._parse_head(response)

    @property
    def content_type(self) -> str | None:
        return self.head.content_type

    @property
    def size(self) -> int | None:
        return self.head.size

    @property
    def digest(self) -> Digest | None:
        return self.head.digest

    def __iter__(self) -> Iterator[bytes]:
        return self.response.iter_bytes(self.chunk_size)


class Client(SyncRuntime, SyncKeyMethods, SyncBucketMethods):
    """A blocking client for Sangraha, holding one pool of connections.

    :param base_url: the read service (default ``SANGRAHA_URL``, then
        ``http://127.0.0.1:8000``).
    :param write_url: the write service for uploads, deletes and upload sessions
        (default ``SANGRAHA_WRITE_URL`` when ``base_url`` also came from the environment,
        else ``base_url``).
    :param api_key: sent as a bearer token: an access key's ``<key_id>.<secret>``, which
        also signs presigned URLs (default ``SANGRAHA_KEY``, then ``SANGRAHA_API_KEY``;
        ``None`` sends none).
    :param timeout: seconds or an :class:`httpx.Timeout`; ``None`` waits for ever.
    :param max_retries: how many times a safe request is retried (default 2).
    :param transport: an :class:`httpx.BaseTransport`, e.g. a ``MockTransport`` in tests.
    :param http_client: a ready :class:`httpx.Client` to use instead of a new one.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        write_url: str | None = None,
        api_key: str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            write_url=write_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(transport=transport, follow_redirects=True)

    def with_options(
        self, *, max_retries: int | NotGiven = NOT_GIVEN, timeout: Timeout | NotGiven = NOT_GIVEN
    ) -> Self:
        """A client sharing this one's connections, with other retry or timeout settings."""
        clone = self._copy_with(max_retries=max_retries, timeout=timeout)
        clone._owns_client = False
        return clone

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the send loop ---------------------------------------------------------------------

    def _request(self, options: RequestOptions) -> httpx.Response:
        retries_taken = 0
        while True:
            request = self._build_request(options)
            try:
                response = self._client.send(request, stream=options.stream)
            except httpx.TimeoutException as exc:
                if not self._should_retry_error(options, retries_taken=retries_taken):
                    raise APITimeoutError(request=request, reason=str(exc)) from exc
                self._sleep(self._retry_delay(retries_taken=retries_taken, headers=None))
                retries_taken += 1
                continue
            except httpx.TransportError as exc:
                if not self._should_retry_error(options, retries_taken=retries_taken):
                    raise APIConnectionError(request=request, reason=str(exc)) from exc
                self._sleep(self._retry_delay(retries_taken=retries_taken, headers=None))
                retries_taken += 1
                continue
            if response.is_success:
                return response
            response.read()
            response.close()
            if options.retryable and self._should_retry(response, retries_taken=retries_taken):
                delay = self._retry_delay(retries_taken=retries_taken, headers=response.headers)
                self._sleep(delay)
                retries_taken += 1
                continue
            raise self._make_status_error(response)

    def _send_batch(
        self, batch: list[RequestOptions], upload: ChunkedUpload, concurrency: int
    ) -> list[httpx.Response]:
        def send(options: RequestOptions) -> httpx.Response:
            response = self._request(options)
            upload.advance_progress(options.progress_bytes)
            return response

        if len(batch) == 1:
            return [send(batch[0])]
        return self._map_concurrently(send, batch, concurrency)

    def _run_upload(self, upload: ChunkedUpload, concurrency: int) -> ObjectRecord:
        flow = upload.flow()
        # Between requests the flow hashes and reads local files: that is blocking work.
        step = self._run_blocking(advance, flow, None, None)
        while not isinstance(step, ObjectRecord):
            try:
                responses = self._send_batch(step, upload, concurrency)
            except APIError as exc:
                step = self._run_blocking(advance, flow, None, exc)
            else:
                step = self._run_blocking(advance, flow, responses, None)
        return step

    # -- uploads -----------------------------------------------------------------------------

    def _upload(
        self,
        bucket: str,
        key: str | None,
        data: UploadData,
        *,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        idempotency_key: str | None,
        wait: float | None,
        progress: ProgressCallback | None,
    ) -> ObjectRecord:
        body = make_body(data)
        if not content_type:
            content_type = guess_content_type(body.name or key, self._peek(body))
        options = self._upload_options(
            bucket,
            key,
            body,
            content_type=content_type,
            digest=self._run_blocking(body.digest),
            metadata=metadata,
            idempotency_key=idempotency_key,
            wait=wait,
        )
        if progress is not None:
            options.on_sent = lambda sent: progress(sent, body.length)
        return _waited(self._parse_record(self._request(options)), wait)

    def put_object(
        self,
        bucket: str,
        key: str,
        data: UploadData,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectRecord:
        """Upload ``data`` as a new version of ``key``; the record is usually ``pending``.

        ``data`` is bytes, a path, an open binary file or an iterable of chunks. The
        content type is guessed from the file name, else from the first bytes. ``wait``
        asks the service to hold its answer until processing ends (up to that many s): a
        version that failed by then raises :class:`ProcessingFailedError`, one still
        processing comes back ``pending``.
        """
        return self._upload(
            bucket,
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            idempotency_key=idempotency_key,
            wait=wait,
            progress=progress,
        )

    def create_object(
        self,
        bucket: str,
        data: UploadData,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectRecord:
        """Like :meth:`put_object`, under a key the service generates."""
        return self._upload(
            bucket,
            None,
            data,
            content_type=content_type,
            metadata=metadata,
            idempotency_key=idempotency_key,
            wait=wait,
            progress=progress,
        )

    def upload_file(
        self,
        bucket: str,
        key: str,
        path: str | pathlib.Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        part_size: int | None = None,
        threshold: int = DEFAULT_THRESHOLD,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressCallback | None = None,
        wait: float | None = None,
    ) -> ObjectRecord:
        """Upload a file: one request below ``threshold``, else resumable parts in parallel.

        An interrupted chunked upload resumes when this is called again for the same file.
        """
        path = pathlib.Path(path)
        body = FileBody(path)
        content_type = content_type or guess_content_type(path.name, self._peek(body))
        if (body.length or 0) < threshold:
            return self.put_object(
                bucket,
                key,
                path,
                content_type=content_type,
                metadata=metadata,
                wait=wait,
                progress=progress,
            )
        upload = ChunkedUpload(
            self,
            bucket,
            key,
            path,
            content_type=content_type,
            metadata=metadata,
            part_size=part_size,
            progress=progress,
        )
        record = self._run_upload(upload, concurrency)
        if wait is not None:
            return self.wait_until_ready(bucket, key, version=record.id, timeout=wait)
        return record

    def create_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        size: int | None = None,
        digest: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> UploadSession:
        """Open an upload session; send parts with :meth:`upload_part`, then complete it."""
        options = self._create_upload_options(
            bucket,
            key,
            content_type=content_type,
            size=size,
            digest=Digest(digest) if digest is not None else None,
            metadata=metadata,
        )
        return self._parse_session(self._request(options))

    def upload_part(self, upload_id: str, number: int, data: UploadData) -> PartRecord:
        """Send part ``number`` (from 1); sending the same part again replaces it."""
        options = self._upload_part_options(upload_id, number, make_body(data))
        return self._parse_part(self._request(options))

    def get_upload(self, upload_id: str) -> UploadSession:
        return self._parse_session(self._request(self._get_upload_options(upload_id)))

    def complete_upload(
        self, upload_id: str, *, digest: str | None = None, wait: float | None = None
    ) -> ObjectRecord:
        """Join the parts; ``digest`` (``sha256:<hex>``), if given, must be the whole's.

        ``wait`` is as for :meth:`put_object`: a failure within it raises
        :class:`ProcessingFailedError`.
        """
        options = self._complete_upload_options(
            upload_id, digest=Digest(digest) if digest is not None else None, wait=wait
        )
        return _waited(self._parse_record(self._request(options)), wait)

    def abort_upload(self, upload_id: str) -> None:
        self._request(self._abort_upload_options(upload_id))

    # -- reads -------------------------------------------------------------------------------

    def get_object(self, bucket: str, key: str, *, version: str | None = None) -> bytes:
        """The whole content of the latest ready version (or of ``version``)."""
        response = self._request(self._content_options(bucket, key, version=version))
        return response.content

    @contextmanager
    def stream_object(
        self,
        bucket: str,
        key: str,
        *,
        version: str | None = None,
        chunk_size: int = STREAM_CHUNK_SIZE,
    ) -> Iterator[ObjectStream]:
        """The content as a stream of chunks, without holding it all in memory."""
        options = self._content_options(bucket, key, version=version, stream=True)
        response = self._request(options)
        try:
            yield ObjectStream(response, chunk_size)
        finally:
            response.close()

    def download_file(
        self,
        bucket: str,
        key: str,
        path: str | pathlib.Path,
        *,
        version: str | None = None,
        resume: bool = True,
        progress: ProgressCallback | None = None,
    ) -> pathlib.Path:
        """Save the content to ``path`` via ``path + '.part'``, resuming and verifying it."""
        download = Download(pathlib.Path(path), resume=resume, progress=progress)
        while True:
            headers = download.request_headers()
            options = self._content_options(
                bucket, key, version=version, headers=headers, stream=True
            )
            try:
                response = self._request(options)
            except APIError as exc:
                if not download.can_restart(exc):
                    raise
                download.restart()
                continue
            try:
                with download.open(response) as out:
                    for chunk in response.iter_bytes(STREAM_CHUNK_SIZE):
                        download.write(out, chunk)
            finally:
                response.close()
            return download.finish()

    def head_object(self, bucket: str, key: str, *, version: str | None = None) -> ObjectHead:
        options = self._content_options(bucket, key, version=version, method="HEAD")
        return self._parse_head(self._request(options))

    def get_record(self, bucket: str, key: str) -> ObjectRecord:
        """The record (metadata) of the latest version of ``key``, whatever its status."""
        return self._parse_record(self._request(self._record_options(bucket, key)))

    def get_record_by_id(self, object_id: str) -> ObjectRecord:
        return self._parse_record(self._request(self._record_by_id_options(object_id)))

    def get_blob(self, digest: str) -> bytes:
        """Content by its digest, ``sha256:<hex>``."""
        response = self._request(self._blob_options(digest))
        if etag_digest(response.headers.get("etag")) not in (None, digest):
            raise ValueError(f"asked for {digest}, got {response.headers.get('etag')}")
        return response.content

    def list_objects(
        self, bucket: str, **params: Unpack[ListObjectsParams]
    ) -> SyncPage[ObjectRecord]:
        """The records in ``bucket``: iterating walks every page (see :class:`SyncPage`)."""

        def fetch(cursor: str | None) -> SyncPage[ObjectRecord]:
            response = self._request(self._list_options(bucket, params, cursor))
            page = self._parse_page(response)
            return SyncPage(page.items, page.next_cursor, fetch)

        return self._paginate(fetch)

    def delete_object(self, bucket: str, key: str, *, version: str | None = None) -> None:
        """Delete every version of ``key``, or only ``version``."""
        self._request(self._delete_options(bucket, key, version))

    def wait_until_ready(
        self,
        bucket: str,
        key: str,
        *,
        version: str | None = None,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
    ) -> ObjectRecord:
        """Poll until the object is ready; :class:`ProcessingFailedError` if it failed."""
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            try:
                if version is None:
                    record = self.get_record(bucket, key)
                else:
                    record = self.get_record_by_id(version)
            except PendingError:
                record = None
            settled = None if record is None else _settle(record)
            if settled is not None:
                return settled
            left = deadline - time.monotonic()
            if left <= 0:
                if record is None:
                    record = self.get_record(bucket, key)
                raise WaitTimeoutError(record, timeout)
            self._sleep(min(_poll_delay(attempt), left))
            attempt += 1
