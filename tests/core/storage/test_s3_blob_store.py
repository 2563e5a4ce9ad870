"""What only the S3 store has to get right: large copies, retries, dead endpoints."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import pytest

from sangraha_core import (
    BlobStoreUnavailableError,
    ConfigurationError,
    Digest,
    DigestedStream,
    open_blob_store,
)
from sangraha_core.storage import BlobStore
from sangraha_core.storage import s3 as s3_module
from sangraha_core.storage.s3 import S3BlobStore

MiB = 1024 * 1024


def _store(name: str, endpoint: str, **options: Any) -> S3BlobStore:
    """A store on a bucket of its own, named after the test."""
    return S3BlobStore(f"{name}-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint, **options)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.s3
def test_large_copy_goes_part_by_part(s3_endpoint: str, s3_env: None) -> None:
    store = _store("copy", s3_endpoint, copy_threshold=6 * MiB, copy_part_size=5 * MiB)
    try:
        data = b"".join(bytes([n]) * MiB for n in range(12)) + b"tail"
        store.put("src", data)
        store.copy("src", "dst")
        assert b"".join(store.get("dst")) == data
        # A multipart ETag ends in the part count: proof the copy went part by part.
        assert store.head("dst").etag.endswith("-3")
        store.put("small", b"tiny")
        store.copy("small", "small-copy")
        assert "-" not in store.head("small-copy").etag
    finally:
        store.close()


@pytest.mark.s3
def test_streamed_put_longer_than_a_part_uses_multipart(s3_endpoint: str, s3_env: None) -> None:
    store = _store("mp", s3_endpoint, part_size=5 * MiB)
    try:
        chunks = [bytes([n]) * MiB for n in range(11)]
        result = store.put("k", iter(chunks))
        assert result.size == 11 * MiB
        assert result.etag == store.head("k").etag
        assert result.etag.endswith("-3")
        assert b"".join(store.get("k")) == b"".join(chunks)
    finally:
        store.close()


@pytest.mark.s3
def test_list_follows_continuation_tokens(s3_endpoint: str, s3_env: None) -> None:
    store = _store("ls", s3_endpoint, list_page_size=2)
    try:
        keys = [f"p/{n:02d}" for n in range(7)]
        for key in keys:
            store.put(key, b"x")
        store.put("q", b"x")
        assert [info.key for info in store.list("p/")] == keys
    finally:
        store.close()


def test_unreachable_endpoint(s3_env: None) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    began = time.monotonic()
    with pytest.raises(BlobStoreUnavailableError):
        S3BlobStore("any-bucket", endpoint_url=endpoint, max_attempts=2, backoff=0.01)
    store = S3BlobStore(
        "any-bucket",
        endpoint_url=endpoint,
        create_bucket=False,
        max_attempts=2,
        backoff=0.01,
        connect_timeout=0.2,
    )
    with pytest.raises(BlobStoreUnavailableError):
        store.check()
    with pytest.raises(ConnectionError):
        store.get("k")
    with pytest.raises(BlobStoreUnavailableError):
        store.put("k", iter([b"data"]))
    store.close()
    assert time.monotonic() - began < 10


class _SlowDown(BaseHTTPRequestHandler):
    """Answers every request the way a throttled S3 does."""

    hits = 0

    def _throttle(self) -> None:
        type(self).hits += 1
        body = b"<Error><Code>SlowDown</Code><Message>Reduce your rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _throttle

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def throttling_endpoint() -> Iterator[str]:
    _SlowDown.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowDown)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_throttling_is_retried_a_bounded_number_of_times(
    throttling_endpoint: str, s3_env: None
) -> None:
    store = S3BlobStore(
        "throttled",
        endpoint_url=throttling_endpoint,
        create_bucket=False,
        max_attempts=3,
        backoff=0.01,
        backoff_max=0.05,
    )
    with pytest.raises(BlobStoreUnavailableError, match="SlowDown"):
        store.put("k", b"data")
    assert _SlowDown.hits == 3
    store.close()


def test_from_url(s3_endpoint: str, s3_env: None) -> None:
    bucket = f"url-{uuid.uuid4().hex[:12]}"
    store = open_blob_store(f"s3://{bucket}?endpoint={s3_endpoint}&region=us-east-1")
    assert isinstance(store, S3BlobStore) and store.bucket == bucket
    typed: BlobStore = store  # mypy checks the protocol here
    assert typed is store
    store.check()
    # Opening again finds the bucket already there.
    S3BlobStore.from_url(f"s3://{bucket}?endpoint={s3_endpoint}").close()
    store.close()
    with pytest.raises(ConfigurationError):
        S3BlobStore.from_url(f"s3://{bucket}?endpoint={s3_endpoint}&colour=blue")
    with pytest.raises(ConfigurationError):
        S3BlobStore.from_url("s3:///no-bucket")


@pytest.mark.s3
@pytest.mark.parametrize("order", ["in order", "resent", "last first"])
def test_complete_reads_back_only_what_the_front_did_not_hash(
    s3_endpoint: str, s3_env: None, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store("front", s3_endpoint)
    try:
        parts = {n: bytes([n]) * 5 * MiB for n in (1, 2)}
        parts[3] = b"tail"
        upload_id = store.create_multipart("k")
        numbers = {"in order": [1, 2, 3], "resent": [1, 2, 3, 2], "last first": [3, 1, 2]}
        sent = {}
        for n in numbers[order]:
            if order == "resent" and n == 2 and n in sent:
                parts[2] = b"x" * 5 * MiB
            sent[n] = store.upload_part("k", upload_id, n, iter([parts[n][:MiB], parts[n][MiB:]]))
        read_back: list[int] = []
        get = store.get

        def counting_get(key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
            read_back.append(start)
            return get(key, start=start, end=end)

        monkeypatch.setattr(store, "get", counting_get)
        result, digest = store.complete_multipart_digest("k", upload_id, list(sent.values()))
        whole = b"".join(parts[n] for n in (1, 2, 3))
        assert digest == Digest.of(whole) and result.size == len(whole)
        monkeypatch.undo()
        assert b"".join(store.get("k")) == whole
        # Parts hashed as they came are not read again; a part sent anew after hashing is.
        assert read_back == {"in order": [], "resent": [0], "last first": []}[order]
    finally:
        store.close()


def _part_number(request: Any) -> int:
    """The part number of a botocore ``UploadPart`` request."""
    return int(parse_qs(urlsplit(request.url).query)["partNumber"][0])


def _composite(parts: list[bytes]) -> str:
    """S3's checksum of a multipart object: the SHA-256 of its parts' SHA-256s."""
    raw = b"".join(hashlib.sha256(part).digest() for part in parts)
    return base64.b64encode(hashlib.sha256(raw).digest()).decode()


@pytest.mark.s3
def test_every_part_carries_its_sha256(moto_endpoint: str, s3_env: None) -> None:
    # moto, not RGW: the last check reads back the composite checksum the server kept for
    # the parts, and Ceph Pacific keeps none (test_bodies_carry_content_md5... covers RGW).
    store = _store("sum", moto_endpoint, part_size=5 * MiB)
    assert store.capabilities.checksum_reported  # learnt before the hooks watch requests
    declared: dict[int, str] = {}
    puts: list[str] = []
    signed: set[str] = set()

    def note_checksum(request: Any, **_: Any) -> None:
        declared[_part_number(request)] = request.headers["x-amz-checksum-sha256"].decode()
        signed.add(request.headers["x-amz-content-sha256"].decode())

    def note_put(request: Any, **_: Any) -> None:
        puts.append(request.headers["x-amz-checksum-sha256"].decode())
        signed.add(request.headers["x-amz-content-sha256"].decode())

    store._client.meta.events.register("before-send.s3.UploadPart", note_checksum)
    store._client.meta.events.register("before-send.s3.PutObject", note_put)
    try:
        parts = [bytes([1]) * 5 * MiB, bytes([2]) * 5 * MiB, b"tail"]
        upload_id = store.create_multipart("session")
        sent = [
            # The receiver's stream, hashed as it came; a plain iterator; whole bytes.
            store.upload_part("session", upload_id, 1, DigestedStream(iter([parts[0]]))),
            store.upload_part("session", upload_id, 2, iter([parts[1][:MiB], parts[1][MiB:]])),
            store.upload_part("session", upload_id, 3, parts[2]),
        ]
        assert declared == {n: Digest.of(p).to_base64() for n, p in enumerate(parts, start=1)}
        assert [part.digest for part in sent] == [Digest.of(part) for part in parts]
        store.complete_multipart("session", upload_id, sent)

        declared.clear()
        streamed = [bytes([n]) * MiB for n in range(11)]
        store.put("streamed", iter(streamed))
        pieces = [b"".join(streamed[:5]), b"".join(streamed[5:10]), streamed[10]]
        assert declared == {n: Digest.of(p).to_base64() for n, p in enumerate(pieces, start=1)}

        # Bodies under 5 MiB go as one PutObject, with their checksum too.
        store.put("small", b"tiny")
        store.put("short stream", iter([b"ti", b"ny"]))
        assert puts == [Digest.of(b"tiny").to_base64()] * 2
        # The checksum header is signed; the body is not hashed again for the signature.
        assert signed == {"UNSIGNED-PAYLOAD"}

        for key, whole in (("session", parts), ("streamed", pieces)):
            head = store._client.head_object(Bucket=store._bucket, Key=key, ChecksumMode="ENABLED")
            checksum = head["ChecksumSHA256"].removesuffix(f"-{len(whole)}")
            assert checksum == _composite(whole), key
    finally:
        store.close()


class _InFlight:
    """Counts the requests of one kind being sent at once, each held a little while."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.now = self.most = 0
        self._lock = threading.Lock()

    def __call__(self, **_: Any) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self.hold)
        with self._lock:
            self.now -= 1


