"""Listing in the metadata store suite: order, cursors, prefixes, filters, newest versions,
and a seek past a key (``start_after``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sangraha_core import FailureKind, InvalidRequestError, ListQuery, ObjectKind, ObjectStatus
from sangraha_core.metadata import MetadataStore

from ._metadata_support import add, list_all, ready

__all__ = ["ListingConformance"]


class ListingConformance:
    """``list_objects``: pages in (key, id) order under opaque cursors, and every filter.
    Part of ``MetadataStoreConformance``; the subclass gives the ``store`` fixture."""

    def test_list_orders_by_key_then_id_across_pages(self, store: MetadataStore) -> None:
        made = [add(store, f"k{i % 7:02d}") for i in range(23)]
        expected = sorted(made, key=lambda r: (r.key, r.id))
        page = store.list_objects(ListQuery(bucket="bucket-one", limit=5))
        assert len(page.items) == 5
        assert page.next_cursor is not None
        assert [r.id for r in list_all(store, limit=5)] == [r.id for r in expected]
        assert [r.id for r in list_all(store, limit=23)] == [r.id for r in expected]
        last = store.list_objects(ListQuery(bucket="bucket-one", limit=23))
        assert last.next_cursor is None

    def test_cursor_is_stable_under_inserts(self, store: MetadataStore) -> None:
        before = [add(store, f"k{i:02d}") for i in range(0, 20, 2)]
        page = store.list_objects(ListQuery(bucket="bucket-one", limit=4))
        seen = [r.id for r in page.items]
        # New keys both before and after the cursor position, and new versions of seen keys.
        inserted = [add(store, f"k{i:02d}") for i in range(1, 20, 2)] + [add(store, "k00")]
        cursor = page.next_cursor
        while cursor is not None:
            page = store.list_objects(ListQuery(bucket="bucket-one", limit=4, cursor=cursor))
            seen.extend(r.id for r in page.items)
            cursor = page.next_cursor
        assert len(seen) == len(set(seen))
        assert {r.id for r in before} <= set(seen)
        after_cursor = {r.id for r in inserted if r.key > "k06"}
        assert after_cursor <= set(seen)
        assert not {r.id for r in inserted if r.key < "k06"} & set(seen)

    def test_invalid_cursor(self, store: MetadataStore) -> None:
        for bad in ["not base64 !!", "e30", "WyJhIl0", "WzEsMl0", "\udc80"]:
            with pytest.raises(InvalidRequestError):
                store.list_objects(ListQuery(bucket="bucket-one", cursor=bad))

    def test_list_prefix_treats_wildcards_literally(self, store: MetadataStore) -> None:
        keys = ["a%b/1", "a%b/2", "axb/1", "a_b/1", "a%c", "a%", "b", "a%b"]
        for key in keys:
            add(store, key)
        assert [r.key for r in list_all(store, prefix="a%b")] == ["a%b", "a%b/1", "a%b/2"]
        assert [r.key for r in list_all(store, prefix="a_")] == ["a_b/1"]
        assert [r.key for r in list_all(store, prefix="zzz")] == []
        assert len(list_all(store, prefix="\U0010ffff")) == 0

    def test_list_filters(self, store: MetadataStore) -> None:
        t0 = datetime(2024, 1, 1, tzinfo=UTC)
        png = add(store, "p", kind=ObjectKind.IMAGE, metadata={"team": "blue"}, created_at=t0)
        pdf = add(store, "q", kind=ObjectKind.PDF, metadata={"team": "blue", "year": "2024"})
        both = add(store, "r", metadata={"team": "blue", "year": "2024"}, created_at=t0)
        red = add(store, "s", metadata={"team": "red", "year": "2024"})
        add(store, "t", bucket="bucket-two", metadata={"team": "blue"})
        ready(store, both)

        def ids(**query: Any) -> set[str]:
            return {r.id for r in list_all(store, **query)}

        assert ids(kind=ObjectKind.IMAGE) == {png.id}
        assert ids(status=ObjectStatus.READY) == {both.id}
        assert ids(metadata={"team": "blue"}) == {png.id, pdf.id, both.id}
        assert ids(metadata={"team": "blue", "year": "2024"}) == {pdf.id, both.id}
        assert ids(metadata={"team": "blue", "year": "2024"}, kind=ObjectKind.PDF) == {pdf.id}
        assert ids(metadata={"year": "2024"}, prefix="s") == {red.id}
        assert ids(metadata={"team": "green"}) == set()
        assert ids(created_after=t0 + timedelta(days=1)) == {pdf.id, red.id}
        assert ids(created_before=t0 + timedelta(seconds=1)) == {png.id, both.id}
        assert ids(created_after=t0, created_before=t0 + timedelta(seconds=1)) == {png.id, both.id}
        # The bounds may be given in any timezone.
        ist = timezone(timedelta(hours=5, minutes=30))
        assert ids(created_before=(t0 + timedelta(seconds=1)).astimezone(ist)) == {png.id, both.id}

    def test_metadata_filter_pages(self, store: MetadataStore) -> None:
        made = [
            add(store, f"k{i:02d}", metadata={"team": "blue" if i % 3 else "red"})
            for i in range(30)
        ]
        blue = sorted(
            (r for r in made if r.metadata["team"] == "blue"), key=lambda r: (r.key, r.id)
        )
        got = list_all(store, metadata={"team": "blue"}, limit=3)
        assert [r.id for r in got] == [r.id for r in blue]
        assert all(r.metadata == {"team": "blue"} for r in got)

    def test_latest_only(self, store: MetadataStore) -> None:
        a1 = add(store, "a", metadata={"team": "blue"})
        a2 = add(store, "a", metadata={"team": "red"})
        b1 = add(store, "b", metadata={"team": "blue"})
        b2 = add(store, "b", metadata={"team": "blue"})
        ready(store, a1)
        assert [r.id for r in list_all(store, latest_only=True)] == [a2.id, b2.id]
        # Among the versions that match the other filters: a2 is red, so a1 is a's newest blue.
        assert [r.id for r in list_all(store, latest_only=True, metadata={"team": "blue"})] == [
            a1.id,
            b2.id,
        ]
        assert [r.id for r in list_all(store, latest_only=True, status=ObjectStatus.READY)] == [
            a1.id
        ]
        assert [r.id for r in list_all(store, latest_only=True, limit=1)] == [a2.id, b2.id]
        assert b1.id not in {r.id for r in list_all(store, latest_only=True)}

    def test_start_after_lists_only_greater_keys(self, store: MetadataStore) -> None:
        keys = ["a", "a/1", "a/2", "ab", "b", "é", "é/1", "\u4e2d", "\U0001f600"]
        for key in keys:
            add(store, key)
        add(store, "a/2")  # a second version: every version of a greater key is listed

        def listed(**query: Any) -> list[str]:
            return [r.key for r in list_all(store, **query)]

        # Byte-wise in UTF-8: "é" (C3 A9) sorts before "中" (E4 B8 AD), and both before
        # an emoji (F0 ...).
        assert listed(start_after="a/1") == ["a/2", "a/2", "ab", "b", "é", "é/1", "中", "😀"]
        assert listed(start_after="a/1", latest_only=True) == [
            "a/2",
            "ab",
            "b",
            "é",
            "é/1",
            "中",
            "😀",
        ]
        assert listed(start_after="") == sorted([*keys, "a/2"], key=lambda k: k.encode())
        assert listed(start_after="a/", prefix="a/") == ["a/1", "a/2", "a/2"]
        assert listed(start_after="a/2", prefix="a/") == []
        assert listed(start_after="0", prefix="a/") == ["a/1", "a/2", "a/2"]
        assert listed(start_after="é") == ["é/1", "中", "😀"]
        assert listed(start_after="\U0001f600") == []
        # A key that is not stored still marks a place.
        assert listed(start_after="aa") == ["ab", "b", "é", "é/1", "中", "😀"]
        # Pages of one item each, the cursor and start_after together.
        assert listed(start_after="a/1", limit=1) == listed(start_after="a/1")

    def test_start_after_with_a_metadata_filter(self, store: MetadataStore) -> None:
        for i in range(6):
            add(store, f"k{i}", metadata={"team": "blue" if i % 2 else "red"})
        got = [r.key for r in list_all(store, start_after="k1", metadata={"team": "blue"})]
        assert got == ["k3", "k5"]

    def test_start_after_that_no_database_compares_is_refused(self, store: MetadataStore) -> None:
        for bad in ["\udc80", "a\x00b"]:
            with pytest.raises(InvalidRequestError):
                store.list_objects(ListQuery(bucket="bucket-one", start_after=bad))

    def test_latest_ready_version_of_each_key(self, store: MetadataStore) -> None:
        """What S3 lists: each key's newest ready version, whatever newer versions are
        pending or failed, and no key whose versions are none of them ready."""
        old = add(store, "a")
        ready(store, old)
        newer_ready = add(store, "a")
        ready(store, newer_ready)
        add(store, "a")  # newer still, pending
        failed = add(store, "a")
        store.mark_failed(failed.id, "not JSON")
        b = add(store, "b")
        ready(store, b)
        store.mark_failed(add(store, "b").id, "bad", kind=FailureKind.RETRIABLE)
        add(store, "c")  # only pending
        store.mark_failed(add(store, "d").id, "bad")  # only failed
        got = list_all(store, latest_only=True, status=ObjectStatus.READY)
        assert [(r.key, r.id) for r in got] == [("a", newer_ready.id), ("b", b.id)]
        assert all(r.status is ObjectStatus.READY for r in got)
        # The same in pages of one, and after a key.
        one_by_one = list_all(store, latest_only=True, status=ObjectStatus.READY, limit=1)
        assert [r.id for r in one_by_one] == [newer_ready.id, b.id]
        after_a = list_all(store, latest_only=True, status=ObjectStatus.READY, start_after="a")
        assert [r.id for r in after_a] == [b.id]
