"""What only the file store has to get right: keys never leave its directory, and parts
of a known size are written where they belong in the object."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sangraha_core import (
    ConfigurationError,
    Digest,
    InvalidNameError,
    InvalidPartError,
    UploadNotFoundError,
    open_blob_store,
)
from sangraha_core.storage import BlobStore, PartResult, _file_parts
from sangraha_core.storage.file import FileBlobStore


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "root", min_part_size=4)


@pytest.mark.parametrize(
    "key",
    [
        "/etc/passwd",
        "../outside",
        "a/../../outside",
        "a/./b",
        "a\\b",
        "a\0b",
        "",
        "a//b",
        "a/",
        ".tmp/x",
        ".multipart/x",
    ],
)
def test_keys_that_escape_or_clash_are_rejected(store: FileBlobStore, key: str) -> None:
    with pytest.raises(InvalidNameError):
        store.put(key, b"x")
    with pytest.raises(InvalidNameError):
        store.get(key)
    with pytest.raises(InvalidNameError):
        store.delete(key)
    assert not (store.root.parent / "outside").exists()


def test_a_key_cannot_be_both_blob_and_directory(store: FileBlobStore) -> None:
    store.put("a/b", b"x")
    with pytest.raises(InvalidNameError):
        store.put("a", b"y")
    with pytest.raises(InvalidNameError):
        store.put("a/b/c", b"z")


def test_lowered_min_part_size_is_enforced(store: FileBlobStore) -> None:
    upload_id = store.create_multipart("k")
    parts = [
        store.upload_part("k", upload_id, 1, b"abc"),
        store.upload_part("k", upload_id, 2, b"d"),
    ]
    with pytest.raises(InvalidPartError):
        store.complete_multipart("k", upload_id, parts)
    parts[0] = store.upload_part("k", upload_id, 1, b"abcd")
    assert store.complete_multipart("k", upload_id, parts).size == 5
    assert b"".join(store.get("k")) == b"abcdd"
    # The upload is gone once completed; its internals were removed.
    with pytest.raises(UploadNotFoundError):
        store.upload_part("k", upload_id, 3, b"late")
    assert os.listdir(store.root / ".multipart") == []
    store.close()  # the parts go in the background; close waits for them
    assert os.listdir(store.root / ".tmp") == []


def test_parts_a_crash_left_behind_go_when_a_store_opens(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "root", min_part_size=4)
    upload_id = store.create_multipart("k")
    store.upload_part("k", upload_id, 1, b"abcd")
    # As a crash would leave it: moved aside for deletion, never deleted.
    os.rename(store.root / ".multipart" / upload_id, store.root / ".tmp" / "0123.gone")
    fresh = FileBlobStore(tmp_path / "root", min_part_size=4)
    assert os.listdir(fresh.root / ".tmp") == []


def test_multipart_checks_parts(store: FileBlobStore) -> None:
    upload_id = store.create_multipart("k")
    part = store.upload_part("k", upload_id, 1, b"abcd")
    with pytest.raises(UploadNotFoundError):
        store.upload_part("other", upload_id, 1, b"x")
    with pytest.raises(UploadNotFoundError):
        store.complete_multipart("k", "../../etc", [part])
    with pytest.raises(InvalidPartError):
        store.upload_part("k", upload_id, 0, b"x")
    with pytest.raises(InvalidPartError):
        store.complete_multipart("k", upload_id, [part, part])
    stale = store.upload_part("k", upload_id, 2, b"ef")
    store.upload_part("k", upload_id, 2, b"gh")
    with pytest.raises(InvalidPartError):
        store.complete_multipart("k", upload_id, [part, stale])
    store.abort_multipart("k", upload_id)
    with pytest.raises(UploadNotFoundError):
        store.complete_multipart("k", upload_id, [part])


def test_from_url(tmp_path: Path) -> None:
    typed: BlobStore = FileBlobStore(tmp_path / "typed")  # mypy checks the protocol here
    typed.close()
    store = open_blob_store((tmp_path / "x y").as_uri())
    assert isinstance(store, FileBlobStore)
    assert store.root == (tmp_path / "x y").resolve()
    with pytest.raises(ConfigurationError):
        FileBlobStore.from_url("file://host/path")
    with pytest.raises(ConfigurationError):
        FileBlobStore.from_url("file:relative")


def test_failed_stream_leaves_nothing_behind(store: FileBlobStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"part"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        store.put("k", broken())
    assert not store.exists("k")
    assert os.listdir(store.root / ".tmp") == []


def test_equal_sized_parts_become_the_object_without_a_copy(store: FileBlobStore) -> None:
    upload_id = store.create_multipart("k")
    parts = [
        store.upload_part_sized("k", upload_id, 3, b"ij", 2),
        store.upload_part_sized("k", upload_id, 1, b"abcd", 4),
        store.upload_part_sized("k", upload_id, 2, b"efgh", 4),
    ]
    slots = store.root / ".multipart" / upload_id / "slots-4"
    inode = slots.stat().st_ino
    _, digest = store.complete_multipart_digest("k", upload_id, parts)
    assert b"".join(store.get("k")) == b"abcdefghij"
    assert digest == Digest.of(b"abcdefghij")
    # The file the parts were written into is the object: only the short last part moved.
    assert (store.root / "k").stat().st_ino == inode


def test_a_part_sent_after_complete_cannot_touch_the_object(store: FileBlobStore) -> None:
    upload_id = store.create_multipart("k")
    parts = [store.upload_part_sized("k", upload_id, n, b"%d" % n * 4, 4) for n in (1, 2)]
    store.complete_multipart("k", upload_id, parts)
    with pytest.raises(UploadNotFoundError):
        store.upload_part_sized("k", upload_id, 3, b"late", 4)
    assert b"".join(store.get("k")) == b"11112222"


def test_a_part_waiting_on_a_join_finds_the_upload_gone(store: FileBlobStore) -> None:
    upload_id = store.create_multipart("k")
    for n in (1, 2):
        store.upload_part_sized("k", upload_id, n, b"%d" % n * 4, 4)
    started = threading.Event()

    def late_body() -> Iterator[bytes]:
        started.set()
        yield b"late"

    slots = store.root / ".multipart" / upload_id / "slots-4"
    # Hold the join's lock while a third part tries to write into the same file.
    fd = os.open(slots, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    with ThreadPoolExecutor(1) as pool:
        late = pool.submit(store.upload_part_sized, "k", upload_id, 3, late_body(), 4)
        time.sleep(0.2)
        assert not started.is_set()
        os.rename(slots, store.root / ".tmp" / "joined-elsewhere")
        os.close(fd)
        with pytest.raises(UploadNotFoundError):
            late.result(timeout=10)
    assert not started.is_set()


def test_a_sized_part_sent_again_goes_aside_and_wins(store: FileBlobStore) -> None:
    upload_id = store.create_multipart("k")
    first = store.upload_part_sized("k", upload_id, 1, b"aaaa", 4)
    again = store.upload_part_sized("k", upload_id, 1, b"bbbb", 4)
    last = store.upload_part_sized("k", upload_id, 2, b"cc", 2)
    with pytest.raises(InvalidPartError):
        store.complete_multipart("k", upload_id, [PartResult(1, 4, "no-such-etag"), last])
    store.complete_multipart("k", upload_id, [again, last])
    assert b"".join(store.get("k")) == b"bbbbcc"
    assert first.etag != again.etag


def _settle(store: FileBlobStore) -> None:
    """Wait for the store's background thread to finish what it was given."""
    store._background().submit(lambda: None).result(timeout=10)


