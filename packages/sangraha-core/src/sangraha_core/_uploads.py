"""Chunked, resumable uploads: parts in any order, assembled by the blob store itself.

A session's id is also the id of the object it makes, and its bytes are assembled at that
object's staging key, so ``complete`` hands the worker exactly what a single PUT would have.
Parts never pass through the service twice: the blob store's multipart machinery joins
them, and the store works the object's digest out as the parts land (see
``storage._front``), so ``complete`` reads back at most what that missed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta

from ._backends import Backends
from ._buckets import BucketKinds
from ._constants import MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, UPLOAD_SESSION_TTL
from ._digest import Digest, DigestedStream, Hasher
from ._exceptions import (
    BackendUnavailableError,
    BucketNotFoundError,
    ChecksumMismatchError,
    InvalidPartError,
    InvalidPartOrderError,
    InvalidRequestError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    PartTooSmallError,
    UnsupportedContentTypeError,
    UploadNotFoundError,
    UploadStateError,
)
from ._ingest import staging_key
from ._media import OPAQUE_DEFAULT_TYPE, SNIFF_SIZE, kind_for, sniff
from ._messages import ProcessObject
from ._models import (
    CONTENT_TYPES,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    PartRecord,
    UploadSession,
    UploadStatus,
    new_id,
    utcnow,
)
from ._names import validate_bucket, validate_key, validate_metadata
from .storage import DigestingJoin, PartResult, SizedParts
from .storage._reader import closing_chunks

__all__ = ["Uploads"]

logger = logging.getLogger("sangraha_core.uploads")

#: Seconds a ``complete`` waits for a concurrent ``complete`` of its session (a client's
#: retry) before answering "unavailable, retry"; S3 clients read for 60 s by default.
CLAIM_WAIT = 50.0
#: Seconds after which a session's ``completing`` claim is taken to be a dead process's.
#: Far above any real completion (a join is a copy on the blob store at worst).
CLAIM_TIMEOUT = 15 * 60.0

_FIRST_POLL = 0.01
_MAX_POLL = 0.25


class Uploads:
    """Open, fill, complete and abort upload sessions; safe to share between threads."""

    def __init__(
        self,
        backends: Backends,
        *,
        min_part_size: int = MIN_PART_SIZE,
        max_part_size: int = MAX_PART_SIZE,
        ttl: float = UPLOAD_SESSION_TTL,
        claim_wait: float = CLAIM_WAIT,
        claim_timeout: float = CLAIM_TIMEOUT,
    ) -> None:
        self.backends = backends
        self.min_part_size = min_part_size
        self.max_part_size = max_part_size
        self.ttl = ttl
        self.claim_wait = claim_wait
        """Seconds a ``complete`` waits for a concurrent one of the same session to end."""
        self.claim_timeout = claim_timeout
        """Seconds after which a ``completing`` session's claim counts as left by a process
        that died: a ``complete`` then takes it over, and ``expire`` may sweep it."""

    def open(
        self,
        bucket: str,
        key: str,
        content_type: str | None,
        *,
        size: int | None = None,
        digest: Digest | None = None,
        metadata: dict[str, str] | None = None,
        create_bucket: bool = True,
    ) -> UploadSession:
        """Open a session of ``bucket``/``key``; the bucket's policy decides the kind, and a
        missing bucket is made as ``Ingest.accept`` makes it (``create_bucket`` false:
        ``BucketNotFoundError``).

        ``content_type`` ``None`` leaves the type to the bytes, as a PutObject without one
        does: ``complete`` reads the assembled object's first bytes and decides its type and
        kind then, refusing there what the bucket's policy refuses."""
        settings = self.backends.settings
        validate_bucket(bucket)
        validate_key(key)
        buckets = self.backends.bucket_cache
        kinds, missing = buckets.policy(
            bucket, create=settings.bucket_kinds if create_bucket else None
        )
        from_bytes = content_type is None
        bare_type, kind = _session_type(content_type, kinds)
        clean = validate_metadata(
            metadata or {}, max_entries=settings.max_meta_entries, max_bytes=settings.max_meta_bytes
        )
        if size is not None and size > settings.max_object_size:
            limit = settings.max_object_size
            raise ObjectTooLargeError(f"objects may be at most {limit} bytes", limit=limit)
        if missing:
            made = buckets.ensure(bucket, kinds)
            if made.kinds is not kinds:  # made meanwhile elsewhere, with another policy
                bare_type, kind = _session_type(content_type, made.kinds)
        upload_id = new_id()
        multipart_id = self.backends.blobs.create_multipart(staging_key(upload_id))
        now = utcnow()
        session = UploadSession(
            id=upload_id,
            bucket=bucket,
            key=key,
            content_type=bare_type,
            kind=kind,
            size=size,
            digest=digest,
            metadata=clean,
            created_at=now,
            expires_at=now + timedelta(seconds=self.ttl),
            min_part_size=self.min_part_size,
            max_part_size=self.max_part_size,
            max_parts=MAX_PARTS,
            multipart_id=multipart_id,
            type_from_bytes=from_bytes,
        )
        try:
            self.backends.metadata.create_upload(session)
        except BaseException:
            self._abort_blob(session)
            raise
        return session

    def get(self, upload_id: str) -> UploadSession:
        session = self.backends.metadata.get_upload(upload_id)
        if session.status is UploadStatus.OPEN and session.expires_at <= utcnow():
            raise UploadNotFoundError(f"upload {upload_id} has expired")
        return session

    def put_part(
        self,
        upload_id: str,
        number: int,
        chunks: Iterable[bytes],
        *,
        declared_digest: Digest | None = None,
        size: int | None = None,
        md5: bool = False,
        declared_md5: str | None = None,
    ) -> PartRecord:
        """Store part ``number``; sending the same number again replaces it (retry-safe).

        A part whose bytes do not match ``declared_digest`` (or ``declared_md5``, a
        Content-MD5 in hex) is not recorded: the session keeps whatever it held for that
        number before. ``size``, when the request said it (``Content-Length``), lets a
        store put the bytes straight where they belong. With ``md5`` (or ``declared_md5``)
        the part's MD5 is worked out as it streams: its ``md5``, S3's part ETag.
        """
        session = self._open_session(upload_id)
        if not 1 <= number <= session.max_parts:
            raise InvalidPartError(f"part numbers run from 1 to {session.max_parts}, not {number}")
        assert session.multipart_id is not None
        blobs = self.backends.blobs
        staged = staging_key(session.id)
        # Wrong bytes fail inside the store's write, which then keeps the part it held.
        data = DigestedStream(
            chunks,
            limit=session.max_part_size,
            expected=declared_digest,
            what=f"part {number}",
            md5=md5,
            expected_md5=declared_md5,
        )
        if size is not None and isinstance(blobs, SizedParts):
            result = blobs.upload_part_sized(staged, session.multipart_id, number, data, size)
        else:
            result = blobs.upload_part(staged, session.multipart_id, number, data)
        part = PartRecord(
            number=number,
            size=data.size,
            etag=result.etag,
            digest=data.digest(),
            md5=data.md5_hex(),
        )
        self.backends.metadata.put_part(upload_id, part)
        return part

    def complete(
        self,
        upload_id: str,
        *,
        digest: Digest | None = None,
        parts: Sequence[tuple[int, str | None]] | None = None,
    ) -> ObjectRecord:
        """Assemble the parts, check the whole, and queue the object for processing.

        ``digest`` declares the whole object's digest here rather than at ``open`` (a
        client can then hash its file while the parts go up); every digest declared must
        match. Completing a completed session answers its record again, so a client whose
        first ``complete`` timed out can simply repeat it. Two at once (a retry while the
        first still runs) do the work once: the first claims the session (``completing``)
        and the other waits, up to ``claim_wait`` seconds, for its outcome: the record, or
        the session open again after a failure (it then tries itself), or aborted.

        ``parts`` names the parts to keep, as S3's CompleteMultipartUpload does: (number,
        ETag) in ascending order, the ETag (quotes allowed) matched against the part's
        ``md5`` (its ``etag`` where it has none; ``None`` matches any). Parts uploaded but
        not named are dropped, and the numbers may have gaps. Without ``parts``, every part
        uploaded is kept, and they must run 1..N. Where every part kept has an ``md5``, the
        record's ``etag`` is the multipart ETag ``<md5 of the parts' md5s>-<count>``.

        :raises InvalidPartOrderError: ``parts`` is not in strictly ascending order.
        :raises InvalidPartError: a named part was not uploaded, or not with that ETag.
        :raises PartTooSmallError: a part kept, but the last, is under ``min_part_size``.
        :raises UnsupportedContentTypeError: the session left its type to the bytes, and the
            bucket's policy refuses what they are; the session is then aborted.
        :raises BackendUnavailableError: a concurrent ``complete`` still holds the session
            after ``claim_wait`` seconds; repeat the call.
        :raises BucketNotFoundError: the session's bucket is gone (checked in the record's
            own transaction); the session is then aborted and its bytes dropped.
        """
        metadata = self.backends.metadata
        deadline = time.monotonic() + self.claim_wait
        delay = _FIRST_POLL
        while True:
            session = metadata.get_upload(upload_id)
            if session.status is UploadStatus.COMPLETED and session.object_id is not None:
                return metadata.get_object(session.object_id)
            if session.status is UploadStatus.ABORTED:
                raise UploadStateError(f"upload {upload_id} is aborted, not open")
            if session.status is UploadStatus.OPEN and session.expires_at <= utcnow():
                raise UploadNotFoundError(f"upload {upload_id} has expired")
            stale = utcnow() - timedelta(seconds=self.claim_timeout)
            if metadata.claim_upload(upload_id, stale_before=stale):
                break
            # Another ``complete`` holds the session: its outcome is this one's too.
            left = deadline - time.monotonic()
            if left <= 0:
                raise BackendUnavailableError(
                    f"upload {upload_id} is being completed by another request; repeat this "
                    "one to get its outcome"
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, _MAX_POLL)
        try:
            return self._complete_claimed(metadata.get_upload(upload_id), digest, parts)
        except BaseException:
            # A failure that did not end the session (a part named wrong, an outage) leaves
            # it open, so that a repeated ``complete`` may mend it.
            self._release(upload_id)
            raise

    def _complete_claimed(
        self,
        session: UploadSession,
        digest: Digest | None,
        parts: Sequence[tuple[int, str | None]] | None,
    ) -> ObjectRecord:
        """``complete`` of a session this call holds (``completing``)."""
        upload_id = session.id
        made = self._made_already(session)
        if made is not None:
            return made
        kept = _kept_parts(session, parts)
        total = sum(p.size for p in kept)
        if session.size is not None and total != session.size:
            raise UploadStateError(f"the parts hold {total} bytes, not the declared {session.size}")
        if total > self.backends.settings.max_object_size:
            limit = self.backends.settings.max_object_size
            raise ObjectTooLargeError(f"objects may be at most {limit} bytes", limit=limit)

        staged = staging_key(session.id)
        actual, size = self._join(session, staged, kept)
        wrong = next((d for d in (session.digest, digest) if d is not None and d != actual), None)
        if wrong is not None:
            self._discard(upload_id, staged)
            raise ChecksumMismatchError(
                f"the assembled object's digest is {actual}, not the declared {wrong}",
                expected=str(wrong),
                actual=str(actual),
            )
        content_type, kind = session.content_type, session.kind
        if session.type_from_bytes:
            try:
                content_type, kind = self._typed_by_bytes(session, staged, size)
            except UnsupportedContentTypeError:
                self._discard(upload_id, staged)
                raise
        now = utcnow()
        record = ObjectRecord(
            id=session.id,
            bucket=session.bucket,
            key=session.key,
            status=ObjectStatus.PENDING,
            kind=kind,
            content_type=content_type,
            size=size,
            digest=actual,
            created_at=now,
            updated_at=now,
            metadata=session.metadata,
            etag=_multipart_etag(kept),
        )
        try:
            # In the record's transaction, the bucket must still exist (and stays until the
            # commit): a session outliving its bucket makes no object in a bucket gone.
            self.backends.metadata.create_object(record, buckets={session.bucket: None})
        except BucketNotFoundError:
            self.backends.bucket_cache.forget(session.bucket)
            self._discard(upload_id, staged)
            raise
        except InvalidRequestError:
            # Made meanwhile by a ``complete`` that took the session over from this one.
            made = self._made_already(session)
            if made is None:
                raise
            return made
        try:
            self.backends.queue.publish(ProcessObject.for_object(record.id))
        except BaseException:
            # Keep the assembled bytes and the session: a repeated ``complete`` retries this.
            self.backends.metadata.delete_objects(record.bucket, record.key, version=record.id)
            raise
        self.backends.metadata.finish_upload(
            upload_id, status=UploadStatus.COMPLETED, object_id=record.id
        )
        return record

    def abort(self, upload_id: str) -> None:
        session = self.backends.metadata.get_upload(upload_id)
        if session.status is UploadStatus.COMPLETED:
            raise UploadStateError(f"upload {upload_id} is already complete")
        if session.status is UploadStatus.COMPLETING and not self._stale(session):
            raise UploadStateError(f"upload {upload_id} is being completed")
        self._abort_blob(session)
        self.backends.metadata.delete_upload(upload_id)

    def expire(self, *, limit: int = 100) -> int:
        """Abort sessions past their expiry, freeing their parts; how many went."""
        expired = self.backends.metadata.expired_uploads(utcnow(), limit=limit)
        gone = 0
        for session in expired:
            if session.status is UploadStatus.COMPLETING and not self._stale(session):
                continue  # a ``complete`` is under way: its outcome decides
            # A stale claim's process died: its parts go as an open session's do (a record
            # it made keeps its own staged bytes, which are not the parts).
            if session.status in (UploadStatus.OPEN, UploadStatus.COMPLETING):
                self._abort_blob(session)
            self.backends.metadata.delete_upload(session.id)
            gone += 1
        return gone

    def _stale(self, session: UploadSession) -> bool:
        """Whether a ``completing`` session's claim is old enough to be taken over."""
        claimed = session.claimed_at
        return claimed is None or claimed < utcnow() - timedelta(seconds=self.claim_timeout)

    def _made_already(self, session: UploadSession) -> ObjectRecord | None:
        """The record a earlier ``complete`` of ``session`` made (it then died, or failed
        to mark the session completed), with the session now marked so; else ``None``."""
        try:
            record = self.backends.metadata.get_object(session.id)
        except ObjectNotFoundError:
            return None
        # A pending record's job, if its publish was lost, is published by the reconciler.
        self.backends.metadata.finish_upload(
            session.id, status=UploadStatus.COMPLETED, object_id=record.id
        )
        return record

    def _release(self, upload_id: str) -> None:
        try:
            self.backends.metadata.release_upload(upload_id)
        except Exception as exc:
            logger.warning(
                "could not reopen upload %s; a complete takes it over once its claim is stale: %s",
                upload_id,
                exc,
            )

    def _join(
        self, session: UploadSession, staged: str, parts: list[PartRecord]
    ) -> tuple[Digest, int]:
        """Join the parts into the staged object: its digest and size."""
        blobs = self.backends.blobs
        # An earlier ``complete`` may have joined the parts and then failed to record or
        # queue the object (a 503): the store's multipart upload is gone, the joined bytes
        # are not, and this attempt carries on from them.
        if not blobs.exists(staged):
            assert session.multipart_id is not None
            joined = [
                PartResult(part_number=p.number, size=p.size, etag=p.etag, digest=p.digest)
                for p in parts
            ]
            if isinstance(blobs, DigestingJoin):
                result, digest = blobs.complete_multipart_digest(
                    staged, session.multipart_id, joined
                )
                return digest, result.size
            blobs.complete_multipart(staged, session.multipart_id, joined)
        hasher = Hasher()
        for chunk in closing_chunks(blobs.get(staged)):
            hasher.update(chunk)
        return hasher.digest(), hasher.size

    def _typed_by_bytes(
        self, session: UploadSession, staged: str, size: int
    ) -> tuple[str, ObjectKind]:
        """The type and kind of the assembled object at ``staged``, from its first bytes,
        checked against the bucket's policy now (it may have changed since ``open``)."""
        head = b""
        if size:
            chunks = self.backends.blobs.get(staged, start=0, end=min(size, SNIFF_SIZE))
            head = b"".join(closing_chunks(chunks))
        found = sniff(head)
        settings = self.backends.settings
        kinds, _ = self.backends.bucket_cache.policy(session.bucket, create=settings.bucket_kinds)
        if found is None and kinds is BucketKinds.VALIDATED:
            raise UnsupportedContentTypeError(
                "the upload was sent without a Content-Type and its first bytes are none of "
                f"the types this bucket stores; send one of {', '.join(CONTENT_TYPES)}"
            )
        return kind_for(found or OPAQUE_DEFAULT_TYPE, kinds)

    def _discard(self, upload_id: str, staged: str) -> None:
        """Drop the assembled bytes of a refused completion; the session ends aborted."""
        self.backends.blobs.delete(staged)
        self.backends.metadata.finish_upload(upload_id, status=UploadStatus.ABORTED, object_id=None)

    def _open_session(self, upload_id: str) -> UploadSession:
        session = self.get(upload_id)
        if session.status is not UploadStatus.OPEN:
            raise UploadStateError(f"upload {upload_id} is {session.status.value}, not open")
        return session

    def _abort_blob(self, session: UploadSession) -> None:
        if session.multipart_id is None:
            return
        try:
            self.backends.blobs.abort_multipart(staging_key(session.id), session.multipart_id)
        except (ObjectNotFoundError, FileNotFoundError):
            pass
        except Exception as exc:
            logger.warning("could not abort multipart upload of %s: %s", session.id, exc)


