"""Sangraha's S3 gateway: the S3 API in front of the same pipeline as the v1 API."""

__all__: list[str] = []
