"""The behaviour suite every ``BlobStore`` passes, as a class to subclass with a fixture.

::

    from sangraha_core.testing import BlobStoreConformance

    class TestMyBlobStore(BlobStoreConformance):
        @pytest.fixture
        def store(self, tmp_path: Path) -> Iterator[BlobStore]:
            store = MyBlobStore(tmp_path)  # fresh and empty for each test
            yield store
            store.close()
"""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
from collections.abc import Iterator
from typing import ClassVar

import pytest

from sangraha_core import BlobExistsError, BlobNotFoundError, InvalidRangeError
from sangraha_core.storage import BlobReader, BlobStore, DeletesMany

from ._storage_multipart import MultipartConformance
from ._storage_support import MiB, chunks, part_data, read

__all__ = ["BlobStoreConformance", "MiB", "chunks", "part_data", "read"]


class BlobStoreConformance(MultipartConformance):
    """Every guarantee of the ``BlobStore`` protocol, checked through the protocol alone.

    A subclass named ``Test…`` gives a ``store`` fixture: a fresh, empty store for each
    test, closed afterwards. The optional extras (``DeletesMany``, ``DigestingJoin``,
    ``SizedParts``) are tested where the store has them and skipped where it does not. Two
    class attributes say what a store may legitimately do otherwise; the defaults are the
    strict answers.
    """

    #: Whether one key may name a blob while others lie under it (``a/b`` beside
    #: ``a/b/c``). A store on a file system cannot hold a file and a directory of one name,
    #: so it sets this to False, and the listing test leaves out ``a/b``.
    nested_keys: ClassVar[bool] = True

    #: Whether the store keeps its blobs in this process's memory. The streaming test then
    #: bounds what a put holds beyond the 40 MiB it keeps, not the put's whole peak (a store
    #: that keeps the bytes cannot hold less than them).
    keeps_bytes_in_memory: ClassVar[bool] = False

    def test_round_trip_bytes(self, store: BlobStore) -> None:
        assert isinstance(store, BlobStore)
        result = store.put("a/b/c.bin", b"hello world")
        assert (result.key, result.size) == ("a/b/c.bin", 11)
        assert read(store, "a/b/c.bin") == b"hello world"
        info = store.head("a/b/c.bin")
        assert (info.key, info.size, info.etag) == ("a/b/c.bin", 11, result.etag)
        assert info.last_modified.tzinfo is not None
        assert store.exists("a/b/c.bin")

    def test_round_trip_iterator(self, store: BlobStore) -> None:
        data = bytes(range(256)) * 1000
        result = store.put("stream", chunks(data, 7000))
        assert result.size == len(data)
        assert read(store, "stream") == data
        assert store.head("stream").etag == result.etag

    def test_empty_blob(self, store: BlobStore) -> None:
        assert store.put("empty", b"").size == 0
        assert read(store, "empty") == b""
        assert store.head("empty").size == 0
        assert store.put("empty-stream", iter([])).size == 0
        assert read(store, "empty-stream") == b""
        assert read(store, "empty", start=0, end=10) == b""

    def test_ranges(self, store: BlobStore) -> None:
        data = bytes(range(100))
        store.put("r", data)
        assert read(store, "r", start=10) == data[10:]
        assert read(store, "r", start=10, end=20) == data[10:20]
        assert read(store, "r", end=5) == data[:5]
        assert read(store, "r", start=90, end=1000) == data[90:]
        assert read(store, "r", start=100) == b""
        assert read(store, "r", start=50, end=50) == b""
        with pytest.raises(InvalidRangeError) as caught:
            read(store, "r", start=101)
        assert caught.value.size == 100
        with pytest.raises(InvalidRangeError):
            read(store, "r", start=-1)

    def test_missing_key(self, store: BlobStore) -> None:
        with pytest.raises(BlobNotFoundError):
            store.get("nope")
        with pytest.raises(FileNotFoundError):
            store.get("nope/deeper", start=3, end=9)
        with pytest.raises(BlobNotFoundError):
            store.head("nope")
        with pytest.raises(BlobNotFoundError):
            store.copy("nope", "elsewhere")
        assert not store.exists("nope")

    def test_create_mode_conflict(self, store: BlobStore) -> None:
        store.put("k", b"first", mode="create")
        with pytest.raises(BlobExistsError):
            store.put("k", b"second", mode="create")
        with pytest.raises(FileExistsError):
            store.put("k", iter([b"third"]), mode="create")
        assert read(store, "k") == b"first"

    def test_concurrent_creates_have_one_winner(self, store: BlobStore) -> None:
        outcomes: list[str] = []
        barrier = threading.Barrier(6)

        def create(n: int) -> None:
            barrier.wait()
            try:
                store.put("race", f"writer {n}".encode(), mode="create")
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
        assert read(store, "race") == winners[0].encode()

    def test_overwrite(self, store: BlobStore) -> None:
        first = store.put("k", b"one")
        second = store.put("k", iter([b"tw", b"o!"]))
        assert read(store, "k") == b"two!"
        assert store.head("k").size == 4
        assert first.etag != second.etag

    @pytest.mark.parametrize("existing", [b"old value", None])
    def test_reader_never_sees_a_partial_put(
        self, store: BlobStore, existing: bytes | None
    ) -> None:
        if existing is not None:
            store.put("atomic", existing)
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
                store.put("atomic", slow())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert started.wait(10)
            for _ in range(3):
                if existing is None:
                    assert not store.exists("atomic")
                    with pytest.raises(BlobNotFoundError):
                        read(store, "atomic")
                else:
                    assert read(store, "atomic") == existing
            assert [info.key for info in store.list()] == ([] if existing is None else ["atomic"])
        finally:
            proceed.set()
            thread.join()
        assert not errors
        assert read(store, "atomic") == new

    def test_copy(self, store: BlobStore) -> None:
        store.put("src/one", b"payload")
        store.put("dst/two", b"old")
        store.copy("src/one", "dst/one")
        store.copy("src/one", "dst/two")
        assert read(store, "dst/one") == b"payload"
        assert read(store, "dst/two") == b"payload"
        store.delete("src/one")
        assert read(store, "dst/one") == b"payload"

    def test_list_by_prefix_in_key_order(self, store: BlobStore) -> None:
        keys = ["b", "a/z", "a-c", "a/b/c", "a/b", "ab", "c/d/e/f", "a.x"]
        if not self.nested_keys:
            keys.remove("a/b")
        for key in keys:
            store.put(key, key.encode())
        listed = list(store.list())
        assert [info.key for info in listed] == sorted(keys)
        assert [info.size for info in listed] == [len(k) for k in sorted(keys)]
        assert [info.key for info in store.list("a/")] == sorted(k for k in keys if k[:2] == "a/")
        assert [info.key for info in store.list("a")] == sorted(k for k in keys if k[0] == "a")
        assert [info.key for info in store.list("c/d/e")] == ["c/d/e/f"]
        assert list(store.list("zzz")) == []

    def test_delete_is_idempotent(self, store: BlobStore) -> None:
        store.put("d/e", b"x")
        store.delete("d/e")
        store.delete("d/e")
        store.delete("never/there")
        assert not store.exists("d/e")
        with pytest.raises(BlobNotFoundError):
            read(store, "d/e")
        # The name is free again, also as a blob where a directory used to be.
        store.put("d", b"now a blob")
        assert read(store, "d") == b"now a blob"

    def test_delete_many_deletes_each_key_and_only_those(self, store: BlobStore) -> None:
        if not isinstance(store, DeletesMany):
            pytest.skip("the store is not DeletesMany, an optional extra")
        for key in ("m/1", "m/2", "m/3", "keep"):
            store.put(key, key.encode())
        store.delete_many(["m/1", "m/3", "never/there", "m/1"])
        assert [store.exists(k) for k in ("m/1", "m/2", "m/3", "keep")] == [
            False,
            True,
            False,
            True,
        ]
        store.delete_many([])
        store.delete_many(["m/2"])
        assert not store.exists("m/2")
        assert read(store, "keep") == b"keep"

    def test_streamed_40_mib_in_bounded_memory(self, store: BlobStore) -> None:
        size = 40 * MiB

        def produce() -> Iterator[bytes]:
            for n in range(size // MiB):
                yield bytes([n]) * MiB

        expected = hashlib.sha256()
        for chunk in produce():
            expected.update(chunk)

        tracemalloc.start()
        try:
            result = store.put("big", produce())
            held, put_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            actual = hashlib.sha256()
            received = 0
            for chunk in store.get("big"):
                actual.update(chunk)
                received += len(chunk)
            _, get_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        if self.keeps_bytes_in_memory:
            put_peak -= held
        # The read starts from what the put left held, and owes nothing for it.
        get_peak -= held
        assert result.size == size == received
        assert actual.hexdigest() == expected.hexdigest()
        assert put_peak < size // 3, f"put peaked at {put_peak / MiB:.1f} MiB"
        assert get_peak < size // 8, f"get peaked at {get_peak / MiB:.1f} MiB"

    def test_blob_reader_seek_and_read(self, store: BlobStore) -> None:
        data = bytes(range(256)) * 12_000  # about 3 MiB: several chunks
        store.put("reader", data)
        with BlobReader(store, "reader", buffer_size=64 * 1024) as raw:
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
        buffered = io.BufferedReader(BlobReader(store, "reader"), buffer_size=8192)
        with buffered:
            assert buffered.read() == data
        with pytest.raises(BlobNotFoundError):
            BlobReader(store, "missing")