def _session_type(content_type: str | None, kinds: BucketKinds) -> tuple[str, ObjectKind]:
    """What a session records at ``open``: the declared type checked against the bucket's
    policy, or, left to the bytes, a placeholder ``complete`` replaces."""
    if content_type is None:
        return OPAQUE_DEFAULT_TYPE, ObjectKind.OPAQUE
    return kind_for(content_type, kinds)


# -- which parts an object is made of -------------------------------------------------------


def _kept_parts(
    session: UploadSession, named: Sequence[tuple[int, str | None]] | None
) -> list[PartRecord]:
    """The parts ``complete`` joins, in order, checked as S3 checks them."""
    if named is None:
        parts = session.parts
        numbers = [p.number for p in parts]
        if not parts or numbers != list(range(1, len(parts) + 1)):
            missing = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
            raise UploadStateError(
                f"parts must run 1..N without gaps before completing; missing {missing or [1]}"
            )
    else:
        if not named:
            raise InvalidPartError("completing an upload needs at least one part")
        uploaded = {p.number: p for p in session.parts}
        parts = []
        for index, (number, etag) in enumerate(named):
            if index and number <= named[index - 1][0]:
                raise InvalidPartOrderError(
                    f"parts must be listed in ascending order of their numbers: {number} "
                    f"follows {named[index - 1][0]}"
                )
            part = uploaded.get(number)
            if part is None:
                raise InvalidPartError(f"part {number} was not uploaded")
            held = part.md5 if part.md5 is not None else part.etag
            if etag is not None and etag.strip('"').lower() != held.lower():
                raise InvalidPartError(f"part {number} was uploaded with another ETag")
            parts.append(part)
    for part in parts[:-1]:
        if part.size < session.min_part_size:
            raise PartTooSmallError(
                f"part {part.number} has {part.size} bytes; every part but the last needs "
                f"at least {session.min_part_size}"
            )
    return parts


def _multipart_etag(parts: Sequence[PartRecord]) -> str | None:
    """S3's ETag of an object made of ``parts``: the MD5 of their MD5s, and their count;
    ``None`` unless every part's MD5 is known."""
    md5s = [p.md5 for p in parts]
    if not md5s or any(m is None for m in md5s):
        return None
    joined = b"".join(bytes.fromhex(m) for m in md5s if m is not None)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(md5s)}"
