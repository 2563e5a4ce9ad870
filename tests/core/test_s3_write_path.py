"""What the S3 API needs of the write path: ETags of single and multipart uploads, and a
completion that keeps only the parts it names (S3's CompleteMultipartUpload)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from sangraha_core import (
    MIN_PART_SIZE,
    Backends,
    ChecksumMismatchError,
    Digest,
    Ingest,
    InvalidPartError,
    InvalidPartOrderError,
    ListQuery,
    ObjectStatus,
    PartTooSmallError,
    Uploads,
    UploadStateError,
    UploadStatus,
    staging_key,
)

PART = MIN_PART_SIZE
BODY = b'{"hello": "world"}'


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(*parts: bytes) -> str:
    """S3's ETag of an object made of ``parts``, worked out independently of the core."""
    joined = b"".join(hashlib.md5(part).digest() for part in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def pieces(data: bytes, size: int = 7) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def part_body(seed: int, size: int = PART) -> bytes:
    """JSON bytes (an array of digits), different for each seed."""
    digits = (str(seed) * size).encode()[: size - 2]
    return b"[" + digits + b"]"


def staged(backends: Backends, record_id: str) -> bytes:
    return b"".join(backends.blobs.get(staging_key(record_id)))


# -- single uploads ---------------------------------------------------------------------


def test_an_upload_asked_for_its_md5_carries_it_as_its_etag(backends: Backends) -> None:
    ingest = Ingest(backends)
    record = ingest.accept("bucket-s3", "a.json", "application/json", pieces(BODY), md5=True)
    assert record.etag == md5(BODY)
    assert backends.metadata.get_object(record.id).etag == md5(BODY)
    plain = ingest.accept("bucket-s3", "b.json", "application/json", pieces(BODY))
    assert plain.etag is None
    assert backends.metadata.get_object(plain.id).etag is None


def test_a_declared_md5_is_checked_and_implies_the_etag(backends: Backends) -> None:
    ingest = Ingest(backends)
    record = ingest.accept(
        "bucket-s3", "a.json", "application/json", pieces(BODY), declared_md5=md5(BODY).upper()
    )
    assert record.etag == md5(BODY)
    with pytest.raises(ChecksumMismatchError):
        ingest.accept(
            "bucket-s3", "b.json", "application/json", pieces(BODY), declared_md5=md5(b"other")
        )
    # Refused bytes leave nothing: no record, no staged copy.
    listed = backends.metadata.list_objects(ListQuery(bucket="bucket-s3")).items
    assert [r.key for r in listed] == ["a.json"]
    assert [info.key for info in backends.blobs.list("staging/")] == [staging_key(record.id)]


def test_an_idempotent_replay_answers_the_first_record_and_its_etag(backends: Backends) -> None:
    ingest = Ingest(backends)
    first = ingest.accept(
        "bucket-s3", "a.json", "application/json", pieces(BODY), md5=True, idempotency_key="k1"
    )
    again = ingest.accept(
        "bucket-s3", "a.json", "application/json", pieces(BODY), md5=True, idempotency_key="k1"
    )
    assert again.id == first.id and again.etag == md5(BODY)
    declared = ingest.accept(
        "bucket-s3",
        "a.json",
        "application/json",
        pieces(BODY),
        declared_digest=Digest.of(BODY),
        declared_md5=md5(BODY),
        idempotency_key="k1",
    )
    assert declared.id == first.id
    # The same body with a Content-MD5 it does not have is refused, read or not.
    with pytest.raises(ChecksumMismatchError):
        ingest.accept(
            "bucket-s3",
            "a.json",
            "application/json",
            pieces(BODY),
            declared_md5=md5(b"other"),
            idempotency_key="k1",
        )
    with pytest.raises(ChecksumMismatchError):
        ingest.accept(
            "bucket-s3",
            "a.json",
            "application/json",
            pieces(BODY),
            declared_digest=Digest.of(BODY),
            declared_md5=md5(b"other"),
            idempotency_key="k1",
        )


# -- multipart uploads ------------------------------------------------------------------


@pytest.fixture
def uploads(backends: Backends) -> Uploads:
    return Uploads(backends)


def test_min_part_size_is_s3s() -> None:
    assert MIN_PART_SIZE == 5 * 1024 * 1024


def test_parts_carry_their_md5_and_the_object_the_multipart_etag(
    backends: Backends, uploads: Uploads
) -> None:
    one, two, tail = part_body(1), part_body(2), b"[3]"
    session = uploads.open("bucket-s3", "big.json", "application/json")
    sent = [
        uploads.put_part(session.id, 2, pieces(two, 1 << 20), md5=True),
        uploads.put_part(session.id, 1, pieces(one, 1 << 20), md5=True, size=len(one)),
        uploads.put_part(session.id, 3, [tail], declared_md5=md5(tail)),
    ]
    assert [p.md5 for p in sent] == [md5(two), md5(one), md5(tail)]
    assert [p.md5 for p in uploads.get(session.id).parts] == [md5(one), md5(two), md5(tail)]
    record = uploads.complete(
        session.id, parts=[(1, f'"{md5(one)}"'), (2, md5(two).upper()), (3, md5(tail))]
    )
    assert record.etag == multipart_etag(one, two, tail)
    assert backends.metadata.get_object(record.id).etag == record.etag
    assert staged(backends, record.id) == one + two + tail
    assert record.digest == Digest.of(one + two + tail)
    # Completing again answers the same record.
    assert uploads.complete(session.id, parts=[(1, None)]).id == record.id


def test_a_wrong_declared_part_md5_keeps_the_part_sent_before(uploads: Uploads) -> None:
    session = uploads.open("bucket-s3", "big.json", "application/json")
    first = uploads.put_part(session.id, 1, [b"[1]"], md5=True)
    with pytest.raises(ChecksumMismatchError):
        uploads.put_part(session.id, 1, [b"[2]"], declared_md5=md5(b"[1]"))
    assert uploads.get(session.id).parts == [first]


def test_complete_keeps_only_the_named_parts(backends: Backends, uploads: Uploads) -> None:
    bodies = {n: part_body(n) for n in (1, 2, 3, 4)}
    bodies[5] = b"[5]"
    session = uploads.open("bucket-s3", "subset.json", "application/json")
    for number in (5, 3, 1, 2, 4):
        uploads.put_part(session.id, number, [bodies[number]], md5=True)
    # Part 2 and 4 were sent, then left out; the numbers kept have gaps.
    record = uploads.complete(
        session.id, parts=[(1, md5(bodies[1])), (3, md5(bodies[3])), (5, md5(bodies[5]))]
    )
    kept = bodies[1] + bodies[3] + bodies[5]
    assert staged(backends, record.id) == kept
    assert (record.size, record.digest) == (len(kept), Digest.of(kept))
    assert record.etag == multipart_etag(bodies[1], bodies[3], bodies[5])
    assert uploads.get(session.id).status is UploadStatus.COMPLETED


def test_complete_with_the_first_parts_only(backends: Backends, uploads: Uploads) -> None:
    """Sized parts sit in one file in place; dropping the last ones must cut it short."""
    one, two, three = part_body(1), part_body(2), part_body(3)
    session = uploads.open("bucket-s3", "front.json", "application/json")
    for number, body in ((1, one), (2, two), (3, three)):
        uploads.put_part(session.id, number, [body], size=len(body), md5=True)
    record = uploads.complete(session.id, parts=[(1, md5(one)), (2, md5(two))])
    assert staged(backends, record.id) == one + two
    assert record.digest == Digest.of(one + two)


def test_named_parts_are_checked_as_s3_checks_them(uploads: Uploads) -> None:
    one, two = part_body(1), part_body(2)
    session = uploads.open("bucket-s3", "checked.json", "application/json")
    uploads.put_part(session.id, 1, [one], md5=True)
    uploads.put_part(session.id, 2, [two], md5=True)
    small = uploads.put_part(session.id, 3, [b"[3]"], md5=True)
    uploads.put_part(session.id, 4, [b"[4]"])  # no MD5: its store etag names it
    with pytest.raises(InvalidPartOrderError):
        uploads.complete(session.id, parts=[(2, md5(two)), (1, md5(one))])
    with pytest.raises(InvalidPartOrderError):
        uploads.complete(session.id, parts=[(1, md5(one)), (1, md5(one))])
    with pytest.raises(InvalidPartError, match="not uploaded"):
        uploads.complete(session.id, parts=[(1, md5(one)), (7, None)])
    with pytest.raises(InvalidPartError, match="another ETag"):
        uploads.complete(session.id, parts=[(1, md5(two)), (2, md5(two))])
    with pytest.raises(PartTooSmallError):
        uploads.complete(session.id, parts=[(1, md5(one)), (3, small.md5), (4, None)])
    with pytest.raises(PartTooSmallError):
        uploads.complete(session.id, parts=[(3, small.md5), (4, None)])
    with pytest.raises(InvalidPartError):
        uploads.complete(session.id, parts=[])
    # Each refusal is an InvalidPartError, and none of them ended the session.
    assert issubclass(InvalidPartOrderError, InvalidPartError)
    assert issubclass(PartTooSmallError, InvalidPartError)
    assert uploads.get(session.id).status is UploadStatus.OPEN
    # A part without an MD5 is named by its store etag, and makes no multipart ETag.
    fourth = uploads.get(session.id).parts[3]
    record = uploads.complete(session.id, parts=[(1, md5(one)), (4, fourth.etag)])
    assert record.etag is None
    assert record.status is ObjectStatus.PENDING


def test_without_named_parts_every_part_is_kept_and_must_run_1_to_n(uploads: Uploads) -> None:
    session = uploads.open("bucket-s3", "all.json", "application/json")
    uploads.put_part(session.id, 2, [b"[2]"], md5=True)
    with pytest.raises(UploadStateError):
        uploads.complete(session.id)
    one = part_body(1)
    uploads.put_part(session.id, 1, [one])  # no MD5 for this one
    record = uploads.complete(session.id)
    assert record.etag is None
    assert record.size == len(one) + 3


def test_a_small_part_but_the_last_is_too_small_without_named_parts(uploads: Uploads) -> None:
    session = uploads.open("bucket-s3", "small.json", "application/json")
    uploads.put_part(session.id, 1, [b"[1]"])
    uploads.put_part(session.id, 2, [b"[2]"])
    with pytest.raises(PartTooSmallError):
        uploads.complete(session.id)


# -- on the wire ------------------------------------------------------------------------


def test_the_sdk_reads_the_etag_and_the_part_md5(backends: Backends, uploads: Uploads) -> None:
    import sangraha_client

    record = Ingest(backends).accept(
        "bucket-s3", "a.json", "application/json", pieces(BODY), md5=True
    )
    wire = record.model_dump_json()
    assert f'"etag":"{md5(BODY)}"' in wire
    assert sangraha_client.ObjectRecord.model_validate_json(wire).etag == md5(BODY)
    # A record from a server that predates the field reads as having none.
    older = record.model_dump(mode="json")
    del older["etag"]
    assert sangraha_client.ObjectRecord.model_validate(older).etag is None
    session = uploads.open("bucket-s3", "p.json", "application/json")
    part = uploads.put_part(session.id, 1, [BODY], md5=True)
    assert sangraha_client.PartRecord.model_validate_json(part.model_dump_json()).md5 == md5(BODY)
