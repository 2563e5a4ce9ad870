"""Which S3 operation a request is: S3 names them by method, path shape and query flags.

The table below is the whole S3 surface the gateway serves; anything else S3 defines is
answered ``501 NotImplemented`` naming the operation, never mistaken for a neighbour
(``GET /b?acl`` is not a listing). Of the configuration sub-resources, the reads tools make
as a matter of course are answered as an unconfigured bucket answers them (see
``configuration``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import QueryParams
from starlette.responses import Response

from . import buckets, configuration, listing, multipart, objects, reads
from ._call import S3Call
from ._errors import S3Error

__all__ = ["UNSUPPORTED_SUBRESOURCES", "Operation", "resolve"]

Operation = Callable[[S3Call], Awaitable[Response]]

#: Query flags of S3 operations the gateway does not implement, with the answer's wording,
#: but for the few of them ``_CONFIGURATION`` serves.
UNSUPPORTED_SUBRESOURCES = (
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "versions",
    "website",
)

#: The configuration operations served, by (on an object, method, flag): the reads answer
#: what S3 answers where nothing is configured, and a private ACL may be set (a no-op).
_CONFIGURATION: dict[tuple[bool, str, str], tuple[str, Operation]] = {
    (False, "GET", "acl"): ("GetBucketAcl", configuration.get_bucket_acl),
    (False, "PUT", "acl"): ("PutBucketAcl", configuration.put_bucket_acl),
    (False, "GET", "cors"): ("GetBucketCors", configuration.get_bucket_cors),
    (False, "GET", "encryption"): ("GetBucketEncryption", configuration.get_bucket_encryption),
    (False, "GET", "lifecycle"): (
        "GetBucketLifecycleConfiguration",
        configuration.get_bucket_lifecycle,
    ),
    (False, "GET", "policy"): ("GetBucketPolicy", configuration.get_bucket_policy),
    (False, "GET", "tagging"): ("GetBucketTagging", configuration.get_bucket_tagging),
    (False, "GET", "website"): ("GetBucketWebsite", configuration.get_bucket_website),
    (True, "GET", "acl"): ("GetObjectAcl", configuration.get_object_acl),
    (True, "PUT", "acl"): ("PutObjectAcl", configuration.put_object_acl),
    (True, "GET", "tagging"): ("GetObjectTagging", configuration.get_object_tagging),
}


def resolve(call: S3Call) -> tuple[str, Operation]:
    """The operation's S3 name (for metrics and logs) and the function that serves it."""
    query = call.query
    method = call.method
    for flag in UNSUPPORTED_SUBRESOURCES:
        if flag in query:
            served = None
            if call.bucket is not None:
                served = _CONFIGURATION.get((call.key is not None, method, flag))
            if served is None:
                raise S3Error("NotImplemented", f"the ?{flag} operations are not implemented")
            return served
    if call.bucket is None:
        if method == "GET":
            return "ListBuckets", buckets.list_buckets
        raise _not_allowed(method, "the service")
    if call.key is None:
        return _bucket_operation(call, method)
    return _object_operation(call, method)


def _bucket_operation(call: S3Call, method: str) -> tuple[str, Operation]:
    query = call.query
    if method == "GET":
        if "location" in query:
            return "GetBucketLocation", buckets.get_bucket_location
        if "versioning" in query:
            return "GetBucketVersioning", buckets.get_bucket_versioning
        if "uploads" in query:
            return "ListMultipartUploads", multipart.list_multipart_uploads
        if query.get("list-type") == "2":
            return "ListObjectsV2", listing.list_objects_v2
        return "ListObjects", listing.list_objects
    if method == "PUT":
        if "versioning" in query:
            raise S3Error("NotImplemented", "versioning is always on and cannot be configured")
        # A bucket PUT with a flag (?metadataConfiguration) configures a bucket: it must not
        # create one.
        _only_known(query, frozenset(), method)
        return "CreateBucket", buckets.create_bucket
    if method == "HEAD":
        return "HeadBucket", buckets.head_bucket
    if method == "DELETE":
        _only_known(query, frozenset(), method)
        return "DeleteBucket", buckets.delete_bucket
    if method == "POST" and "delete" in query:
        return "DeleteObjects", objects.delete_objects
    raise _not_allowed(method, "a bucket")


def _object_operation(call: S3Call, method: str) -> tuple[str, Operation]:
    query = call.query
    copy = call.header("x-amz-copy-source") is not None
    if method == "PUT":
        # A flag this table does not know (?renameObject) must not store the body as the object.
        _only_known(query, frozenset({"uploadId", "partNumber"}), method)
        if "uploadId" in query or "partNumber" in query:
            if copy:
                return "UploadPartCopy", multipart.upload_part_copy
            return "UploadPart", multipart.upload_part
        if copy:
            return "CopyObject", objects.copy_object
        return "PutObject", objects.put_object
    if method == "GET":
        if "uploadId" in query:
            return "ListParts", multipart.list_parts
        return "GetObject", reads.get_object
    if method == "HEAD":
        return "HeadObject", reads.head_object
    if method == "DELETE":
        _only_known(query, frozenset({"versionId", "uploadId"}), method)
        if "uploadId" in query:
            return "AbortMultipartUpload", multipart.abort_multipart_upload
        return "DeleteObject", objects.delete_object
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload", multipart.create_multipart_upload
        if "uploadId" in query:
            return "CompleteMultipartUpload", multipart.complete_multipart_upload
    raise _not_allowed(method, "an object")


#: Query parameters any request may carry: botocore's operation name and those of a
#: presigned URL (SigV4 and SigV2).
_CARRIED = frozenset(
    {
        "x-id",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "AWSAccessKeyId",
        "Signature",
        "Expires",
    }
)


def _only_known(query: QueryParams, known: frozenset[str], method: str) -> None:
    """A DELETE or a PUT names its operation by its query; one with a flag this
    table does not know (an S3 operation added later, ``?metadataTable``) must not fall
    through to deleting the bucket or the object, to overwriting the object or to creating
    the bucket."""
    for name in query:
        if name not in known and name not in _CARRIED:
            raise S3Error("NotImplemented", f"{method} with ?{name} is not implemented")


def _not_allowed(method: str, target: str) -> S3Error:
    return S3Error("MethodNotAllowed", f"{method} is not allowed on {target}")
