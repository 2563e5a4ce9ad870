# Generated from _buckets_async.py by scripts/unasync.py: edit that file, then run the script.
# nox -s lint and tests/client/test_unasync.py fail when this one has drifted from it.
"""The bucket methods of :class:`~sangraha_client.Client`.

The requests they send are in :mod:`~sangraha_client._bucket_requests`. Edit this file:
``_buckets_sync.py`` is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import httpx

from sangraha_core import Bucket, BucketKinds, BucketSummary

from ._base_client import RequestOptions
from ._bucket_requests import BucketRequests

__all__ = ["SyncBucketMethods"]


class SyncBucketMethods(BucketRequests):
    """List, show, make, change and delete buckets."""

    def _request(self, options: RequestOptions) -> httpx.Response:
        # The client's send loop stands in for this.
        raise NotImplementedError

    def list_buckets(self) -> list[BucketSummary]:
        """The buckets the client's key may list, by name, with their kind policy, how
        many keys each holds and the bytes of all their versions."""
        return self._parse_buckets(self._request(self._list_buckets_options()))

    def get_bucket(self, name: str) -> Bucket:
        """One bucket's policy; :class:`BucketNotFoundError` if there is none (needs
        ``list`` on it)."""
        return self._parse_bucket(self._request(self._get_bucket_options(name)))

    def create_bucket(self, name: str, kinds: BucketKinds | str | None = None) -> Bucket:
        """Make the bucket ``name``; with ``kinds`` (``"validated"`` or ``"any"``) as its
        policy, else the server's default. :class:`BucketAlreadyExistsError` if it exists.

        Needs ``admin`` on the bucket. Not retried: a retry of a create that went through
        would answer that the bucket exists.
        """
        options = self._create_bucket_options(name, kinds)
        return self._parse_bucket(self._request(options))

    def set_bucket_kinds(self, name: str, kinds: BucketKinds | str) -> Bucket:
        """Change the bucket's policy (versions already stored keep their kind); every
        service applies it within seconds. :class:`BucketNotFoundError` if there is no such
        bucket. Needs ``admin`` on the bucket."""
        options = self._set_bucket_kinds_options(name, kinds)
        return self._parse_bucket(self._request(options))

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket: :class:`BucketNotEmptyError` while it holds a version of
        any object or an upload in progress, :class:`BucketNotFoundError` if there is none.
        Needs ``admin`` on the bucket. Not retried."""
        self._request(self._delete_bucket_options(name))
