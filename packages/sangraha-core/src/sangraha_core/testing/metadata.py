"""The behaviour suite every ``MetadataStore`` passes, as a class to subclass with a fixture.

::

    from sangraha_core.testing import MetadataStoreConformance

    class TestMyMetadataStore(MetadataStoreConformance):
        @pytest.fixture
        def store(self) -> Iterator[MetadataStore]:
            store = MyMetadataStore()  # on an empty database of its own for each test
            store.migrate()
            yield store
            store.close()
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest

from sangraha_core import (
    InvalidRequestError,
    MetadataUnavailableError,
    UploadNotFoundError,
    UploadStatus,
    new_id,
    utcnow,
)
from sangraha_core.metadata import MetadataStore

from ._metadata_blobs import BlobReferencesConformance
from ._metadata_buckets import BucketsConformance, at_once
from ._metadata_listing import ListingConformance
from ._metadata_records import RecordsConformance
from ._metadata_support import (
    DIGEST_A,
    DIGEST_B,
    STAGED,
    add,
    list_all,
    make_record,
    make_session,
    migrate_together,
    part,
    ready,
)

__all__ = [
    "DIGEST_A",
    "DIGEST_B",
    "STAGED",
    "MetadataStoreConformance",
    "add",
    "list_all",
    "make_record",
    "make_session",
    "migrate_together",
    "part",
    "ready",
]


class MetadataStoreConformance(
    RecordsConformance, ListingConformance, BlobReferencesConformance, BucketsConformance
):
    """Every guarantee of the ``MetadataStore`` protocol, checked through the protocol alone.

    A subclass named ``Test…`` gives a ``store`` fixture: a migrated store on an empty
    database of its own for each test, closed afterwards. Two hook methods reach what the
    protocol has no call for; where the subclass does not give one, the tests that need it
    are skipped. Both are called in a test whose ``store`` fixture has already run, so a
    subclass may keep on ``self`` what its fixture made (a URL, a directory).
    """

    def open_peer(self, store: MetadataStore) -> MetadataStore:
        """Hook: another store on the database ``store`` uses, opened as another process
        would open it, not yet migrated. The suite closes it. Without it, the test of many
        stores migrating and sharing one database is skipped."""
        pytest.skip("needs open_peer: another store on the same database")

    def unreachable_store(self) -> MetadataStore:
        """Hook: a store whose database cannot be reached (a server that is not there, a
        file that cannot be opened), opened without error. The suite closes it. Without
        it, the test that such a store raises ``MetadataUnavailableError`` is skipped."""
        pytest.skip("needs unreachable_store: a store whose database cannot be reached")

    # -- schema ---------------------------------------------------------------------

    def test_is_a_metadata_store(self, store: MetadataStore) -> None:
        assert isinstance(store, MetadataStore)

    def test_migrate_twice_is_a_no_op(self, store: MetadataStore) -> None:
        add(store)
        store.migrate()
        assert len(list_all(store)) == 1

    def test_many_stores_migrate_and_share_one_database(self, store: MetadataStore) -> None:
        peers = [self.open_peer(store) for _ in range(3)]
        try:
            assert migrate_together(peers) == []
            add(peers[1])
            assert len(list_all(peers[2])) == 1
            assert len(list_all(store)) == 1
        finally:
            for peer in peers:
                peer.close()

    # -- idempotency keys -----------------------------------------------------------

    def test_idempotency_keys(self, store: MetadataStore) -> None:
        assert store.lookup_idempotency_key("bucket-one", "k1") is None
        first, second = new_id(), new_id()
        assert store.remember_idempotency_key("bucket-one", "k1", "fp", first) == first
        assert store.remember_idempotency_key("bucket-one", "k1", "fp", second) == first
        assert store.lookup_idempotency_key("bucket-one", "k1") == ("fp", first)
        with pytest.raises(InvalidRequestError):
            store.remember_idempotency_key("bucket-one", "k1", "other", second)
        assert store.remember_idempotency_key("bucket-two", "k1", "other", second) == second

    # -- upload sessions ------------------------------------------------------------

    def test_upload_session_lifecycle(self, store: MetadataStore) -> None:
        session = make_session()
        store.create_upload(session)
        with pytest.raises(InvalidRequestError):
            store.create_upload(session)
        assert store.get_upload(session.id) == session
        assert store.get_upload(session.id).multipart_id == "mp-1"
        store.put_part(session.id, part(2))
        store.put_part(session.id, part(1))
        store.put_part(session.id, part(2, etag="retry"))
        got = store.get_upload(session.id)
        assert [(p.number, p.etag) for p in got.parts] == [(1, "e1"), (2, "retry2")]
        object_id = new_id()
        store.finish_upload(session.id, status="completed", object_id=object_id)
        done = store.get_upload(session.id)
        assert done.status is UploadStatus.COMPLETED
        assert done.object_id == object_id
        store.delete_upload(session.id)
        with pytest.raises(UploadNotFoundError):
            store.get_upload(session.id)
        store.delete_upload(session.id)

    def test_one_claim_of_a_session_at_a_time(self, store: MetadataStore) -> None:
        session = make_session()
        store.create_upload(session)
        earlier = utcnow() - timedelta(minutes=15)
        assert store.claim_upload(session.id, stale_before=earlier)
        claimed = store.get_upload(session.id)
        assert claimed.status is UploadStatus.COMPLETING
        assert claimed.claimed_at is not None
        # Held, and not stale: a second claim is refused.
        assert not store.claim_upload(session.id, stale_before=earlier)
        # Released (the completion failed), the session is open and claimed again.
        store.release_upload(session.id)
        reopened = store.get_upload(session.id)
        assert (reopened.status, reopened.claimed_at) == (UploadStatus.OPEN, None)
        assert store.claim_upload(session.id, stale_before=earlier)
        # A claim older than ``stale_before`` is taken over.
        assert store.claim_upload(session.id, stale_before=utcnow() + timedelta(seconds=1))
        store.finish_upload(session.id, status="completed", object_id=session.id)
        done = store.get_upload(session.id)
        assert (done.status, done.object_id) == (UploadStatus.COMPLETED, session.id)
        assert not store.claim_upload(session.id, stale_before=utcnow() + timedelta(hours=1))
        store.release_upload(session.id)  # only a completing session goes back to open
        assert store.get_upload(session.id).status is UploadStatus.COMPLETED
        with pytest.raises(UploadNotFoundError):
            store.claim_upload(new_id(), stale_before=earlier)

    def test_concurrent_claims_of_a_session_make_one_winner(self, store: MetadataStore) -> None:
        peer = self.open_peer(store)
        try:
            for _ in range(20):
                session = make_session()
                store.create_upload(session)
                earlier = utcnow() - timedelta(minutes=15)
                won: list[bool] = []

                def claim(
                    on: MetadataStore,
                    upload_id: str = session.id,
                    stale: datetime = earlier,
                    won: list[bool] = won,
                ) -> None:
                    won.append(on.claim_upload(upload_id, stale_before=stale))

                raised = at_once(partial(claim, store), partial(claim, peer))
                assert raised == [None, None]
                assert sorted(won) == [False, True]
        finally:
            peer.close()

    def test_a_part_keeps_its_md5(self, store: MetadataStore) -> None:
        session = make_session()
        store.create_upload(session)
        md5 = "0cc175b9c0f1b6a831c399e269772661"
        store.put_part(session.id, part(1, md5=md5))
        store.put_part(session.id, part(2))
        assert [(p.number, p.md5) for p in store.get_upload(session.id).parts] == [
            (1, md5),
            (2, None),
        ]
        # Sent again: the new sending's MD5 (or none) replaces the old one.
        store.put_part(session.id, part(1, "again"))
        store.put_part(session.id, part(2, "again", md5=md5.upper()))
        assert [(p.number, p.md5) for p in store.get_upload(session.id).parts] == [
            (1, None),
            (2, md5.upper()),
        ]

    def test_list_uploads(self, store: MetadataStore) -> None:
        made = [make_session(key=key) for key in ["b/2", "a", "b/1", "b/1", "é", "\U0001f600", "b"]]
        for session in made:
            store.create_upload(session)
        store.put_part(made[0].id, part(1))
        done, aborted = make_session(key="b/3"), make_session(key="b/4")
        elsewhere = make_session(key="b/5", bucket="bucket-two")
        for session in (done, aborted, elsewhere):
            store.create_upload(session)
        store.finish_upload(done.id, status="completed", object_id=new_id())
        store.finish_upload(aborted.id, status="aborted", object_id=None)
        expected = sorted(made, key=lambda s: (s.key.encode(), s.id))

        def listed(**query: Any) -> list[str]:
            return [s.id for s in store.list_uploads("bucket-one", **query)]

        assert listed() == [s.id for s in expected]
        assert [s.key for s in store.list_uploads("bucket-one")] == [
            "a",
            "b",
            "b/1",
            "b/1",
            "b/2",
            "é",
            "\U0001f600",
        ]
        first = store.list_uploads("bucket-one", limit=1)[0]
        assert first.id == expected[0].id
        assert first.parts == []  # a listing leaves the parts out
        assert first.status is UploadStatus.OPEN
        assert (first.key, first.created_at, first.multipart_id) == (
            "a",
            made[1].created_at,
            "mp-1",
        )
        assert listed(prefix="b/") == [s.id for s in expected if s.key.startswith("b/")]
        assert listed(prefix="zzz") == []
        # Strictly after (key, id): the rest of one key, then the keys after it.
        b1_first, b1_second = (s for s in expected if s.key == "b/1")
        assert listed(after=("b/1", b1_first.id)) == [s.id for s in expected[3:]]
        assert listed(after=("b/1", b1_second.id)) == [s.id for s in expected[4:]]
        assert listed(after=("b/", ""), prefix="b/") == [s.id for s in expected[2:5]]
        assert listed(after=("\U0001f600", "f" * 32)) == []
        # Page by page, as ListMultipartUploads' markers go.
        paged: list[str] = []
        after = None
        while page := store.list_uploads("bucket-one", after=after, limit=2):
            paged.extend(s.id for s in page)
            after = (page[-1].key, page[-1].id)
        assert paged == [s.id for s in expected]
        assert [s.id for s in store.list_uploads("bucket-two")] == [elsewhere.id]
        assert store.list_uploads("bucket-three") == []

    def test_upload_errors(self, store: MetadataStore) -> None:
        missing = new_id()
        with pytest.raises(UploadNotFoundError):
            store.get_upload(missing)
        with pytest.raises(UploadNotFoundError):
            store.put_part(missing, part(1))
        with pytest.raises(UploadNotFoundError):
            store.finish_upload(missing, status="aborted", object_id=None)
        session = make_session()
        store.create_upload(session)
        with pytest.raises(InvalidRequestError):
            store.finish_upload(session.id, status="sideways", object_id=None)
        store.finish_upload(session.id, status="aborted", object_id=None)
        assert store.get_upload(session.id).status is UploadStatus.ABORTED

    def test_expired_uploads(self, store: MetadataStore) -> None:
        late = make_session(timedelta(minutes=-5))
        later = make_session(timedelta(minutes=-10))
        live = make_session()
        for s in (late, later, live):
            store.create_upload(s)
        store.put_part(late.id, part(1))
        expired = store.expired_uploads(utcnow())
        assert [s.id for s in expired] == [later.id, late.id]
        assert [p.number for p in expired[1].parts] == [1]
        assert [s.id for s in store.expired_uploads(utcnow(), limit=1)] == [later.id]

    # -- availability ---------------------------------------------------------------

    def test_check(self, store: MetadataStore) -> None:
        store.check()

    def test_an_unreachable_database_raises_unavailable(self, store: MetadataStore) -> None:
        unreachable = self.unreachable_store()
        try:
            with pytest.raises(MetadataUnavailableError):
                unreachable.check()
            with pytest.raises(MetadataUnavailableError):
                unreachable.get_object(new_id())
            with pytest.raises(MetadataUnavailableError):
                unreachable.migrate()
        finally:
            unreachable.close()
