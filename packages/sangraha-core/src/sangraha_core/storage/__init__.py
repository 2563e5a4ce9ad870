"""Blob stores: the protocol, and the backends behind it (``file``, ``s3``)."""

from ._protocol import (
    BlobInfo,
    BlobStore,
    Data,
    DeletesMany,
    DigestingJoin,
    PartResult,
    PutMode,
    PutResult,
    SizedParts,
    StagingWrites,
    ordered_parts,
)
from ._reader import BlobReader

__all__ = [
    "BlobInfo",
    "BlobReader",
    "BlobStore",
    "Data",
    "DeletesMany",
    "DigestingJoin",
    "PartResult",
    "PutMode",
    "PutResult",
    "SizedParts",
    "StagingWrites",
    "ordered_parts",
]
