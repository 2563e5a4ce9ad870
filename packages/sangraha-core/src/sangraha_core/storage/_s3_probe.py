"""What an S3 endpoint honours, learnt by asking it rather than assumed from AWS.

S3-compatible servers differ in exactly the places a blob store leans on: whether a
conditional write is refused when the key exists, and whether anything checks that a
body's bytes are the ones that were sent. moto agrees with whatever it is sent; Ceph RGW
(Pacific) honours ``If-None-Match`` on ``PutObject`` but not on
``CompleteMultipartUpload``, ignores ``x-amz-checksum-*`` and verifies ``Content-MD5``.
:func:`probe` finds out with a handful of requests on scratch keys of its own, which it
deletes again, and the store acts on the answer.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import botocore.exceptions

from .._exceptions import BlobStoreUnavailableError
from ._s3_requests import Requests, error_status

__all__ = ["PROBE_PREFIX", "Capabilities", "probe"]

logger = logging.getLogger("sangraha_core.storage.s3")

#: Scratch keys of a probe live under this prefix, apart from anything the services list.
PROBE_PREFIX = ".sangraha-probe/"

_BODY = b"sangraha capability probe"
_OTHER = b"not the probe's bytes"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one endpoint was seen to do."""

    conditional_put: bool
    """``PutObject`` with ``If-None-Match: *`` on an existing key answers 412."""
    conditional_complete: bool
    """``CompleteMultipartUpload`` with ``If-None-Match: *`` on an existing key answers
    412 (rather than replacing the object)."""
    checksum_verified: bool
    """A ``PutObject`` whose ``x-amz-checksum-sha256`` does not match its body is refused."""
    checksum_reported: bool
    """The SHA-256 a ``PutObject`` declared comes back from it, or from ``HeadObject``."""
    md5_verified: bool
    """A ``PutObject`` whose ``Content-MD5`` does not match its body is refused."""

    @property
    def send_md5(self) -> bool:
        """Whether bodies should carry ``Content-MD5``: the one check this server makes of
        the bytes, where it does not check their SHA-256."""
        return self.md5_verified and not self.checksum_verified


def probe(requests: Requests) -> Capabilities:
    """Ask the endpoint behind ``requests`` what it honours; log the answer at INFO.

    Ordinary requests go through the retry policy, so an unreachable endpoint raises
    ``BlobStoreUnavailableError`` (and nothing is learnt). The requests whose answer is
    the finding are sent once: a refusal is the answer, not a failure.
    """
    client, bucket = requests.client, requests.bucket
    scratch = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    written: list[str] = []
    try:
        put = requests.run(
            lambda: client.put_object(
                Bucket=bucket,
                Key=scratch,
                Body=_BODY,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_sha256(_BODY),
            ),
            scratch,
        )
        written.append(scratch)
        reported = put.get("ChecksumSHA256") == _sha256(_BODY)
        if not reported:
            head = requests.run(
                lambda: client.head_object(Bucket=bucket, Key=scratch, ChecksumMode="ENABLED"),
                scratch,
            )
            reported = head.get("ChecksumSHA256") == _sha256(_BODY)
        conditional_put = (
            _answer(
                requests,
                scratch,
                lambda: client.put_object(Bucket=bucket, Key=scratch, Body=_OTHER, IfNoneMatch="*"),
            )
            == 412
        )
        written.append(f"{scratch}.sha256")
        checksum_verified = _refused(
            _answer(
                requests,
                scratch,
                lambda: client.put_object(
                    Bucket=bucket, Key=written[-1], Body=_BODY, ChecksumSHA256=_sha256(_OTHER)
                ),
            )
        )
        written.append(f"{scratch}.md5")
        md5_verified = _refused(
            _answer(
                requests,
                scratch,
                lambda: client.put_object(
                    Bucket=bucket, Key=written[-1], Body=_BODY, ContentMD5=_md5(_OTHER)
                ),
            )
        )
        conditional_complete = _probe_complete(requests, scratch)
    finally:
        for key in written:
            try:
                requests.run(lambda k=key: client.delete_object(Bucket=bucket, Key=k), key)  # type: ignore[misc]
            except Exception:
                logger.warning("could not delete the probe's scratch key %r", key)
    found = Capabilities(
        conditional_put=conditional_put,
        conditional_complete=conditional_complete,
        checksum_verified=checksum_verified,
        checksum_reported=reported,
        md5_verified=md5_verified,
    )
    logger.info(
        "S3 at %s (bucket %r) honours: %s",
        client.meta.endpoint_url,
        bucket,
        ", ".join(f"{name}={value}" for name, value in asdict(found).items()),
    )
    if not (found.checksum_verified or found.md5_verified):
        logger.warning(
            "S3 at %s checks neither x-amz-checksum-sha256 nor Content-MD5: nothing verifies "
            "that stored bytes are the bytes sent",
            client.meta.endpoint_url,
        )
    return found


def _probe_complete(requests: Requests, key: str) -> bool:
    """Complete a one-part upload onto the existing ``key`` with ``If-None-Match: *``:
    whether it was refused. A server that takes it replaces ``key``: a scratch key."""
    client, bucket = requests.client, requests.bucket
    upload_id = requests.run(
        lambda: client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")[
            "UploadId"
        ],
        key,
    )
    try:
        part = requests.run(
            lambda: client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=1,
                Body=_OTHER,
                ChecksumSHA256=_sha256(_OTHER),
            ),
            key,
            upload=(key, upload_id),
        )
        only: Any = {"PartNumber": 1, "ETag": part["ETag"], "ChecksumSHA256": _sha256(_OTHER)}
        return (
            _answer(
                requests,
                key,
                lambda: client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [only]},
                    IfNoneMatch="*",
                ),
            )
            == 412
        )
    finally:
        # Refused, the upload is still open; taken, this finds it gone, which is fine.
        with contextlib.suppress(
            botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError
        ):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def _answer(requests: Requests, name: str, call: Callable[[], object]) -> int:
    """Send once; the HTTP status of the answer. A 501 (the server does not implement a
    header) is an answer too; any other 5xx, or a broken connection, is no finding and
    raises ``BlobStoreUnavailableError``."""
    try:
        call()
    except botocore.exceptions.ClientError as exc:
        status = error_status(exc)
        if 400 <= status < 500 or status == 501:
            return status
        raise requests.translate(exc, name) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise BlobStoreUnavailableError(f"S3 is unreachable: {exc}") from exc
    return 200


def _refused(status: int) -> bool:
    """Whether the server refused a body as not matching what it declared."""
    return 400 <= status < 500


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()
