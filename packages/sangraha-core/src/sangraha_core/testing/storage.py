"""The one behaviour suite every blob store passes (see the ``blob_store`` fixture)."""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sangraha_core import (
    MIN_PART_SIZE,
    BlobExistsError,
    BlobNotFoundError,
    ChecksumMismatchError,
    Digest,
    DigestedStream,
    InvalidPartError,
    InvalidRangeError,
    UploadNotFoundError,
)
from sangraha_core.storage import BlobReader, BlobStore, DigestingJoin, PartResult, SizedParts

MiB = 1024 * 1024


def read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.get(key, start=start, end=end))


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def test_round_trip_bytes(blob_store: BlobStore) -> None:
    assert isinstance(blob_store, BlobStore)
    result = blob_store.put("a/b/c.bin", b"hello world")
    assert (result.key, result.size) == ("a/b/c.bin", 11)
    assert read(blob_store, "a/b/c.bin") == b"hello world"
    info = blob_store.head("a/b/c.bin")
    assert (info.key, info.size, info.etag) == ("a/b/c.bin", 11, result.etag)
    assert info.last_modified.tzinfo is not None
    assert blob_store.exists("a/b/c.bin")


def test_round_trip_iterator(blob_store: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    result = blob_store.put("stream", chunks(data, 7000))
    assert result.size == len(data)
    assert read(blob_store, "stream") == data
    assert blob_store.head("stream").etag == result.etag


def test_empty_blob(blob_store: BlobStore) -> None:
    assert blob_store.put("empty", b"").size == 0
    assert read(blob_store, "empty") == b""
    assert blob_store.head("empty").size == 0
    assert blob_store.put("empty-stream", iter([])).size == 0
    assert read(blob_store, "empty-stream") == b""
    assert read(blob_store, "empty", start=0, end=10) == b""


def test_ranges(blob_store: BlobStore) -> None:
    data = bytes(range(100))
    blob_store.put("r", data)
    assert read(blob_store, "r", start=10) == data[10:]
    assert read(blob_store, "r", start=10, end=20) == data[10:20]
    assert read(blob_store, "r", end=5) == data[:5]
    assert read(blob_store, "r", start=90, end=1000) == data[90:]
    assert read(blob_store, "r", start=100) == b""
    assert read(blob_store, "r", start=50, end=50) == b""
    with pytest.raises(InvalidRangeError) as caught:
        read(blob_store, "r", start=101)
    assert caught.value.size == 100
    with pytest.raises(InvalidRangeError):
        read(blob_store, "r", start=-1)


def test_missing_key(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFoundError):
        blob_store.get("nope")
    with pytest.raises(FileNotFoundError):
        blob_store.get("nope/deeper", start=3, end=9)
    with pytest.raises(BlobNotFoundError):
        blob_store.head("nope")
    with pytest.raises(BlobNotFoundError):
        blob_store.copy("nope", "elsewhere")
    assert not blob_store.exists("nope")


def test_create_mode_conflict(blob_store: BlobStore) -> None:
    blob_store.put("k", b"first", mode="create")
    with pytest.raises(BlobExistsError):
        blob_store.put("k", b"second", mode="create")
    with pytest.raises(FileExistsError):
        blob_store.put("k", iter([b"third"]), mode="create")
    assert read(blob_store, "k") == b"first"


def test_concurrent_creates_have_one_winner(blob_store: BlobStore) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def create(n: int) -> None:
        barrier.wait()
        try:
            blob_store.put("race", f"writer {n}".encode(), mode="create")
            outcomes.append(f"writer {n}")
        except BlobExistsError:
            outcomes.append("lost")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o != "lost"]
    assert len(winners) == 1
    assert read(blob_store, "race") == winners[0].encode()


def test_overwrite(blob_store: BlobStore) -> None:
    first = blob_store.put("k", b"one")
    second = blob_store.put("k", iter([b"tw", b"o!"]))
    assert read(blob_store, "k") == b"two!"
    assert blob_store.head("k").size == 4
    assert first.etag != second.etag


@pytest.mark.parametrize("existing", [b"old value", None])
def test_reader_never_sees_a_partial_put(blob_store: BlobStore, existing: bytes | None) -> None:
    if existing is not None:
        blob_store.put("atomic", existing)
    started, proceed = threading.Event(), threading.Event()
    new = b"N" * 100_000

    def slow() -> Iterator[bytes]:
        yield new[:50_000]
        started.set()
        assert proceed.wait(10)
        yield new[50_000:]

    errors: list[BaseException] = []

    def writer() -> None:
        try:
            blob_store.put("atomic", slow())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(10)
        for _ in range(3):
            if existing is None:
                assert not blob_store.exists("atomic")
                with pytest.raises(BlobNotFoundError):
                    read(blob_store, "atomic")
            else:
                assert read(blob_store, "atomic") == existing
        assert [info.key for info in blob_store.list()] == ([] if existing is None else ["atomic"])
    finally:
        proceed.set()
        thread.join()
    assert not errors
    assert read(blob_store, "atomic") == new


