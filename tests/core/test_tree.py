"""``list_tree``: S3's delimiter listing over the object index, against a brute-force model."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sangraha_core import (
    Digest,
    InvalidRequestError,
    ListQuery,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    Page,
    TreePage,
    list_tree,
    new_id,
    utcnow,
    validate_key,
)
from sangraha_core.metadata.sql import SqlMetadataStore

# One byte, two, three and four in UTF-8, and the characters delimiters are made of.
ALPHABET = ["a", "b", "/", "-", "é", "中", "😀"]
_buckets = itertools.count()


@pytest.fixture(scope="module")
def store() -> Iterator[SqlMetadataStore]:
    opened = SqlMetadataStore.from_url("sqlite://")
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


def fresh_bucket() -> str:
    return f"tree-{next(_buckets)}"


def record(bucket: str, key: str, status: ObjectStatus = ObjectStatus.READY) -> ObjectRecord:
    now = utcnow()
    return ObjectRecord(
        id=new_id(),
        bucket=bucket,
        key=key,
        status=status,
        kind=ObjectKind.JSON,
        content_type="application/json",
        size=2,
        digest=Digest.of(b"{}"),
        created_at=now,
        updated_at=now,
    )


def fill(store: SqlMetadataStore, versions: dict[str, list[ObjectStatus]]) -> dict[str, str]:
    """Store the versions of each key, oldest first; each listed key's newest ready id."""
    bucket = fresh_bucket()
    records = [
        record(bucket, key, status) for key, statuses in versions.items() for status in statuses
    ]
    store.create_objects(records)
    newest_ready = {r.key: r.id for r in records if r.status is ObjectStatus.READY}
    return {"bucket": bucket, **{f"id:{k}": v for k, v in newest_ready.items()}}


def model(
    keys: list[str], prefix: str, delimiter: str | None, start_after: str | None
) -> list[tuple[str, str]]:
    """Every entry of the whole listing, in order: ("key", k) or ("prefix", p)."""
    entries: list[tuple[str, str]] = []
    for key in sorted((k for k in keys if k.startswith(prefix)), key=lambda k: k.encode()):
        found = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = (
            ("prefix", key[: found + len(delimiter)]) if delimiter and found >= 0 else ("key", key)
        )
        if entries and entries[-1] == entry:
            continue
        entries.append(entry)
    if start_after is None:
        return entries
    return [e for e in entries if e[1].encode() > start_after.encode()]


def flatten(page: TreePage) -> list[tuple[str, str]]:
    merged = [("key", r.key) for r in page.entries] + [("prefix", p) for p in page.common_prefixes]
    return sorted(merged, key=lambda e: e[1].encode())


class CountingIndex:
    """An object index that counts the records it hands out."""

    def __init__(self, store: SqlMetadataStore) -> None:
        self.store = store
        self.read = 0
        self.queries = 0

    def list_objects(self, query: ListQuery) -> Page[ObjectRecord]:
        page = self.store.list_objects(query)
        self.read += len(page.items)
        self.queries += 1
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


# -- the model, over random keys ----------------------------------------------------------

keys_st = st.lists(
    st.text(alphabet=ALPHABET, min_size=1, max_size=6).filter(
        lambda k: not k.startswith("/") and "//" not in k
    ),
    max_size=25,
    unique=True,
)
statuses_st = st.lists(st.sampled_from(list(ObjectStatus)), min_size=1, max_size=3)
delimiter_st = st.one_of(
    st.none(), st.just(""), st.sampled_from(["/", "a", "é", "😀", "a/", "/b", "中-"])
)
text_st = st.text(alphabet=ALPHABET, max_size=4)