@pytest.mark.s3
def test_a_streamed_put_and_a_large_copy_send_their_parts_in_parallel(
    s3_endpoint: str, s3_env: None
) -> None:
    store = _store(
        "par",
        s3_endpoint,
        part_size=5 * MiB,
        part_concurrency=3,
        copy_threshold=6 * MiB,
        copy_part_size=5 * MiB,
    )
    sends, copies = _InFlight(0.2), _InFlight(0.2)
    store._client.meta.events.register("before-send.s3.UploadPart", sends)
    store._client.meta.events.register("before-send.s3.UploadPartCopy", copies)
    try:
        chunks = [bytes([n]) * MiB for n in range(33)]
        assert store.put("k", iter(chunks)).size == 33 * MiB
        assert b"".join(store.get("k")) == b"".join(chunks)
        store.copy("k", "copied")
        assert b"".join(store.get("copied")) == b"".join(chunks)
        # 7 parts each: never more than 3 at once, and more than one.
        assert (sends.most, copies.most) == (3, 3)
    finally:
        store.close()


@pytest.mark.s3
@pytest.mark.parametrize("failing", ["the stream", "a part"])
def test_a_streamed_put_that_fails_midway_leaves_no_upload_behind(
    s3_endpoint: str, s3_env: None, failing: str
) -> None:
    store = _store("fail", s3_endpoint, part_size=5 * MiB, max_attempts=1)

    def stream() -> Iterator[bytes]:
        for n in range(30):
            if failing == "the stream" and n == 17:
                raise ConnectionError("the client went away")
            yield bytes([n]) * MiB

    def refuse_part_3(request: Any, **_: Any) -> None:
        if _part_number(request) == 3:
            raise ConnectionResetError("S3 went away")

    if failing == "a part":
        store._client.meta.events.register("before-send.s3.UploadPart", refuse_part_3)
    try:
        with pytest.raises((ConnectionError, BlobStoreUnavailableError)):
            store.put("k", stream())
        assert not store.exists("k")
        uploads = store._client.list_multipart_uploads(Bucket=store._bucket)
        assert uploads.get("Uploads", []) == []
    finally:
        store.close()