def test_copy(blob_store: BlobStore) -> None:
    blob_store.put("src/one", b"payload")
    blob_store.put("dst/two", b"old")
    blob_store.copy("src/one", "dst/one")
    blob_store.copy("src/one", "dst/two")
    assert read(blob_store, "dst/one") == b"payload"
    assert read(blob_store, "dst/two") == b"payload"
    blob_store.delete("src/one")
    assert read(blob_store, "dst/one") == b"payload"


def test_list_by_prefix_in_key_order(blob_store: BlobStore) -> None:
    keys = ["b", "a/z", "a-c", "a/b/c", "a/b", "ab", "c/d/e/f", "a.x"]
    if "a/b" in keys and "a/b/c" in keys and type(blob_store).__name__ == "FileBlobStore":
        # A file store cannot hold both a blob and a directory of the same name.
        keys.remove("a/b")
    for key in keys:
        blob_store.put(key, key.encode())
    listed = list(blob_store.list())
    assert [info.key for info in listed] == sorted(keys)
    assert [info.size for info in listed] == [len(k) for k in sorted(keys)]
    assert [info.key for info in blob_store.list("a/")] == sorted(k for k in keys if k[:2] == "a/")
    assert [info.key for info in blob_store.list("a")] == sorted(k for k in keys if k[0] == "a")
    assert [info.key for info in blob_store.list("c/d/e")] == ["c/d/e/f"]
    assert list(blob_store.list("zzz")) == []


def test_delete_is_idempotent(blob_store: BlobStore) -> None:
    blob_store.put("d/e", b"x")
    blob_store.delete("d/e")
    blob_store.delete("d/e")
    blob_store.delete("never/there")
    assert not blob_store.exists("d/e")
    with pytest.raises(BlobNotFoundError):
        read(blob_store, "d/e")
    # The name is free again, also as a blob where a directory used to be.
    blob_store.put("d", b"now a blob")
    assert read(blob_store, "d") == b"now a blob"


def _part_data(n: int, size: int) -> bytes:
    return bytes([n]) * size


def test_multipart_any_order_and_resent_parts(blob_store: BlobStore) -> None:
    upload_id = blob_store.create_multipart("mp/obj")
    third = blob_store.upload_part("mp/obj", upload_id, 3, b"tail")
    blob_store.upload_part("mp/obj", upload_id, 1, _part_data(9, MIN_PART_SIZE))
    second = blob_store.upload_part(
        "mp/obj", upload_id, 2, chunks(_part_data(2, MIN_PART_SIZE), MiB)
    )
    # A re-sent part replaces the first copy.
    first = blob_store.upload_part("mp/obj", upload_id, 1, _part_data(1, MIN_PART_SIZE))
    assert (first.part_number, first.size) == (1, MIN_PART_SIZE)
    assert not blob_store.exists("mp/obj")
    result = blob_store.complete_multipart("mp/obj", upload_id, [third, first, second])
    assert result.size == 2 * MIN_PART_SIZE + 4
    assert blob_store.head("mp/obj").size == result.size
    data = read(blob_store, "mp/obj")
    assert data == _part_data(1, MIN_PART_SIZE) + _part_data(2, MIN_PART_SIZE) + b"tail"
    # Multipart internals never show in a listing.
    assert [info.key for info in blob_store.list()] == ["mp/obj"]


def _complete(blob_store: BlobStore, key: str, upload_id: str, parts: list[PartResult]) -> None:
    """Complete, and where the store gives the digest too, check it against the bytes."""
    if not isinstance(blob_store, DigestingJoin):
        blob_store.complete_multipart(key, upload_id, parts)
        return
    result, digest = blob_store.complete_multipart_digest(key, upload_id, parts)
    data = read(blob_store, key)
    assert (result.size, digest) == (len(data), Digest.of(data))


def test_a_digesting_join_gives_the_digest_of_the_joined_bytes(blob_store: BlobStore) -> None:
    if not isinstance(blob_store, DigestingJoin):
        pytest.skip("an optional extra this store does without")
    upload_id = blob_store.create_multipart("seen")
    parts = [
        blob_store.upload_part("seen", upload_id, 2, _part_data(2, MIN_PART_SIZE)),
        blob_store.upload_part("seen", upload_id, 3, b"tail"),
        blob_store.upload_part("seen", upload_id, 1, _part_data(1, MIN_PART_SIZE)),
    ]
    _complete(blob_store, "seen", upload_id, parts)
    expected = _part_data(1, MIN_PART_SIZE) + _part_data(2, MIN_PART_SIZE) + b"tail"
    assert read(blob_store, "seen") == expected


