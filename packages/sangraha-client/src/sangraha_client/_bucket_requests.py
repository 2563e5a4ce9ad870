"""Buckets, as pure steps both clients share: the requests of ``/v1/buckets`` and the parsing
of their answers. Listing and showing go to the read service; making, changing and deleting
to the write service."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pydantic

from sangraha_core import Bucket, BucketKinds, BucketSummary

from ._base_client import BaseClient, RequestOptions

__all__ = ["BucketRequests"]

_SUMMARY_LIST_ADAPTER = pydantic.TypeAdapter(list[BucketSummary])


def _path(name: str) -> str:
    return f"/v1/buckets/{quote(name, safe='')}"


def _policy(kinds: BucketKinds | str | None) -> dict[str, str]:
    # Checked here, so a typo is a ValueError before any request rather than a 400 after one.
    return {} if kinds is None else {"kinds": BucketKinds(kinds).value}


class BucketRequests(BaseClient):
    """The bucket API's requests and answers."""

    def _list_buckets_options(self) -> RequestOptions:
        return RequestOptions("GET", self._url("/v1/buckets"))

    def _get_bucket_options(self, name: str) -> RequestOptions:
        return RequestOptions("GET", self._url(_path(name)))

    def _create_bucket_options(self, name: str, kinds: BucketKinds | str | None) -> RequestOptions:
        return RequestOptions(
            "PUT",
            self._url(_path(name), write=True),
            # Only make it: an existing bucket is a BucketAlreadyExistsError, not a change.
            headers={"If-None-Match": "*"},
            json_data=_policy(kinds),
            # A retry of a create that went through would answer that the bucket exists.
            retryable=False,
        )

    def _set_bucket_kinds_options(self, name: str, kinds: BucketKinds | str) -> RequestOptions:
        return RequestOptions(
            "PUT",
            self._url(_path(name), write=True),
            # Only change it: a missing bucket is a BucketNotFoundError, not made here.
            headers={"If-Match": "*"},
            json_data=_policy(kinds),
        )

    def _delete_bucket_options(self, name: str) -> RequestOptions:
        return RequestOptions(
            "DELETE",
            self._url(_path(name), write=True),
            # A retry of a delete that went through would answer that there is no bucket.
            retryable=False,
        )

    @staticmethod
    def _parse_bucket(response: httpx.Response) -> Bucket:
        return Bucket.model_validate_json(response.content)

    @staticmethod
    def _parse_buckets(response: httpx.Response) -> list[BucketSummary]:
        return _SUMMARY_LIST_ADAPTER.validate_json(response.content)
