"""What an unconfigured bucket answers: the configuration sub-resources tools read.

Sangraha keeps no ACLs, policies, CORS rules, lifecycle rules, tags, encryption or website
configuration, yet tools read them as a matter of course (s3cmd ``info`` and ``cp``, boto3
scripts). Each read is answered as S3 answers a bucket or object on which nothing was ever
configured, after the same checks as its neighbours: the bucket (and key) must exist, and
the key needs the grant a listing (bucket) or a read (object) needs. A private ACL is the
one configuration every resource already has, so setting it is a no-op; every other change
stays ``501 NotImplemented`` (see ``_dispatch``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from starlette.responses import Response

from sangraha_core.access import Action

from . import _xml
from ._call import S3Call, xml_response
from ._errors import S3Error
from .buckets import OWNER
from .objects import small_body
from .reads import ready_version

__all__ = [
    "get_bucket_acl",
    "get_bucket_cors",
    "get_bucket_encryption",
    "get_bucket_lifecycle",
    "get_bucket_policy",
    "get_bucket_tagging",
    "get_bucket_website",
    "get_object_acl",
    "get_object_tagging",
    "put_bucket_acl",
    "put_object_acl",
]

#: The most a PutObjectAcl / PutBucketAcl body is read to: an ACL document is small.
_MAX_ACL_BODY = 64 * 1024


async def get_bucket_acl(call: S3Call) -> Response:
    await _bucket(call)
    return xml_response(_xml.render_access_control_policy(OWNER))


async def get_object_acl(call: S3Call) -> Response:
    await _object(call)
    return xml_response(_xml.render_access_control_policy(OWNER))


async def get_object_tagging(call: S3Call) -> Response:
    await _object(call)
    return xml_response(_xml.render_tagging())


def _not_configured(code: str, message: str) -> Callable[[S3Call], Awaitable[Response]]:
    """The read of a bucket configuration nothing can set: S3's 404 for "none"."""

    async def answer(call: S3Call) -> Response:
        await _bucket(call)
        raise S3Error(code, message, resource=call.bucket_name)

    return answer


get_bucket_policy = _not_configured("NoSuchBucketPolicy", "the bucket policy does not exist")
get_bucket_cors = _not_configured(
    "NoSuchCORSConfiguration", "the CORS configuration does not exist"
)
get_bucket_lifecycle = _not_configured(
    "NoSuchLifecycleConfiguration", "the lifecycle configuration does not exist"
)
get_bucket_tagging = _not_configured("NoSuchTagSet", "the TagSet does not exist")
get_bucket_encryption = _not_configured(
    "ServerSideEncryptionConfigurationNotFoundError",
    "the server side encryption configuration was not found",
)
get_bucket_website = _not_configured(
    "NoSuchWebsiteConfiguration", "the specified bucket does not have a website configuration"
)


async def put_bucket_acl(call: S3Call) -> Response:
    """A canned ``private`` ACL is what the bucket has already; any other is not served."""
    bucket = call.bucket_name
    call.require(Action.ADMIN)
    await _only_private(call)
    await call.run(partial(call.backends.metadata.get_bucket, bucket))
    return Response(status_code=200)


async def put_object_acl(call: S3Call) -> Response:
    """A canned ``private`` ACL is what the object has already; any other is not served."""
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    await _only_private(call)
    version = call.query.get("versionId")
    await call.run(partial(ready_version, call.backends.metadata, bucket, key, version))
    return Response(status_code=200)


async def _bucket(call: S3Call) -> None:
    bucket = call.bucket_name
    call.require(Action.LIST)
    await call.run(partial(call.backends.metadata.get_bucket, bucket))


async def _object(call: S3Call) -> None:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.READ)
    version = call.query.get("versionId")
    await call.run(partial(ready_version, call.backends.metadata, bucket, key, version))


async def _only_private(call: S3Call) -> None:
    """``NotImplemented`` unless the request sets the canned ``private`` ACL: ``x-amz-acl:
    private``, or no ACL header at all, with no grant headers and no ACL document."""
    canned = (call.header("x-amz-acl") or "private").strip().lower()
    grants = [name for name in call.request.headers if name.lower().startswith("x-amz-grant-")]
    if canned != "private" or grants:
        raise S3Error("NotImplemented", "only the canned private ACL can be set")
    if await small_body(call, _MAX_ACL_BODY):
        raise S3Error("NotImplemented", "ACL documents are not served; only x-amz-acl: private")