def _sized(blob_store: BlobStore) -> SizedParts:
    if not isinstance(blob_store, SizedParts):
        pytest.skip("an optional extra this store does without")
    return blob_store


def test_sized_parts_in_any_order_in_parallel_and_resent(blob_store: BlobStore) -> None:
    store = _sized(blob_store)
    size = MIN_PART_SIZE
    data = {n: _part_data(n, size) for n in range(1, 6)}
    data[6] = b"short tail"

    def send(n: int) -> PartResult:
        return store.upload_part_sized("sized", upload_id, n, chunks(data[n], MiB), len(data[n]))

    upload_id = blob_store.create_multipart("sized")
    with ThreadPoolExecutor(4) as pool:
        parts = dict(zip([6, 3, 1, 5, 2, 4], pool.map(send, [6, 3, 1, 5, 2, 4]), strict=True))
    # Sent again with the same bytes, and with others: the last sending counts.
    parts[2] = send(2)
    data[4] = _part_data(44, size)
    parts[4] = send(4)
    # Unsized sends mix with sized ones.
    data[5] = _part_data(55, size)
    parts[5] = blob_store.upload_part("sized", upload_id, 5, data[5])
    _complete(blob_store, "sized", upload_id, [parts[n] for n in (4, 1, 6, 2, 5, 3)])
    assert read(blob_store, "sized") == b"".join(data[n] for n in range(1, 7))
    assert [info.key for info in blob_store.list()] == ["sized"]


def test_sized_parts_of_mixed_sizes_still_join(blob_store: BlobStore) -> None:
    store = _sized(blob_store)
    upload_id = blob_store.create_multipart("mixed")
    sizes = [MIN_PART_SIZE + 3, MIN_PART_SIZE, MIN_PART_SIZE + 1, 7]
    data = [_part_data(n + 1, size) for n, size in enumerate(sizes)]
    parts = [
        store.upload_part_sized("mixed", upload_id, n + 1, chunk, len(chunk))
        for n, chunk in enumerate(data)
    ]
    _complete(blob_store, "mixed", upload_id, parts)
    assert read(blob_store, "mixed") == b"".join(data)


def test_sized_parts_with_a_gap_in_their_numbers_join_in_order(blob_store: BlobStore) -> None:
    store = _sized(blob_store)
    upload_id = blob_store.create_multipart("gap")
    first, third = _part_data(1, MIN_PART_SIZE), _part_data(3, MIN_PART_SIZE)
    parts = [
        store.upload_part_sized("gap", upload_id, 3, third, MIN_PART_SIZE),
        store.upload_part_sized("gap", upload_id, 1, first, MIN_PART_SIZE),
    ]
    _complete(blob_store, "gap", upload_id, parts)
    assert read(blob_store, "gap") == first + third


def test_a_sized_part_must_hold_its_size(blob_store: BlobStore) -> None:
    store = _sized(blob_store)
    upload_id = blob_store.create_multipart("exact")
    body = _part_data(1, MIN_PART_SIZE)
    with pytest.raises(InvalidPartError):
        store.upload_part_sized("exact", upload_id, 1, body, MIN_PART_SIZE - 1)
    with pytest.raises(InvalidPartError):
        store.upload_part_sized("exact", upload_id, 1, body, MIN_PART_SIZE + 1)

    def cut_short() -> Iterator[bytes]:
        yield body[:MiB]
        raise ConnectionError("the client went away")

    with pytest.raises(ConnectionError):
        store.upload_part_sized("exact", upload_id, 1, cut_short(), MIN_PART_SIZE)
    # None of those failed sendings is taken for the part; a whole one is.
    first = store.upload_part_sized("exact", upload_id, 1, body, MIN_PART_SIZE)
    # Sent again, wrongly: refused, and the part sent before still stands.
    with pytest.raises(InvalidPartError):
        store.upload_part_sized("exact", upload_id, 1, body[:-1], MIN_PART_SIZE)
    last = store.upload_part_sized("exact", upload_id, 2, b"end", 3)
    _complete(blob_store, "exact", upload_id, [first, last])
    assert read(blob_store, "exact") == body + b"end"


