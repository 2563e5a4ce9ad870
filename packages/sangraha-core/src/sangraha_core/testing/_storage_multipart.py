"""The multipart half of the blob store suite: parts in any order, re-sent, sized, refused."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sangraha_core import (
    MIN_PART_SIZE,
    ChecksumMismatchError,
    Digest,
    DigestedStream,
    InvalidPartError,
    UploadNotFoundError,
)
from sangraha_core.storage import BlobStore, DigestingJoin, PartResult, SizedParts

from ._storage_support import MiB, chunks, part_data, read

__all__ = ["MultipartConformance"]


def _complete(store: BlobStore, key: str, upload_id: str, parts: list[PartResult]) -> None:
    """Complete, and where the store gives the digest too, check it against the bytes."""
    if not isinstance(store, DigestingJoin):
        store.complete_multipart(key, upload_id, parts)
        return
    result, digest = store.complete_multipart_digest(key, upload_id, parts)
    data = read(store, key)
    assert (result.size, digest) == (len(data), Digest.of(data))


def _sized(store: BlobStore) -> SizedParts:
    if not isinstance(store, SizedParts):
        pytest.skip("the store is not SizedParts, an optional extra")
    return store


class MultipartConformance:
    """Multipart uploads, and the optional ``DigestingJoin`` and ``SizedParts`` extras
    (skipped for a store without them). Part of ``BlobStoreConformance``; the subclass
    gives the ``store`` fixture."""

    def test_multipart_any_order_and_resent_parts(self, store: BlobStore) -> None:
        upload_id = store.create_multipart("mp/obj")
        third = store.upload_part("mp/obj", upload_id, 3, b"tail")
        store.upload_part("mp/obj", upload_id, 1, part_data(9, MIN_PART_SIZE))
        second = store.upload_part("mp/obj", upload_id, 2, chunks(part_data(2, MIN_PART_SIZE), MiB))
        # A re-sent part replaces the first copy.
        first = store.upload_part("mp/obj", upload_id, 1, part_data(1, MIN_PART_SIZE))
        assert (first.part_number, first.size) == (1, MIN_PART_SIZE)
        assert not store.exists("mp/obj")
        result = store.complete_multipart("mp/obj", upload_id, [third, first, second])
        assert result.size == 2 * MIN_PART_SIZE + 4
        assert store.head("mp/obj").size == result.size
        data = read(store, "mp/obj")
        assert data == part_data(1, MIN_PART_SIZE) + part_data(2, MIN_PART_SIZE) + b"tail"
        # Multipart internals never show in a listing.
        assert [info.key for info in store.list()] == ["mp/obj"]

    def test_a_join_keeps_only_the_parts_it_names(self, store: BlobStore) -> None:
        """S3's CompleteMultipartUpload: parts sent but not named are dropped, and the
        numbers kept may have gaps."""
        upload_id = store.create_multipart("some")
        data = {n: part_data(n, MIN_PART_SIZE) for n in (1, 2, 3)}
        data[4] = b"tail"
        parts = {n: store.upload_part("some", upload_id, n, data[n]) for n in (2, 4, 1, 3)}
        _complete(store, "some", upload_id, [parts[1], parts[3], parts[4]])
        assert read(store, "some") == data[1] + data[3] + data[4]
        assert [info.key for info in store.list()] == ["some"]

    def test_a_join_of_the_first_sized_parts_only(self, store: BlobStore) -> None:
        """Sized parts placed in one file: a join of the first of them ends the object
        there, whatever the parts after them hold."""
        sizing = _sized(store)
        upload_id = store.create_multipart("front")
        data = {n: part_data(n, MIN_PART_SIZE) for n in (1, 2, 3)}
        parts = {
            n: sizing.upload_part_sized("front", upload_id, n, data[n], MIN_PART_SIZE)
            for n in (3, 1, 2)
        }
        _complete(store, "front", upload_id, [parts[1], parts[2]])
        assert read(store, "front") == data[1] + data[2]

    def test_a_digesting_join_gives_the_digest_of_the_joined_bytes(self, store: BlobStore) -> None:
        if not isinstance(store, DigestingJoin):
            pytest.skip("the store is not DigestingJoin, an optional extra")
        upload_id = store.create_multipart("seen")
        parts = [
            store.upload_part("seen", upload_id, 2, part_data(2, MIN_PART_SIZE)),
            store.upload_part("seen", upload_id, 3, b"tail"),
            store.upload_part("seen", upload_id, 1, part_data(1, MIN_PART_SIZE)),
        ]
        _complete(store, "seen", upload_id, parts)
        expected = part_data(1, MIN_PART_SIZE) + part_data(2, MIN_PART_SIZE) + b"tail"
        assert read(store, "seen") == expected

    def test_sized_parts_in_any_order_in_parallel_and_resent(self, store: BlobStore) -> None:
        sizing = _sized(store)
        size = MIN_PART_SIZE
        data = {n: part_data(n, size) for n in range(1, 6)}
        data[6] = b"short tail"

        def send(n: int) -> PartResult:
            return sizing.upload_part_sized(
                "sized", upload_id, n, chunks(data[n], MiB), len(data[n])
            )

        upload_id = store.create_multipart("sized")
        with ThreadPoolExecutor(4) as pool:
            parts = dict(zip([6, 3, 1, 5, 2, 4], pool.map(send, [6, 3, 1, 5, 2, 4]), strict=True))
        # Sent again with the same bytes, and with others: the last sending counts.
        parts[2] = send(2)
        data[4] = part_data(44, size)
        parts[4] = send(4)
        # Unsized sends mix with sized ones.
        data[5] = part_data(55, size)
        parts[5] = store.upload_part("sized", upload_id, 5, data[5])
        _complete(store, "sized", upload_id, [parts[n] for n in (4, 1, 6, 2, 5, 3)])
        assert read(store, "sized") == b"".join(data[n] for n in range(1, 7))
        assert [info.key for info in store.list()] == ["sized"]

    def test_sized_parts_of_mixed_sizes_still_join(self, store: BlobStore) -> None:
        sizing = _sized(store)
        upload_id = store.create_multipart("mixed")
        sizes = [MIN_PART_SIZE + 3, MIN_PART_SIZE, MIN_PART_SIZE + 1, 7]
        data = [part_data(n + 1, size) for n, size in enumerate(sizes)]
        parts = [
            sizing.upload_part_sized("mixed", upload_id, n + 1, chunk, len(chunk))
            for n, chunk in enumerate(data)
        ]
        _complete(store, "mixed", upload_id, parts)
        assert read(store, "mixed") == b"".join(data)

    def test_sized_parts_with_a_gap_in_their_numbers_join_in_order(self, store: BlobStore) -> None:
        sizing = _sized(store)
        upload_id = store.create_multipart("gap")
        first, third = part_data(1, MIN_PART_SIZE), part_data(3, MIN_PART_SIZE)
        parts = [
            sizing.upload_part_sized("gap", upload_id, 3, third, MIN_PART_SIZE),
            sizing.upload_part_sized("gap", upload_id, 1, first, MIN_PART_SIZE),
        ]
        _complete(store, "gap", upload_id, parts)
        assert read(store, "gap") == first + third

    def test_a_sized_part_must_hold_its_size(self, store: BlobStore) -> None:
        sizing = _sized(store)
        upload_id = store.create_multipart("exact")
        body = part_data(1, MIN_PART_SIZE)
        with pytest.raises(InvalidPartError):
            sizing.upload_part_sized("exact", upload_id, 1, body, MIN_PART_SIZE - 1)
        with pytest.raises(InvalidPartError):
            sizing.upload_part_sized("exact", upload_id, 1, body, MIN_PART_SIZE + 1)

        def cut_short() -> Iterator[bytes]:
            yield body[:MiB]
            raise ConnectionError("the client went away")

        with pytest.raises(ConnectionError):
            sizing.upload_part_sized("exact", upload_id, 1, cut_short(), MIN_PART_SIZE)
        # None of those failed sendings is taken for the part; a whole one is.
        first = sizing.upload_part_sized("exact", upload_id, 1, body, MIN_PART_SIZE)
        # Sent again, wrongly: refused, and the part sent before still stands.
        with pytest.raises(InvalidPartError):
            sizing.upload_part_sized("exact", upload_id, 1, body[:-1], MIN_PART_SIZE)
        last = sizing.upload_part_sized("exact", upload_id, 2, b"end", 3)
        _complete(store, "exact", upload_id, [first, last])
        assert read(store, "exact") == body + b"end"

    @pytest.mark.parametrize("sized", [False, True], ids=["upload_part", "upload_part_sized"])
    def test_a_resent_part_refused_at_its_end_leaves_the_part_before(
        self, store: BlobStore, sized: bool
    ) -> None:
        """A stream may refuse itself only once read through (a ``DigestedStream`` whose bytes
        are not the declared ones): the store has then seen every byte, and must keep none."""
        sizing = _sized(store) if sized else None
        upload_id = store.create_multipart("refused")
        good, bad = part_data(1, MIN_PART_SIZE), part_data(7, MIN_PART_SIZE)

        def send(data: DigestedStream) -> PartResult:
            if sizing is None:
                return store.upload_part("refused", upload_id, 1, data)
            return sizing.upload_part_sized("refused", upload_id, 1, data, MIN_PART_SIZE)

        first = send(DigestedStream(chunks(good, MiB)))
        with pytest.raises(ChecksumMismatchError):
            send(DigestedStream(chunks(bad, MiB), expected=Digest.of(good)))
        last = store.upload_part("refused", upload_id, 2, b"end")
        _complete(store, "refused", upload_id, [first, last])
        assert read(store, "refused") == good + b"end"

    def test_multipart_min_part_size(self, store: BlobStore) -> None:
        upload_id = store.create_multipart("small")
        parts = [
            store.upload_part("small", upload_id, 1, b"too small"),
            store.upload_part("small", upload_id, 2, b"last"),
        ]
        with pytest.raises(InvalidPartError):
            store.complete_multipart("small", upload_id, parts)
        assert not store.exists("small")
        store.abort_multipart("small", upload_id)
        # A single small part is fine: it is the last one.
        upload_id = store.create_multipart("single")
        part = store.upload_part("single", upload_id, 1, b"only part")
        store.complete_multipart("single", upload_id, [part])
        assert read(store, "single") == b"only part"

    def test_multipart_abort(self, store: BlobStore) -> None:
        upload_id = store.create_multipart("aborted")
        part = store.upload_part("aborted", upload_id, 1, b"data")
        store.abort_multipart("aborted", upload_id)
        store.abort_multipart("aborted", upload_id)
        # An upload that is gone is gone, whatever each server answers (moto a 500 for both,
        # RGW 404 NoSuchKey to ListParts and 500 to the completion).
        with pytest.raises(UploadNotFoundError):
            store.upload_part("aborted", upload_id, 2, b"more")
        with pytest.raises(UploadNotFoundError):
            store.complete_multipart("aborted", upload_id, [part])
        assert not store.exists("aborted")
        assert list(store.list()) == []
