"""Error answers become the right exception class, carrying the problem's fields."""

from __future__ import annotations

import httpx
import pytest

import sangraha_client as sc
from sangraha_client._base_client import make_status_error
from tests.client.fake_sangraha import problem


def attach(response: httpx.Response) -> httpx.Response:
    response.request = httpx.Request("GET", "http://x/")
    return response


@pytest.mark.parametrize(
    ("status", "slug", "cls"),
    [
        (400, "invalid-request", sc.BadRequestError),
        (400, "checksum-mismatch", sc.ChecksumMismatchError),
        (400, "invalid-name", sc.InvalidNameError),
        (400, "invalid-metadata", sc.InvalidMetadataError),
        (400, "invalid-part", sc.InvalidPartError),
        (401, "unauthorized", sc.AuthenticationError),
        (404, "not-found", sc.NotFoundError),
        (404, "upload-not-found", sc.UploadNotFoundError),
        (409, "conflict", sc.ConflictError),
        (409, "pending", sc.PendingError),
        (409, "upload-state", sc.UploadStateError),
        (413, "too-large", sc.TooLargeError),
        (415, "unsupported-content-type", sc.UnsupportedMediaTypeError),
        (416, "invalid-range", sc.RangeNotSatisfiableError),
        (422, "invalid-content", sc.InvalidContentError),
        (422, "invalid-request", sc.UnprocessableEntityError),
        (405, "method-not-allowed", sc.APIStatusError),
        (422, "idempotency-key-reused", sc.IdempotencyKeyReusedError),
        (429, "rate-limited", sc.RateLimitError),
        (500, "internal", sc.InternalServerError),
        (503, "unavailable", sc.ServiceUnavailableError),
    ],
)
def test_status_and_slug_pick_the_class(status: int, slug: str, cls: type) -> None:
    error = make_status_error(attach(problem(status, slug, "what went wrong")))
    assert type(error) is cls
    assert error.status_code == status
    assert error.slug == slug
    assert error.type == f"https://sangraha.dev/problems/{slug}"
    assert error.detail == "what went wrong"
    assert "what went wrong" in str(error)


def test_a_slug_never_overrides_a_contradicting_status() -> None:
    error = make_status_error(attach(problem(404, "pending")))
    assert type(error) is sc.NotFoundError
    # The service sends invalid content as a 422; a 400 naming it is a plain bad request.
    error = make_status_error(attach(problem(400, "invalid-content")))
    assert type(error) is sc.BadRequestError


def test_a_body_that_is_not_a_problem_still_maps_by_status() -> None:
    error = make_status_error(attach(httpx.Response(502, text="<html>bad gateway</html>")))
    assert type(error) is sc.InternalServerError
    assert error.problem is None
    assert error.type == "about:blank"
    assert "bad gateway" in str(error)


def test_hierarchy() -> None:
    assert issubclass(sc.PendingError, sc.ConflictError)
    assert issubclass(sc.InvalidContentError, sc.UnprocessableEntityError)
    assert issubclass(sc.ServiceUnavailableError, sc.InternalServerError)
    assert issubclass(sc.APITimeoutError, sc.APIConnectionError)
    assert issubclass(sc.APIStatusError, sc.APIError)
    assert issubclass(sc.WaitTimeoutError, TimeoutError)
    for cls in (sc.ProcessingFailedError, sc.DigestMismatchError, sc.APIError):
        assert issubclass(cls, sc.SangrahaError)