@pytest.mark.parametrize("sized", [False, True], ids=["upload_part", "upload_part_sized"])
def test_a_resent_part_refused_at_its_end_leaves_the_part_before(
    blob_store: BlobStore, sized: bool
) -> None:
    """A stream may refuse itself only once read through (a ``DigestedStream`` whose bytes
    are not the declared ones): the store has then seen every byte, and must keep none."""
    store = _sized(blob_store) if sized else None
    upload_id = blob_store.create_multipart("refused")
    good, bad = _part_data(1, MIN_PART_SIZE), _part_data(7, MIN_PART_SIZE)

    def send(data: DigestedStream) -> PartResult:
        if store is None:
            return blob_store.upload_part("refused", upload_id, 1, data)
        return store.upload_part_sized("refused", upload_id, 1, data, MIN_PART_SIZE)

    first = send(DigestedStream(chunks(good, MiB)))
    with pytest.raises(ChecksumMismatchError):
        send(DigestedStream(chunks(bad, MiB), expected=Digest.of(good)))
    last = blob_store.upload_part("refused", upload_id, 2, b"end")
    _complete(blob_store, "refused", upload_id, [first, last])
    assert read(blob_store, "refused") == good + b"end"


def test_multipart_min_part_size(blob_store: BlobStore) -> None:
    upload_id = blob_store.create_multipart("small")
    parts = [
        blob_store.upload_part("small", upload_id, 1, b"too small"),
        blob_store.upload_part("small", upload_id, 2, b"last"),
    ]
    with pytest.raises(InvalidPartError):
        blob_store.complete_multipart("small", upload_id, parts)
    assert not blob_store.exists("small")
    blob_store.abort_multipart("small", upload_id)
    # A single small part is fine: it is the last one.
    upload_id = blob_store.create_multipart("single")
    part = blob_store.upload_part("single", upload_id, 1, b"only part")
    blob_store.complete_multipart("single", upload_id, [part])
    assert read(blob_store, "single") == b"only part"


def test_multipart_abort(blob_store: BlobStore) -> None:
    upload_id = blob_store.create_multipart("aborted")
    part = blob_store.upload_part("aborted", upload_id, 1, b"data")
    blob_store.abort_multipart("aborted", upload_id)
    blob_store.abort_multipart("aborted", upload_id)
    # An upload that is gone is gone, whatever each server answers (moto a 500 for both,
    # RGW 404 NoSuchKey to ListParts and 500 to the completion).
    with pytest.raises(UploadNotFoundError):
        blob_store.upload_part("aborted", upload_id, 2, b"more")
    with pytest.raises(UploadNotFoundError):
        blob_store.complete_multipart("aborted", upload_id, [part])
    assert not blob_store.exists("aborted")
    assert list(blob_store.list()) == []


def test_streamed_40_mib_in_bounded_memory(blob_store: BlobStore) -> None:
    size = 40 * MiB

    def produce() -> Iterator[bytes]:
        for n in range(size // MiB):
            yield bytes([n]) * MiB

    expected = hashlib.sha256()
    for chunk in produce():
        expected.update(chunk)

    tracemalloc.start()
    try:
        result = blob_store.put("big", produce())
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        actual = hashlib.sha256()
        received = 0
        for chunk in blob_store.get("big"):
            actual.update(chunk)
            received += len(chunk)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == size == received
    assert actual.hexdigest() == expected.hexdigest()
    assert put_peak < size // 3, f"put peaked at {put_peak / MiB:.1f} MiB"
    assert get_peak < size // 8, f"get peaked at {get_peak / MiB:.1f} MiB"


def test_blob_reader_seek_and_read(blob_store: BlobStore) -> None:
    data = bytes(range(256)) * 12_000  # about 3 MiB: several chunks
    blob_store.put("reader", data)
    with BlobReader(blob_store, "reader", buffer_size=64 * 1024) as raw:
        assert raw.size == len(data) and raw.seekable() and raw.readable()
        assert raw.read(10) == data[:10]
        assert raw.read(5) == data[10:15]
        raw.seek(1000, io.SEEK_CUR)  # small forward skip: served from the open stream
        assert raw.read(20) == data[1015:1035]
        raw.seek(-100, io.SEEK_END)
        assert raw.tell() == len(data) - 100
        assert raw.read() == data[-100:]
        assert raw.read(10) == b""
        raw.seek(2 * MiB + 3)
        assert raw.read(MiB) == data[2 * MiB + 3 : 3 * MiB + 3]
        raw.seek(5)
        assert raw.read(3) == data[5:8]
        raw.seek(len(data) + 10)
        assert raw.read(1) == b""
        with pytest.raises(ValueError):
            raw.seek(-1)
    buffered = io.BufferedReader(BlobReader(blob_store, "reader"), buffer_size=8192)
    with buffered:
        assert buffered.read() == data
    with pytest.raises(BlobNotFoundError):
        BlobReader(blob_store, "missing")
