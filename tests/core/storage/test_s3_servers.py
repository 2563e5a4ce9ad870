"""What real S3 servers do that moto does not, and what the S3 store does about it.

Each server is probed once per store (``S3BlobStore.capabilities``); these tests check the
probe's findings on moto and on Ceph RGW, and that the store's behaviour follows them where
RGW differs: a create that a conditional completion would not protect, bodies checked by
Content-MD5 where checksums are ignored, an empty ETag from a completion, and the answers
RGW gives for an upload that is gone.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sangraha_core import BlobExistsError, Digest, DigestedStream, UploadNotFoundError
from sangraha_core.storage.s3 import Capabilities, S3BlobStore

pytestmark = pytest.mark.s3

MiB = 1024 * 1024

#: What each server was seen to honour (Ceph 16.2 "Pacific", moto 5).
FOUND = {
    "moto": Capabilities(
        conditional_put=True,
        conditional_complete=True,
        checksum_verified=False,
        checksum_reported=True,
        md5_verified=False,
    ),
    "rgw": Capabilities(
        conditional_put=True,
        conditional_complete=False,
        checksum_verified=False,
        checksum_reported=False,
        md5_verified=True,
    ),
}


@pytest.fixture(params=["moto", "rgw"])
def server(request: pytest.FixtureRequest, s3_env: None) -> tuple[str, str]:
    """(name, endpoint) of each S3 server the tests start."""
    return request.param, request.getfixturevalue(f"{request.param}_endpoint")


@pytest.fixture
def rgw(rgw_endpoint: str, s3_env: None) -> Iterator[S3BlobStore]:
    store = _store(rgw_endpoint)
    # Learnt now, so that no hook a test registers sees the probe's own requests.
    assert store.capabilities == FOUND["rgw"]
    try:
        yield store
    finally:
        store.close()


def _store(endpoint: str, **options: Any) -> S3BlobStore:
    return S3BlobStore(f"servers-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint, **options)


def _client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def _read(store: S3BlobStore, key: str) -> bytes:
    return b"".join(store.get(key))


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _uploads(store: S3BlobStore) -> list[Any]:
    return list(store._client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []))


def test_the_probe_learns_what_each_server_honours(
    server: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    name, endpoint = server
    store = _store(endpoint)
    try:
        with caplog.at_level(logging.INFO, logger="sangraha_core.storage.s3"):
            assert store.capabilities == FOUND[name]
            assert store.capabilities is store.capabilities
        learnt = [r for r in caplog.records if "honours" in r.getMessage()]
        assert len(learnt) == 1 and learnt[0].levelno == logging.INFO
        assert "conditional_complete=" in learnt[0].getMessage()
        # The probe's scratch keys and uploads are gone again.
        assert list(store.list()) == []
        assert _uploads(store) == []
        # RGW checks Content-MD5 and nothing else: that is what its bodies carry.
        assert store.capabilities.send_md5 == (name == "rgw")
    finally:
        store.close()


def test_a_streamed_create_loses_to_a_rival_that_lands_after_its_head(
    server: tuple[str, str],
) -> None:
    """RGW ignores If-None-Match on CompleteMultipartUpload: a create completed there would
    replace the rival and report success."""
    _, endpoint = server
    store = _store(endpoint, part_size=5 * MiB)
    rival = S3BlobStore(store.bucket, endpoint_url=endpoint)
    try:

        def stream() -> Iterator[bytes]:
            for n in range(11):
                if n == 7:
                    # Part 1 is cut and the HEAD has found nothing; now the rival lands.
                    rival.put("k", b"the rival's bytes")
                yield bytes([n]) * MiB

        with pytest.raises(BlobExistsError):
            store.put("k", stream(), mode="create")
        assert _read(store, "k") == b"the rival's bytes"
        assert _uploads(store) == []
        # With no rival, the same create goes through whole.
        chunks = [bytes([n]) * MiB for n in range(11)]
        result = store.put("fresh", iter(chunks), mode="create")
        assert _read(store, "fresh") == b"".join(chunks)
        assert result.etag == store.head("fresh").etag
    finally:
        rival.close()
        store.close()


class _Corrupting:
    """Flips one byte of the first body each request of one kind sends: a body damaged on
    the way, after its headers were worked out."""

    def __init__(self) -> None:
        self.sent = 0
        self.corrupted = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> None:
        with self._lock:
            self.sent += 1
            if self.corrupted:
                return
            self.corrupted += 1
        body = request.body
        data = bytearray(body.read() if hasattr(body, "read") else body)
        data[len(data) // 2] ^= 0xFF
        request.body = bytes(data)


def test_a_body_damaged_on_the_way_is_refused_and_sent_again(rgw: S3BlobStore) -> None:
    """RGW ignores x-amz-checksum-sha256 and the payload is unsigned: without Content-MD5
    a damaged body is stored as it arrived."""
    puts, parts = _Corrupting(), _Corrupting()
    rgw._client.meta.events.register("before-send.s3.PutObject", puts)
    rgw._client.meta.events.register("before-send.s3.UploadPart", parts)

    small = bytes(range(256)) * 64
    rgw.put("small", small)
    assert _read(rgw, "small") == small
    assert (puts.corrupted, puts.sent) == (1, 2)

    chunks = [bytes([n]) * MiB for n in range(11)]
    rgw.put("streamed", iter(chunks))
    assert _read(rgw, "streamed") == b"".join(chunks)
    assert (parts.corrupted, parts.sent) == (1, 3)  # two parts, the first sent twice

    parts.corrupted = 0
    body = bytes([7]) * 5 * MiB
    upload_id = rgw.create_multipart("session")
    part = rgw.upload_part("session", upload_id, 1, DigestedStream(iter([body])))
    rgw.complete_multipart("session", upload_id, [part])
    assert _read(rgw, "session") == body
    assert parts.corrupted == 1


def test_bodies_carry_content_md5_where_only_that_is_checked(server: tuple[str, str]) -> None:
    name, endpoint = server
    store = _store(endpoint, part_size=5 * MiB)
    sent: list[str | None] = []

    def note(request: Any, **_: Any) -> None:
        md5 = request.headers.get("Content-MD5")
        sent.append(md5.decode() if isinstance(md5, bytes) else md5)

    try:
        store.capabilities  # noqa: B018 - learnt before the hook watches requests
        store._client.meta.events.register("before-send.s3.PutObject", note)
        store._client.meta.events.register("before-send.s3.UploadPart", note)
        store.put("bytes", b"tiny")
        store.put("short", iter([b"ti", b"ny"]))
        chunks = [bytes([n]) * MiB for n in range(6)]
        store.put("long", iter(chunks))
        upload_id = store.create_multipart("session")
        part = store.upload_part("session", upload_id, 1, DigestedStream(iter([b"whole"])))
        store.complete_multipart("session", upload_id, [part])
        whole = b"".join(chunks)
        bodies = [b"tiny", b"tiny", whole[: 5 * MiB], whole[5 * MiB :], b"whole"]
        if name == "rgw":
            assert sent == [_md5(body) for body in bodies]
        else:
            # moto checks neither, so the store spends no CPU on an MD5 nobody reads.
            assert sent == [None] * len(bodies)
    finally:
        store.close()


def test_a_multipart_put_answers_the_etag_head_gives(rgw: S3BlobStore) -> None:
    """RGW's CompleteMultipartUpload answers an empty ETag."""
    result = rgw.put("streamed", iter([bytes([n]) * MiB for n in range(9)]))
    assert result.etag and result.etag == rgw.head("streamed").etag
    upload_id = rgw.create_multipart("session")
    part = rgw.upload_part("session", upload_id, 1, b"only part")
    result = rgw.complete_multipart("session", upload_id, [part])
    assert result.etag and result.etag == rgw.head("session").etag
    assert result.etag.endswith("-1")