def near(keys: list[str]) -> st.SearchStrategy[str]:
    """Any text, or (more often) the start of one of ``keys``: where a listing's edges are."""
    if not keys:
        return text_st
    starts = st.sampled_from(keys).flatmap(lambda k: st.integers(0, len(k)).map(lambda i: k[:i]))
    return st.one_of(text_st, starts, starts)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    keys=keys_st,
    delimiter=delimiter_st,
    limit=st.integers(min_value=0, max_value=6),
)
def test_pages_agree_with_the_model(
    store: SqlMetadataStore,
    data: st.DataObject,
    keys: list[str],
    delimiter: str | None,
    limit: int,
) -> None:
    for key in keys:
        validate_key(key)
    versions = {key: data.draw(statuses_st) for key in keys}
    filled = fill(store, versions)
    bucket = filled["bucket"]
    ready_keys = [k for k, s in versions.items() if ObjectStatus.READY in s]
    prefix = data.draw(near(keys))
    start_after = data.draw(st.one_of(st.none(), near(keys)))

    expected = model(ready_keys, prefix, delimiter, start_after)
    page = list_tree(
        store, bucket, prefix=prefix, delimiter=delimiter, start_after=start_after, limit=limit
    )
    assert flatten(page) == expected[:limit]
    assert page.is_truncated == (len(expected) > limit)
    assert page.next_marker == (expected[:limit][-1][1] if expected[:limit] else None)
    # Each key is its newest ready version.
    for entry in page.entries:
        assert entry.id == filled[f"id:{entry.key}"]
        assert entry.status is ObjectStatus.READY

    # Following next_marker page after page lists the whole of it, each entry once.
    if limit:
        walked: list[tuple[str, str]] = []
        marker = start_after
        while True:
            page = list_tree(
                store, bucket, prefix=prefix, delimiter=delimiter, start_after=marker, limit=limit
            )
            walked.extend(flatten(page))
            if not page.is_truncated:
                break
            marker = page.next_marker
        assert walked == model(ready_keys, prefix, delimiter, start_after)


# -- cases by hand ------------------------------------------------------------------------


def test_a_common_prefix_is_skipped_in_one_seek(store: SqlMetadataStore) -> None:
    bucket = fresh_bucket()
    keys = [f"photos/{i:04d}.json" for i in range(2500)] + ["a.json", "photos.json", "z/1", "z/2"]
    store.create_objects([record(bucket, key) for key in keys])
    index = CountingIndex(store)
    page = list_tree(index, bucket, delimiter="/", limit=1000)
    assert [r.key for r in page.entries] == ["a.json", "photos.json"]
    assert page.common_prefixes == ["photos/", "z/"]
    assert not page.is_truncated and page.next_marker == "z/"
    # A few records under each prefix are read (those the query after a seek brings),
    # not the 2,500 under photos/.
    assert index.read <= 100
    assert index.queries <= 4


def test_a_start_after_inside_a_prefix_does_not_list_it_again(store: SqlMetadataStore) -> None:
    bucket = fresh_bucket()
    store.create_objects([record(bucket, k) for k in ["a/1", "a/2", "a/3", "b", "c/1"]])
    for marker in ("a/", "a/1", "a/2"):
        page = list_tree(store, bucket, delimiter="/", start_after=marker)
        assert ([r.key for r in page.entries], page.common_prefixes) == (["b"], ["c/"])
    page = list_tree(store, bucket, delimiter="/", start_after="a")
    assert page.common_prefixes == ["a/", "c/"]
    # Without a delimiter, the keys after the marker.
    page = list_tree(store, bucket, start_after="a/1")
    assert [r.key for r in page.entries] == ["a/2", "a/3", "b", "c/1"]


def test_newer_versions_that_are_not_ready_hide_nothing(store: SqlMetadataStore) -> None:
    bucket = fresh_bucket()
    old = record(bucket, "k")
    store.create_objects(
        [
            old,
            record(bucket, "k", ObjectStatus.PENDING),
            record(bucket, "k", ObjectStatus.FAILED),
            record(bucket, "only-pending", ObjectStatus.PENDING),
            record(bucket, "d/only-failed", ObjectStatus.FAILED),
        ]
    )
    page = list_tree(store, bucket, delimiter="/")
    assert [r.id for r in page.entries] == [old.id]
    assert page.common_prefixes == []


def test_limit_zero_lists_nothing_and_says_whether_anything_is_there(
    store: SqlMetadataStore,
) -> None:
    bucket = fresh_bucket()
    assert list_tree(store, bucket, limit=0) == TreePage()
    store.create_objects([record(bucket, "k")])
    assert list_tree(store, bucket, limit=0) == TreePage(is_truncated=True)
    with pytest.raises(InvalidRequestError):
        list_tree(store, bucket, limit=-1)


def test_a_delimiter_of_several_characters(store: SqlMetadataStore) -> None:
    bucket = fresh_bucket()
    store.create_objects(
        [record(bucket, k) for k in ["x-中-1", "x-中-2", "x-中", "x-y", "中-中-1", "y"]]
    )
    page = list_tree(store, bucket, delimiter="-中-")
    assert page.common_prefixes == ["x-中-", "中-中-"]
    assert [r.key for r in page.entries] == ["x-y", "x-中", "y"]
    # The delimiter is looked for after the prefix only.
    page = list_tree(store, bucket, prefix="x-中", delimiter="-中-")
    assert page.common_prefixes == []
    assert [r.key for r in page.entries] == ["x-中", "x-中-1", "x-中-2"]
