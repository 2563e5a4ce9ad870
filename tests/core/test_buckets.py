"""Bucket policies in the core: which kind an upload is, the per-process cache of buckets,
and what ``Ingest.accept`` and ``Uploads.open`` make of a bucket's policy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sangraha_core import (
    OPAQUE_DEFAULT_TYPE,
    Backends,
    BucketAlreadyExistsError,
    BucketCache,
    BucketKinds,
    BucketNotEmptyError,
    BucketNotFoundError,
    Ingest,
    InvalidNameError,
    ObjectKind,
    Settings,
    UnsupportedContentTypeError,
    Uploads,
    kind_for,
    validate_bucket,
)
from sangraha_core.metadata.sql import SqlMetadataStore
from sangraha_core.testing.metadata import make_session


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """The store's bucket reads, counted."""

    def __init__(self, inner: SqlMetadataStore) -> None:
        self.inner = inner
        self.reads = 0

    def get_bucket(self, name: str) -> object:
        self.reads += 1
        return self.inner.get_bucket(name)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture
def store() -> SqlMetadataStore:
    store = SqlMetadataStore.from_url("sqlite://")
    store.migrate()
    return store


# -- kind_for --------------------------------------------------------------------------------


def test_a_validated_bucket_takes_the_validated_kinds_only() -> None:
    assert kind_for("Application/JSON; charset=utf-8", BucketKinds.VALIDATED) == (
        "application/json",
        ObjectKind.JSON,
    )
    for refused in ("text/plain", "", "application/octet-stream"):
        with pytest.raises(UnsupportedContentTypeError):
            kind_for(refused, BucketKinds.VALIDATED)


def test_an_any_bucket_validates_known_types_and_keeps_the_rest_opaque() -> None:
    assert kind_for("image/PNG", BucketKinds.ANY) == ("image/png", ObjectKind.IMAGE)
    assert kind_for("application/pdf", BucketKinds.ANY) == ("application/pdf", ObjectKind.PDF)
    assert kind_for(" text/plain; charset=utf-8 ", BucketKinds.ANY) == (
        "text/plain; charset=utf-8",
        ObjectKind.OPAQUE,
    )
    assert kind_for("", BucketKinds.ANY) == (OPAQUE_DEFAULT_TYPE, ObjectKind.OPAQUE)
    assert OPAQUE_DEFAULT_TYPE == "application/octet-stream"
    for bad in ("text/\x00plain", "x" * 300, "caf\u00e9/latte"):
        with pytest.raises(UnsupportedContentTypeError):
            kind_for(bad, BucketKinds.ANY)


# -- the cache -------------------------------------------------------------------------------


def test_the_cache_reads_a_bucket_once_per_refresh(store: SqlMetadataStore) -> None:
    counting = CountingStore(store)
    clock = Clock()
    cache = BucketCache(lambda: counting, refresh=2.0, clock=clock)  # type: ignore[arg-type,return-value]
    store.create_bucket("photos", BucketKinds.VALIDATED)
    for _ in range(5):
        assert cache.get("photos").kinds is BucketKinds.VALIDATED
    assert counting.reads == 1
    store.set_bucket_kinds("photos", BucketKinds.ANY)  # by another process
    clock.now += 1.9
    assert cache.get("photos").kinds is BucketKinds.VALIDATED
    clock.now += 0.1
    assert cache.get("photos").kinds is BucketKinds.ANY
    assert counting.reads == 2


def test_the_cache_remembers_a_missing_bucket_as_briefly(store: SqlMetadataStore) -> None:
    counting = CountingStore(store)
    clock = Clock()
    cache = BucketCache(lambda: counting, refresh=2.0, clock=clock)  # type: ignore[arg-type,return-value]
    for _ in range(3):
        with pytest.raises(BucketNotFoundError):
            cache.get("later")
    assert counting.reads == 1
    store.create_bucket("later", BucketKinds.ANY)
    clock.now += 2.0
    assert cache.get("later").kinds is BucketKinds.ANY
    # A change made through this process is seen at once.
    store.set_bucket_kinds("later", BucketKinds.VALIDATED)
    cache.forget("later")
    assert cache.get("later").kinds is BucketKinds.VALIDATED


def test_ensure_makes_a_bucket_once(store: SqlMetadataStore) -> None:
    cache = BucketCache(lambda: store, refresh=2.0, clock=Clock())
    assert cache.ensure("new-one", BucketKinds.ANY).kinds is BucketKinds.ANY
    # Existing: answered as it is, whatever policy is asked for.
    assert cache.ensure("new-one", BucketKinds.VALIDATED).kinds is BucketKinds.ANY
    assert [b.name for b in store.list_buckets()] == ["new-one"]
    assert cache.policy("new-one", create=None) == (BucketKinds.ANY, False)
    assert cache.policy("not-yet", create=BucketKinds.VALIDATED) == (BucketKinds.VALIDATED, True)
    with pytest.raises(BucketNotFoundError):
        cache.policy("not-yet", create=None)


def test_changes_through_the_cache_are_seen_at_once(store: SqlMetadataStore) -> None:
    counting = CountingStore(store)
    clock = Clock()
    cache = BucketCache(lambda: counting, refresh=2.0, clock=clock)  # type: ignore[arg-type,return-value]
    with pytest.raises(BucketNotFoundError):
        cache.get("photos")  # now known to be missing
    made = cache.create("photos", BucketKinds.VALIDATED)
    assert cache.get("photos") == made
    assert cache.set_kinds("photos", BucketKinds.ANY).kinds is BucketKinds.ANY
    assert cache.get("photos").kinds is BucketKinds.ANY
    cache.delete("photos")
    with pytest.raises(BucketNotFoundError):
        cache.get("photos")
    assert counting.reads == 1  # every answer after the first came from the cache
    store.create_bucket("bucket-one", BucketKinds.VALIDATED)  # by another process
    with pytest.raises(BucketAlreadyExistsError):
        cache.create("bucket-one", BucketKinds.ANY)
    assert cache.get("bucket-one").kinds is BucketKinds.VALIDATED  # read afresh
    store.create_upload(make_session())  # of bucket-one
    with pytest.raises(BucketNotEmptyError):
        cache.delete("bucket-one")
    assert cache.get("bucket-one").name == "bucket-one"


