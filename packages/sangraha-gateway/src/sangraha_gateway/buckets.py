"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation
and GetBucketVersioning.

A bucket made through S3 takes the server's default kind policy (``SANGRAHA_BUCKET_KINDS``);
the v1 API, the CLI and the console change it (see docs/buckets.md).
"""

from __future__ import annotations

from functools import partial

from starlette.responses import Response

from sangraha_core.access import Action

from . import _xml
from ._call import S3Call, xml_response
from ._errors import S3Error
from .objects import small_body

__all__ = [
    "OWNER",
    "create_bucket",
    "delete_bucket",
    "get_bucket_location",
    "get_bucket_versioning",
    "head_bucket",
    "list_buckets",
]

#: The one owner of every bucket: an installation has no accounts, only keys.
OWNER = _xml.Owner(id="sangraha", display_name="sangraha")

_MAX_CONFIGURATION = 64 * 1024


async def list_buckets(call: S3Call) -> Response:
    """The buckets the key may list."""
    principal = call.principal
    found = await call.run(partial(call.backends.metadata.list_buckets_without_totals))
    entries = [
        _xml.BucketEntry(name=bucket.name, created=bucket.created_at)
        for bucket in found
        if principal.allows(Action.LIST, bucket.name)
    ]
    return xml_response(_xml.render_list_buckets(OWNER, entries))


async def create_bucket(call: S3Call) -> Response:
    bucket = call.bucket_name
    call.require(Action.ADMIN)
    body = await small_body(call, _MAX_CONFIGURATION)
    location = _xml.parse_create_bucket_configuration(body, max_bytes=_MAX_CONFIGURATION)
    region = call.backends.settings.region
    if location not in (None, "", region) and not (location == "US" and region == "us-east-1"):
        raise S3Error(
            "InvalidLocationConstraint",
            f"this server's region is {region!r}, not {location!r}",
            resource=bucket,
        )
    kinds = call.backends.settings.bucket_kinds
    # Through the cache, so this process sees the new bucket at once.
    await call.run(partial(call.backends.bucket_cache.create, bucket, kinds))
    return Response(status_code=200, headers={"Location": f"/{bucket}"})


async def head_bucket(call: S3Call) -> Response:
    bucket = call.bucket_name
    call.require(Action.LIST)
    await call.run(partial(call.backends.metadata.get_bucket, bucket))
    return Response(status_code=200, headers={"x-amz-bucket-region": call.backends.settings.region})


async def delete_bucket(call: S3Call) -> Response:
    bucket = call.bucket_name
    call.require(Action.ADMIN)
    await call.run(partial(call.backends.bucket_cache.delete, bucket))
    return Response(status_code=204)


async def get_bucket_location(call: S3Call) -> Response:
    bucket = call.bucket_name
    call.require(Action.LIST)
    await call.run(partial(call.backends.metadata.get_bucket, bucket))
    return xml_response(_xml.render_location_constraint(call.backends.settings.region))


async def get_bucket_versioning(call: S3Call) -> Response:
    """Every write keeps a new version, but S3's versioning API (version listings, delete
    markers) is not served, so the bucket reports versioning as never configured."""
    bucket = call.bucket_name
    call.require(Action.LIST)
    await call.run(partial(call.backends.metadata.get_bucket, bucket))
    return xml_response(_xml.render_versioning_configuration())