def test_the_front_of_an_upload_is_hashed_before_complete(store: FileBlobStore) -> None:
    upload_id = store.create_multipart("k")
    parts = [store.upload_part_sized("k", upload_id, n, b"%d" % n * 4, 4) for n in (2, 1, 3)]
    parts.append(store.upload_part_sized("k", upload_id, 5, b"55", 2))
    _settle(store)
    front = store._fronts.of(upload_id)
    listed = sorted(parts, key=lambda p: p.part_number)
    # Parts 1 to 3 are hashed; 5 waits for a 4 that never comes.
    hasher, hashed = front.take(listed) or (None, -1)
    assert hashed == 12
    assert hasher is not None and hasher.copy().hexdigest() == Digest.of(b"111122223333").hex


@pytest.mark.parametrize("change", ["resent", "fewer", "none"])
def test_a_front_hashed_ahead_still_gives_the_right_digest(
    store: FileBlobStore, change: str
) -> None:
    upload_id = store.create_multipart("k")
    parts = [store.upload_part_sized("k", upload_id, n, b"%d" % n * 4, 4) for n in (1, 2, 3)]
    _settle(store)
    if change == "resent":
        parts[1] = store.upload_part_sized("k", upload_id, 2, b"xxxx", 4)
    elif change == "fewer":
        parts = parts[:2]
    _, digest = store.complete_multipart_digest("k", upload_id, parts)
    data = b"".join(store.get("k"))
    assert digest == Digest.of(data)
    assert (
        data == {"resent": b"1111xxxx3333", "fewer": b"11112222", "none": b"111122223333"}[change]
    )


def test_a_part_whose_slot_lies_too_far_out_goes_aside(
    store: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As part 10,000 of 5 GiB parts would: 50 TB into a slots file no file system allows.
    monkeypatch.setattr(_file_parts, "_MAX_SLOTS_END", 1000)
    upload_id = store.create_multipart("k")
    far = store.upload_part_sized("k", upload_id, 10_000, b"tail", 4)
    first = store.upload_part_sized("k", upload_id, 1, b"abcd", 4)
    assert (store.root / ".multipart" / upload_id / "10000").read_bytes() == b"tail"
    store.complete_multipart("k", upload_id, [first, far])
    assert b"".join(store.get("k")) == b"abcdtail"


@pytest.mark.parametrize("resent", [False, True])
def test_a_copying_join_reads_only_what_the_front_did_not_hash(
    store: FileBlobStore, monkeypatch: pytest.MonkeyPatch, resent: bool
) -> None:
    upload_id = store.create_multipart("k")
    # Parts of three sizes: no slots file is the object, so the join copies.
    pieces = {1: b"aaaa", 2: b"bbbbbb", 3: b"cc"}
    parts = [store.upload_part_sized("k", upload_id, n, d, len(d)) for n, d in pieces.items()]
    _settle(store)
    if resent:
        pieces[2] = b"BBBBBB"
        parts[1] = store.upload_part_sized("k", upload_id, 2, pieces[2], 6)
        _settle(store)
    shown: list[int] = []
    show_range = _file_parts.show_range

    def counting(src: int, offset: int, length: int, observe: _file_parts.Observe) -> int:
        shown.append(length)
        return show_range(src, offset, length, observe)

    monkeypatch.setattr(_file_parts, "show_range", counting)
    _, digest = store.complete_multipart_digest("k", upload_id, parts)
    whole = b"".join(pieces.values())
    assert b"".join(store.get("k")) == whole and digest == Digest.of(whole)
    # All three were hashed as they landed; a part sent again after that spoils the front.
    assert sum(shown) == (len(whole) if resent else 0)
