"""Upload sessions opened without a type: the assembled bytes decide it at completion, as a
PutObject's first bytes do, and a validated bucket refuses there what matches nothing."""

from __future__ import annotations

import pytest

from sangraha_core import (
    SNIFF_SIZE,
    Backends,
    BucketKinds,
    ObjectKind,
    ObjectNotFoundError,
    UnsupportedContentTypeError,
    Uploads,
    UploadStateError,
    UploadStatus,
    sniff,
    staging_key,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, "image/png"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b'{"a": 1}', "application/json"),
        (b"\n\t  [1, 2]", "application/json"),
        (b" " * (SNIFF_SIZE - 1) + b"{", "application/json"),
        (b"PK\x03\x04", "application/zip"),
        (b"hello", None),
        (b"", None),
    ],
)
def test_sniff_decides_from_the_first_bytes(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


def test_a_session_opened_without_a_type_is_typed_by_its_bytes(backends: Backends) -> None:
    backends.metadata.create_bucket("strict", BucketKinds.VALIDATED)
    uploads = Uploads(backends)
    session = uploads.open("strict", "doc.json", None, create_bucket=False)
    # Until completion the session holds a placeholder, recorded as such.
    stored = uploads.get(session.id)
    assert stored.type_from_bytes
    assert (stored.content_type, stored.kind) == ("application/octet-stream", ObjectKind.OPAQUE)
    uploads.put_part(session.id, 1, [b"  \n", b'{"a": [1, 2]}'])
    record = uploads.complete(session.id)
    assert (record.content_type, record.kind) == ("application/json", ObjectKind.JSON)
    assert backends.metadata.get_object(record.id).kind is ObjectKind.JSON


def test_a_typed_session_keeps_its_type_whatever_its_bytes(backends: Backends) -> None:
    uploads = Uploads(backends)
    session = uploads.open("typed", "odd.json", "application/json")
    assert not uploads.get(session.id).type_from_bytes
    uploads.put_part(session.id, 1, [PNG])
    assert uploads.complete(session.id).content_type == "application/json"


def test_an_any_bucket_keeps_unknown_bytes_opaque(backends: Backends) -> None:
    backends.metadata.create_bucket("loose", BucketKinds.ANY)
    uploads = Uploads(backends)
    blob = uploads.open("loose", "blob.bin", None, create_bucket=False)
    uploads.put_part(blob.id, 1, [b"just bytes"])
    record = uploads.complete(blob.id)
    assert (record.content_type, record.kind) == ("application/octet-stream", ObjectKind.OPAQUE)
    image = uploads.open("loose", "pic", None, create_bucket=False)
    uploads.put_part(image.id, 1, [PNG])
    assert uploads.complete(image.id).kind is ObjectKind.IMAGE


@pytest.mark.parametrize("body", [b"just bytes", b"PK\x03\x04 a zip", b""])
def test_a_validated_bucket_refuses_unmatched_bytes_at_completion(
    backends: Backends, body: bytes
) -> None:
    backends.metadata.create_bucket("strict", BucketKinds.VALIDATED)
    uploads = Uploads(backends)
    session = uploads.open("strict", "mystery", None, create_bucket=False)
    uploads.put_part(session.id, 1, [body])
    with pytest.raises(UnsupportedContentTypeError):
        uploads.complete(session.id)
    assert uploads.get(session.id).status is UploadStatus.ABORTED
    assert not backends.blobs.exists(staging_key(session.id))
    with pytest.raises(ObjectNotFoundError):
        backends.metadata.get_object(session.id)
    with pytest.raises(UploadStateError):
        uploads.complete(session.id)


def test_the_policy_at_completion_decides(backends: Backends) -> None:
    backends.metadata.create_bucket("switching", BucketKinds.ANY)
    uploads = Uploads(backends)
    session = uploads.open("switching", "mystery", None, create_bucket=False)
    uploads.put_part(session.id, 1, [b"just bytes"])
    backends.bucket_cache.set_kinds("switching", BucketKinds.VALIDATED)
    with pytest.raises(UnsupportedContentTypeError):
        uploads.complete(session.id)
