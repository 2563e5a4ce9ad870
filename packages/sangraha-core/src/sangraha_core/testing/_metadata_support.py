"""What the metadata store suites share: records and sessions to store, and ways to read back.

Every record lives in the bucket ``bucket-one`` unless a test says otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sangraha_core import (
    Digest,
    ListQuery,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    PartRecord,
    UploadSession,
    new_id,
    utcnow,
)
from sangraha_core.metadata import MetadataStore

__all__ = [
    "DIGEST_A",
    "DIGEST_B",
    "STAGED",
    "add",
    "list_all",
    "make_record",
    "make_session",
    "migrate_together",
    "part",
    "ready",
]

STAGED = Digest.of(b"staged")
DIGEST_A = Digest.of(b"a")
DIGEST_B = Digest.of(b"b")


def make_record(
    key: str = "docs/a.json",
    *,
    bucket: str = "bucket-one",
    status: ObjectStatus = ObjectStatus.PENDING,
    kind: ObjectKind = ObjectKind.JSON,
    metadata: dict[str, str] | None = None,
    created_at: datetime | None = None,
    object_id: str | None = None,
    etag: str | None = None,
) -> ObjectRecord:
    """A record of ``key``, pending unless told otherwise, not yet stored."""
    now = created_at or utcnow()
    return ObjectRecord(
        id=object_id or new_id(),
        bucket=bucket,
        key=key,
        status=status,
        kind=kind,
        content_type={
            "json": "application/json",
            "image": "image/png",
            "pdf": "application/pdf",
            "opaque": "application/octet-stream",
        }[kind.value],
        size=6,
        digest=STAGED,
        created_at=now,
        updated_at=now,
        metadata=metadata or {},
        etag=etag,
    )


def add(store: MetadataStore, *args: Any, **kwargs: Any) -> ObjectRecord:
    """A record made by ``make_record(*args, **kwargs)``, stored."""
    record = make_record(*args, **kwargs)
    store.create_object(record)
    return record


def ready(store: MetadataStore, record: ObjectRecord, digest: Digest = DIGEST_A) -> None:
    """``record`` finalised on the blob ``digest``, as the worker does."""
    store.finalize_ready(record.id, digest=digest, size=1, extracted={"shape": "object"})


def list_all(store: MetadataStore, **query: Any) -> list[ObjectRecord]:
    """Every record of ``bucket-one`` the query matches, page after page."""
    items: list[ObjectRecord] = []
    cursor = None
    while True:
        page = store.list_objects(ListQuery(bucket="bucket-one", cursor=cursor, **query))
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


def make_session(
    expires_in: timedelta = timedelta(hours=1), *, key: str = "big.pdf", bucket: str = "bucket-one"
) -> UploadSession:
    """An upload session of ``bucket/key``, expiring ``expires_in`` from now."""
    now = utcnow()
    return UploadSession(
        id=new_id(),
        bucket=bucket,
        key=key,
        content_type="application/pdf",
        kind=ObjectKind.PDF,
        size=12,
        digest=DIGEST_A,
        metadata={"team": "blue"},
        created_at=now,
        expires_at=now + expires_in,
        min_part_size=5,
        max_part_size=10,
        max_parts=3,
        multipart_id="mp-1",
    )


def part(number: int, etag: str = "e", *, md5: str | None = None) -> PartRecord:
    """Part ``number`` of a session, its etag telling one sending from another."""
    return PartRecord(number=number, size=5, etag=f"{etag}{number}", digest=DIGEST_B, md5=md5)


def migrate_together(stores: Sequence[MetadataStore]) -> list[BaseException]:
    """Migrate every store at the same moment, each from a thread: what they raised."""
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def migrate(store: MetadataStore) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
