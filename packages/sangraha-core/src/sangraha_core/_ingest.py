"""The write path: stream an upload into staging, record it, queue it; and delete objects.

No web framework here: the receiver (and any other front end) parses a request, then calls
``Ingest`` in a worker thread. The order of the steps is what makes an accepted upload
impossible to lose:

1. the bytes go to ``staging/<id>``, hashed and counted as they pass;
2. the ``pending`` record is written;
3. the job is published and confirmed by the broker;
4. only then is the idempotency key remembered and the record returned.

An idempotency key's fingerprint is the request (method, target, content type) and the
body's digest. A retry with a known key is checked against it before anything is stored:
with a declared digest, before the body is read; without one, by hashing the body as it
streams past, keeping none of it. A key reused for another request or another body is
refused (:class:`IdempotencyKeyReusedError`), never answered with the first record; when
two uploads race for one key, the loser's staged bytes and record are removed.

Steps 1 and 2 are group-committed (``GroupCommit``): uploads that arrive while another
batch is being made durable wait for it, then share one fsync of the staging directory and
one transaction for their records; each is answered only after its own batch committed.

A failure at any step undoes the earlier ones (best effort), so the caller either gets a
record whose processing is guaranteed, or an error and nothing to clean up. Should an
undo itself fail, what remains is harmless: a staging blob without a record is garbage, and
a pending record without a message is published again by the reconciler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from ._backends import Backends
from ._constants import STAGING_PREFIX
from ._digest import Digest, DigestedStream
from ._exceptions import (
    BucketNotFoundError,
    ChecksumMismatchError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    ObjectNotFoundError,
    SangrahaError,
)
from ._group_commit import StagedUpload
from ._media import kind_for
from ._messages import ProcessObject
from ._models import ObjectRecord, ObjectStatus, new_id, utcnow
from ._names import validate_bucket, validate_key, validate_metadata
from .storage import StagingWrites

__all__ = ["Ingest", "staging_key"]

logger = logging.getLogger("sangraha_core.ingest")

_FIRST_POLL = 0.01
_MAX_POLL = 0.2


def staging_key(object_id: str) -> str:
    """Where an accepted upload waits for the worker."""
    return f"{STAGING_PREFIX}/{object_id}"


class Ingest:
    """Accept uploads and deletes against one set of backends; safe to share between threads."""

    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def accept(
        self,
        bucket: str,
        key: str | None,
        content_type: str,
        chunks: Iterable[bytes],
        *,
        declared_digest: Digest | None = None,
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        md5: bool = False,
        declared_md5: str | None = None,
        create_bucket: bool = True,
    ) -> ObjectRecord:
        """Stage ``chunks`` as a new version of ``bucket``/``key`` and queue its processing.

        The bucket's policy decides the kind (``kind_for``): a ``validated`` bucket takes
        JSON, images and PDFs only, an ``any`` bucket any other type too, as an opaque
        object. A missing bucket is made with ``settings.bucket_kinds`` once the upload
        passed its checks, unless ``create_bucket`` is false (the S3 API), which raises
        ``BucketNotFoundError`` instead.

        ``key=None`` names the object by its new id. ``chunks`` is consumed once, in order,
        and never held whole. Returns the ``pending`` record once the broker has confirmed
        the job; with an ``idempotency_key`` already used for this bucket by the same
        request and body, returns the record it made, storing nothing (``chunks`` is read
        only to hash it, and not at all when ``declared_digest`` already says it).

        :raises InvalidNameError, InvalidMetadataError, UnsupportedContentTypeError,
            BucketNotFoundError: before any byte is read; ``BucketNotFoundError`` also
            when (``create_bucket`` false) the bucket is gone by the time the record is
            written, which is checked in the record's own transaction: nothing is kept.
        :raises ObjectTooLargeError: as soon as the stream passes ``settings.max_object_size``.
        With ``md5`` (S3's PUT), the bytes' MD5 is worked out as they stream and the record
        carries it as its ``etag``; ``declared_md5`` (a Content-MD5, in hex) implies ``md5``
        and must match.

        :raises ChecksumMismatchError: the bytes do not match ``declared_digest`` (or
            ``declared_md5``); nothing of them is kept.
        :raises IdempotencyKeyReusedError: ``idempotency_key`` made an object from a
            different request or body; nothing of this one is kept.
        :raises BackendUnavailableError: a backend failed; nothing of the upload remains.
        """
        settings = self.backends.settings
        validate_bucket(bucket)
        if key is not None:
            validate_key(key)
        buckets = self.backends.bucket_cache
        kinds, missing = buckets.policy(
            bucket, create=settings.bucket_kinds if create_bucket else None
        )
        bare_type, kind = kind_for(content_type, kinds)
        clean_metadata = validate_metadata(
            metadata or {},
            max_entries=settings.max_meta_entries,
            max_bytes=settings.max_meta_bytes,
        )
        if missing:
            made = buckets.ensure(bucket, kinds)
            if made.kinds is not kinds:  # made meanwhile elsewhere, with another policy
                kinds = made.kinds
                bare_type, kind = kind_for(content_type, kinds)
        # A generated key differs on every retry, so it cannot be part of what a retry
        # must repeat; the method stands in for it.
        request = (
            f"PUT {bucket}/{key} {bare_type}" if key is not None else f"POST {bucket} {bare_type}"
        )
        if idempotency_key is not None:
            known = self._replay(
                bucket,
                idempotency_key,
                request,
                chunks,
                declared_digest=declared_digest,
                limit=settings.max_object_size,
                declared_md5=declared_md5,
            )
            if known is not None:
                return known

        object_id = new_id()
        staged = staging_key(object_id)
        blobs = self.backends.blobs
        # A body over the limit or unlike its declared digest fails inside the write,
        # which then keeps nothing.
        body = DigestedStream(
            chunks,
            limit=settings.max_object_size,
            expected=declared_digest,
            md5=md5,
            expected_md5=declared_md5,
        )
        if isinstance(blobs, StagingWrites):
            # Nothing reads staging/<id> before its record exists: no temporary file, and
            # the staging directory's fsync is shared by the batch (see commit_staged).
            blobs.put_unpublished(staged, body)
        else:
            blobs.put(staged, body)
        digest = body.digest()

        now = utcnow()
        record = ObjectRecord(
            id=object_id,
            bucket=bucket,
            key=key if key is not None else object_id,
            status=ObjectStatus.PENDING,
            kind=kind,
            content_type=bare_type,
            size=body.size,
            digest=digest,
            created_at=now,
            updated_at=now,
            metadata=clean_metadata,
            etag=body.md5_hex(),
        )
        # The policy checked is what the record's transaction makes the bucket with, should
        # it have been deleted since (see commit_staged); the S3 API's uploads fail instead.
        upload = StagedUpload(blobs, staged, record, kinds if create_bucket else None)
        try:
            self.backends.commit_staged(upload)
        except BaseException as exc:
            self._forget_blob(staged)
            if isinstance(exc, BucketNotFoundError):
                buckets.forget(bucket)  # deleted since this process last read it
            raise
        try:
            self.backends.queue.publish(ProcessObject.for_object(object_id))
        except BaseException:
            # Unconfirmed work must not be answered 202; undo so a retry starts clean.
            self._forget_record(record)
            self._forget_blob(staged)
            raise

        if idempotency_key is not None:
            return self._remember(record, idempotency_key, _fingerprint(request, digest))
        return record

    def wait(self, record: ObjectRecord, timeout: float) -> ObjectRecord:
        """Poll until ``record`` is no longer pending or ``timeout`` seconds pass; the latest."""
        deadline = time.monotonic() + timeout
        delay = _FIRST_POLL
        current = record
        while current.status is ObjectStatus.PENDING:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(delay, left))
            delay = min(delay * 2, _MAX_POLL)
            current = self.backends.metadata.get_object(record.id)
        return current

    def delete(self, bucket: str, key: str, version: str | None = None) -> int:
        """Delete every version of ``key`` (or one); ``ObjectNotFoundError`` if none matched."""
        validate_bucket(bucket)
        validate_key(key)
        deleted = self.backends.metadata.delete_objects(bucket, key, version=version)
        if deleted == 0:
            what = f"version {version!r} of " if version is not None else ""
            raise ObjectNotFoundError(f"no {what}object {key!r} in bucket {bucket!r}")
        return deleted

    # -- idempotency --------------------------------------------------------------------

    def _replay(
        self,
        bucket: str,
        idempotency_key: str,
        request: str,
        chunks: Iterable[bytes],
        *,
        declared_digest: Digest | None,
        limit: int,
        declared_md5: str | None = None,
    ) -> ObjectRecord | None:
        """The record a known key made, if this is a retry of the same request and body;
        ``None`` for a key not used yet."""
        known = self.backends.metadata.lookup_idempotency_key(bucket, idempotency_key)
        if known is None:
            return None
        stored_fingerprint, object_id = known
        stored_request, found, stored_digest = stored_fingerprint.rpartition(_DIGEST_SEPARATOR)
        if not found:
            # Remembered before fingerprints held the digest: all of it is the request.
            stored_request, stored_digest = stored_digest, ""
        if stored_request != request:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used for a different request (another key, method "
                "or content type); use a new key"
            )
        digest = declared_digest
        if digest is None:
            # Hashed as it streams past and dropped: a retry stores nothing.
            body = DigestedStream(chunks, limit=limit, expected_md5=declared_md5)
            for _ in body:
                pass
            digest = body.digest()
        try:
            record = self.backends.metadata.get_object(object_id)
        except ObjectNotFoundError:
            raise InvalidRequestError(
                "this Idempotency-Key made an object that has since been deleted; use a new key"
            ) from None
        # Keys remembered before fingerprints held the digest: the record's is the same one.
        first = stored_digest or record.digest
        if digest != first:
            raise IdempotencyKeyReusedError(
                f"this Idempotency-Key was used for a body with another digest ({first}; "
                f"this one is {digest}); use a new key"
            )
        if declared_md5 is not None and record.etag not in (None, declared_md5.lower()):
            raise ChecksumMismatchError(
                f"the body's MD5 is {record.etag}, not the declared {declared_md5.lower()}",
                expected=declared_md5.lower(),
                actual=str(record.etag),
            )
        return record

    def _remember(
        self, record: ObjectRecord, idempotency_key: str, fingerprint: str
    ) -> ObjectRecord:
        try:
            winner = self.backends.metadata.remember_idempotency_key(
                record.bucket, idempotency_key, fingerprint, record.id
            )
        except InvalidRequestError:
            # A concurrent request took the key for another request or body: this one is
            # not wanted, bytes included.
            self._forget_record(record)
            self._forget_blob(staging_key(record.id))
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was taken at the same moment by a different request "
                "or body; use a new key"
            ) from None
        except SangrahaError as exc:
            # The work is durable and queued; failing now would make the client upload a
            # second copy. The only loss is deduplication of a retry it has no reason to send.
            logger.warning("could not remember idempotency key for %s: %s", record.id, exc)
            return record
        if winner == record.id:
            return record
        # A concurrent retry with the same key won: answer with its record, drop this copy
        # (the worker finds no record for its message and lets it go).
        self._forget_record(record)
        self._forget_blob(staging_key(record.id))
        return self.backends.metadata.get_object(winner)

    # -- best-effort undo -----------------------------------------------------------------

    def _forget_blob(self, key: str) -> None:
        try:
            self.backends.blobs.delete(key)
        except Exception as exc:
            logger.warning("could not remove %s; it is left for garbage collection: %s", key, exc)

    def _forget_record(self, record: ObjectRecord) -> None:
        try:
            self.backends.metadata.delete_objects(record.bucket, record.key, version=record.id)
        except Exception as exc:
            logger.warning(
                "could not remove pending record %s; the reconciler will process it: %s",
                record.id,
                exc,
            )


_DIGEST_SEPARATOR = " body="


def _fingerprint(request: str, digest: Digest) -> str:
    """What a retry with the same idempotency key must repeat: the request and its body."""
    return f"{request}{_DIGEST_SEPARATOR}{digest}"