def test_an_upload_that_is_gone_is_upload_not_found(rgw: S3BlobStore, rgw_endpoint: str) -> None:
    """After an abort RGW answers ListParts with 404 NoSuchKey and a completion with 500
    ("This multipart completion is already in progress")."""
    upload_id = rgw.create_multipart("k")
    part = rgw.upload_part("k", upload_id, 1, b"data")
    rgw.abort_multipart("k", upload_id)
    with pytest.raises(UploadNotFoundError):
        rgw.upload_part("k", upload_id, 2, b"more")
    with pytest.raises(UploadNotFoundError):
        rgw.complete_multipart("k", upload_id, [part])
    with pytest.raises(UploadNotFoundError):
        rgw.complete_multipart("k", "never-made", [part])

    # Aborted between the store's ListParts and its completion: RGW's 500 is asked about
    # (ListParts again) rather than retried as if the server were down.
    upload_id = rgw.create_multipart("k")
    part = rgw.upload_part("k", upload_id, 1, b"data")
    other = _client(rgw_endpoint)
    completions: list[str] = []

    def abort_first(**_: Any) -> None:
        completions.append(upload_id)
        if len(completions) == 1:
            other.abort_multipart_upload(Bucket=rgw.bucket, Key="k", UploadId=upload_id)

    rgw._client.meta.events.register("before-send.s3.CompleteMultipartUpload", abort_first)
    with pytest.raises(UploadNotFoundError):
        rgw.complete_multipart("k", upload_id, [part])
    assert completions == [upload_id]
    assert not rgw.exists("k")


def test_a_create_on_rgw_goes_as_one_put_object(rgw: S3BlobStore) -> None:
    """A create spooled whole on RGW stores exactly the stream, checked by its MD5."""
    chunks = [bytes([n]) * MiB for n in range(9)]
    rgw.put("whole", iter(chunks), mode="create")
    assert Digest.of(_read(rgw, "whole")) == Digest.of(b"".join(chunks))
    assert "-" not in rgw.head("whole").etag  # one PutObject, not a completion
