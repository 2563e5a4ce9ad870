"""Blob stores: the protocol, and the backends behind it (``file``, ``s3``)."""

from ._protocol import BlobInfo, BlobStore, Data, PartResult, PutMode, PutResult

__all__ = ["BlobInfo", "BlobStore", "Data", "PartResult", "PutMode", "PutResult"]
