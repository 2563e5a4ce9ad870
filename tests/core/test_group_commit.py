"""Group commit of uploads: batches form under concurrency, and batching keeps every
guarantee of a single accept (durable before answered, all or nothing per batch)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sangraha_core import Backends, Ingest, ListQuery, ObjectRecord
from sangraha_core._exceptions import BlobExistsError, MetadataUnavailableError
from sangraha_core._group_commit import GroupCommit
from sangraha_core.queue.memory import MemoryQueue
from sangraha_core.storage.file import FileBlobStore

BODY = b'{"n": 1}'
UPLOADS = 24


def _accept_all(ingest: Ingest, count: int) -> list[ObjectRecord | BaseException]:
    """``count`` accepts released together from as many threads."""
    start = threading.Barrier(count)

    def one(i: int) -> ObjectRecord | BaseException:
        start.wait()
        try:
            return ingest.accept("bucket", f"k{i}", "application/json", [BODY])
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _staging(backends: Backends) -> list[str]:
    return [info.key for info in backends.blobs.list("staging/")]


def _records(backends: Backends) -> list[ObjectRecord]:
    return backends.metadata.list_objects(ListQuery(bucket="bucket", limit=1000)).items


# -- the committer alone ---------------------------------------------------------------------


def test_concurrent_items_are_committed_in_shared_batches() -> None:
    batches: list[list[int]] = []
    first_commit_started = threading.Event()
    release_first = threading.Event()

    def commit(batch: Sequence[int]) -> None:
        batches.append(list(batch))
        if len(batches) == 1:
            first_commit_started.set()
            # Hold the first commit until every other item queued behind it.
            release_first.wait(10)

    group: GroupCommit[int] = GroupCommit(commit)
    with ThreadPoolExecutor(UPLOADS) as pool:
        first = pool.submit(group.run, 0)
        assert first_commit_started.wait(10)
        rest = [pool.submit(group.run, i) for i in range(1, UPLOADS)]
        while len(group._queue) < UPLOADS - 1:
            threading.Event().wait(0.001)
        release_first.set()
        for future in [first, *rest]:
            future.result(10)

    assert batches[0] == [0]
    assert sorted(batches[1]) == list(range(1, UPLOADS))
    assert len(batches) == 2


def test_a_lone_item_is_committed_at_once_by_its_own_thread() -> None:
    seen: list[tuple[list[str], int]] = []
    group: GroupCommit[str] = GroupCommit(
        lambda batch: seen.append((list(batch), threading.get_ident()))
    )

    group.run("only")

    # No other thread and no timer involved: nothing to wait for.
    assert seen == [(["only"], threading.get_ident())]


def test_a_failed_commit_fails_every_item_of_its_batch_and_no_other() -> None:
    first_commit_started = threading.Event()
    release_first = threading.Event()
    calls = 0

    def commit(batch: Sequence[int]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            first_commit_started.set()
            release_first.wait(10)
            return
        if calls == 2:
            raise MetadataUnavailableError("database gone")

    group: GroupCommit[int] = GroupCommit(commit)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(group.run, 0)
        assert first_commit_started.wait(10)
        rest = [pool.submit(group.run, i) for i in range(1, 8)]
        while len(group._queue) < 7:
            threading.Event().wait(0.001)
        release_first.set()
        first.result(10)
        errors = [future.exception(10) for future in rest]

    assert all(isinstance(error, MetadataUnavailableError) for error in errors)
    # Each thread raises its own copy, so their tracebacks stay apart.
    assert len({id(error) for error in errors}) == len(errors)
    group.run(99)  # the committer is not stuck after a failure
    assert calls == 3


# -- through Ingest ----------------------------------------------------------------------------


def test_concurrent_accepts_are_all_recorded_staged_and_queued(backends: Backends) -> None:
    results = _accept_all(Ingest(backends), UPLOADS)

    accepted = [r for r in results if isinstance(r, ObjectRecord)]
    assert len(accepted) == UPLOADS
    assert {r.id for r in _records(backends)} == {r.id for r in accepted}
    assert sorted(_staging(backends)) == sorted(f"staging/{r.id}" for r in accepted)
    assert isinstance(backends.queue, MemoryQueue)
    assert backends.queue.depth() == UPLOADS


def test_a_failed_batch_leaves_nothing_of_any_upload_in_it(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(records: Sequence[ObjectRecord], **options: object) -> None:
        raise MetadataUnavailableError("database gone")

    monkeypatch.setattr(backends.metadata, "create_objects", fail)
    results = _accept_all(Ingest(backends), UPLOADS)

    assert all(isinstance(r, MetadataUnavailableError) for r in results)
    monkeypatch.undo()
    assert _records(backends) == []
    assert _staging(backends) == []
    assert isinstance(backends.queue, MemoryQueue)
    assert backends.queue.depth() == 0


# -- the file store's side of it ---------------------------------------------------------------


def test_an_unpublished_put_never_replaces_a_blob_and_keeps_nothing_when_it_fails(
    tmp_path: Path,
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    store.put_unpublished("staging/a", b"first")
    store.sync_dirs(["staging/a"])
    with pytest.raises(BlobExistsError):
        store.put_unpublished("staging/a", b"second")

    def broken() -> Iterator[bytes]:
        yield b"part"
        raise OSError("client gone")

    with pytest.raises(OSError, match="client gone"):
        store.put_unpublished("staging/b", broken())

    assert b"".join(store.get("staging/a")) == b"first"
    assert [info.key for info in store.list("staging/")] == ["staging/a"]
    assert list((tmp_path / "blobs" / ".tmp").iterdir()) == []
    store.discard("staging/a")
    store.discard("staging/a")  # already gone: nothing to do
    assert not store.exists("staging/a")