@pytest.mark.s3
def test_an_upload_created_without_checksums_still_takes_parts_and_completes(
    s3_endpoint: str, s3_env: None
) -> None:
    """A session opened before parts carried checksums: AWS refuses a part checksum, and a
    checksum in the complete request, for an upload that declared none. moto does not,
    so these hooks answer as AWS does."""
    store = _store("old", s3_endpoint)
    old = store._client.create_multipart_upload(Bucket=store._bucket, Key="old")["UploadId"]
    refused: list[str] = []

    def refuse(what: str, operation: str) -> None:
        refused.append(what)
        error = {"Code": "InvalidRequest", "Message": "Checksum Type mismatch occurred, "
                 "expected checksum Type: null, actual checksum Type: sha256"}  # fmt: skip
        raise botocore.exceptions.ClientError(
            {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
        )

    def like_aws_part(request: Any, **_: Any) -> None:
        if old in request.url and "x-amz-checksum-sha256" in request.headers:
            refuse(f"part {_part_number(request)}", "UploadPart")

    def like_aws_complete(request: Any, **_: Any) -> None:
        if old in request.url and b"ChecksumSHA256" in request.body:
            refuse("complete", "CompleteMultipartUpload")

    store._client.meta.events.register("before-send.s3.UploadPart", like_aws_part)
    store._client.meta.events.register("before-send.s3.CompleteMultipartUpload", like_aws_complete)
    try:
        parts = [bytes([1]) * 5 * MiB, b"tail"]
        sent = [
            store.upload_part("old", old, n, DigestedStream(iter([part])))
            for n, part in enumerate(parts, start=1)
        ]
        result, digest = store.complete_multipart_digest("old", old, sent)
        assert (result.size, digest) == (5 * MiB + 4, Digest.of(b"".join(parts)))
        assert b"".join(store.get("old")) == b"".join(parts)
        # Each part was refused once with its checksum, then taken without; the complete
        # request listed none.
        assert refused == ["part 1", "part 2"]

        # The same refusal anywhere else is S3 refusing a request: a 503, not a crash.
        new = store.create_multipart("new")
        part = store.upload_part("new", new, 1, b"tail")
        store._client.meta.events.register(
            "before-send.s3.CompleteMultipartUpload",
            lambda **_: refuse("complete", "CompleteMultipartUpload"),
        )
        with pytest.raises(BlobStoreUnavailableError):
            store.complete_multipart("new", new, [part])
    finally:
        store.close()


def test_delete_many_sends_a_request_a_batch_and_names_what_it_could_not_delete(
    s3_endpoint: str, s3_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "_DELETE_BATCH", 2)
    store = _store("many", s3_endpoint)
    try:
        keys = [f"k{n}" for n in range(5)]
        for key in keys:
            store.put(key, b"x")
        requests: list[list[str]] = []
        real = store._client.delete_objects

        def counting(**kwargs: Any) -> Any:
            requests.append([item["Key"] for item in kwargs["Delete"]["Objects"]])
            return real(**kwargs)

        monkeypatch.setattr(store._client, "delete_objects", counting)
        store.delete_many([*keys, "k0"])
        assert requests == [["k0", "k1"], ["k2", "k3"], ["k4"]]
        assert not any(store.exists(key) for key in keys)

        refused = {"Errors": [{"Key": "k9", "Code": "AccessDenied", "Message": "Access Denied"}]}
        monkeypatch.setattr(store._client, "delete_objects", lambda **_: refused)
        with pytest.raises(BlobStoreUnavailableError, match="'k9' first: AccessDenied"):
            store.delete_many(["k8", "k9"])
    finally:
        store.close()