# -- uploads ---------------------------------------------------------------------------------


def test_an_upload_makes_its_bucket_with_the_default_policy(backends: Backends) -> None:
    record = Ingest(backends).accept("fresh-bucket", "a.json", "application/json", [b"{}"])
    assert record.kind is ObjectKind.JSON
    made = backends.metadata.get_bucket("fresh-bucket")
    assert made.kinds is BucketKinds.VALIDATED


def test_a_refused_upload_makes_no_bucket(backends: Backends) -> None:
    with pytest.raises(UnsupportedContentTypeError):
        Ingest(backends).accept("fresh-bucket", "a.txt", "text/plain", [b"hello"])
    with pytest.raises(BucketNotFoundError):
        backends.metadata.get_bucket("fresh-bucket")


def test_the_default_policy_is_a_setting(tmp_path: Path) -> None:
    backends = Backends.from_settings(Settings(data_dir=tmp_path, bucket_kinds=BucketKinds.ANY))
    try:
        record = Ingest(backends).accept("fresh-bucket", "a.txt", "text/plain", [b"hello"])
        assert (record.kind, record.content_type) == (ObjectKind.OPAQUE, "text/plain")
        assert backends.metadata.get_bucket("fresh-bucket").kinds is BucketKinds.ANY
    finally:
        backends.close()


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().bucket_kinds is BucketKinds.VALIDATED
    monkeypatch.setenv("SANGRAHA_BUCKET_KINDS", "any")
    assert Settings().bucket_kinds is BucketKinds.ANY


def test_the_bucket_decides_the_kind(backends: Backends) -> None:
    backends.metadata.create_bucket("anything", BucketKinds.ANY)
    backends.metadata.create_bucket("strict", BucketKinds.VALIDATED)
    ingest = Ingest(backends)
    opaque = ingest.accept("anything", "notes.txt", "text/plain", [b"hello"])
    assert (opaque.kind, opaque.content_type) == (ObjectKind.OPAQUE, "text/plain")
    untyped = ingest.accept("anything", "blob", "", [b"\x00\x01"])
    assert (untyped.kind, untyped.content_type) == (ObjectKind.OPAQUE, "application/octet-stream")
    known = ingest.accept("anything", "a.json", "application/json", [b"{}"])
    assert known.kind is ObjectKind.JSON
    with pytest.raises(UnsupportedContentTypeError):
        ingest.accept("strict", "notes.txt", "text/plain", [b"hello"])


def test_without_create_bucket_a_missing_bucket_is_an_error(backends: Backends) -> None:
    ingest = Ingest(backends)
    with pytest.raises(BucketNotFoundError):
        ingest.accept("absent", "a.json", "application/json", [b"{}"], create_bucket=False)
    with pytest.raises(BucketNotFoundError):
        Uploads(backends).open("absent", "big.bin", "application/json", create_bucket=False)
    with pytest.raises(BucketNotFoundError):
        backends.metadata.get_bucket("absent")
    assert list(backends.blobs.list("staging/")) == []


def test_an_upload_session_takes_its_kind_from_the_bucket(backends: Backends) -> None:
    backends.metadata.create_bucket("anything", BucketKinds.ANY)
    uploads = Uploads(backends)
    session = uploads.open("anything", "video.mp4", "video/mp4", create_bucket=False)
    assert (session.kind, session.content_type) == (ObjectKind.OPAQUE, "video/mp4")
    with pytest.raises(UnsupportedContentTypeError):
        uploads.open("strict-new", "video.mp4", "video/mp4")
    with pytest.raises(BucketNotFoundError):
        backends.metadata.get_bucket("strict-new")
    implicit = uploads.open("strict-new", "big.pdf", "application/pdf")
    assert implicit.kind is ObjectKind.PDF
    assert backends.metadata.get_bucket("strict-new").kinds is BucketKinds.VALIDATED


def test_a_policy_change_reaches_uploads_within_the_refresh(backends: Backends) -> None:
    clock = Clock()
    cached = dataclasses.replace(backends)
    cached.bucket_cache = BucketCache(lambda: cached.metadata, refresh=2.0, clock=clock)
    backends.metadata.create_bucket("switching", BucketKinds.VALIDATED)
    ingest = Ingest(cached)
    with pytest.raises(UnsupportedContentTypeError):
        ingest.accept("switching", "a.txt", "text/plain", [b"hi"])
    backends.metadata.set_bucket_kinds("switching", BucketKinds.ANY)  # elsewhere
    with pytest.raises(UnsupportedContentTypeError):
        ingest.accept("switching", "a.txt", "text/plain", [b"hi"])
    clock.now += 2.0
    assert ingest.accept("switching", "a.txt", "text/plain", [b"hi"]).kind is ObjectKind.OPAQUE


@pytest.mark.parametrize("name", ["abc", "my.bucket-1", "1-2", "a.b.c", "x" * 63, "0ab"])
def test_every_s3_bucket_name_is_a_bucket_name(name: str) -> None:
    assert validate_bucket(name) == name


@pytest.mark.parametrize("name", ["ab", "x" * 64, "Abc", "a..b", "-ab", "ab-", "a_b", ".ab"])
def test_names_s3_refuses_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_bucket(name)
