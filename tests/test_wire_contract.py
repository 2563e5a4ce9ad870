"""Every problem of the wire catalogue, end to end: raised inside the real getter app, sent
as the service sends it, and raised by the SDK as the class the catalogue names."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.exceptions import HTTPException

import sangraha_client as sc
import sangraha_getter.content
from sangraha_client import _exceptions as client_exceptions
from sangraha_core import (
    Backends,
    ChecksumMismatchError,
    Digest,
    InvalidRangeError,
    ObjectFailedError,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    ObjectTooLargeError,
    RateLimitedError,
    SangrahaError,
)
from sangraha_core.wire import PROBLEM_BASE, ProblemType
from sangraha_getter import create_app

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(backends: Backends) -> AsyncIterator[sc.AsyncClient]:
    # The app's own last-resort answer is what a client sees of a fault; the fault itself
    # is the app's to log, not this transport's to raise.
    transport = httpx.ASGITransport(app=create_app(backends=backends), raise_app_exceptions=False)
    async with sc.AsyncClient(
        base_url="http://getter", transport=transport, max_retries=0
    ) as client:
        yield client


def _failed_record() -> ObjectRecord:
    return ObjectRecord(
        id="0" * 32,
        bucket="docs",
        key="a.json",
        status=ObjectStatus.FAILED,
        kind=ObjectKind.JSON,
        content_type="application/json",
        size=2,
        digest=Digest.from_hex(hashlib.sha256(b"{}").hexdigest()),
        created_at=NOW,
        updated_at=NOW,
        error="not valid JSON",
    )


def _core_error(cls: type[SangrahaError]) -> SangrahaError:
    if issubclass(cls, InvalidRangeError):
        return cls("bytes=9-", size=4)
    if issubclass(cls, ChecksumMismatchError):
        return cls("the body hashes to b", expected="a", actual="b")
    if issubclass(cls, ObjectTooLargeError):
        return cls("over the limit", limit=4)
    if issubclass(cls, RateLimitedError):
        return cls("slow down", retry_after=0.2)
    return cls("what went wrong")


def _raised(problem: ProblemType) -> BaseException:
    """What makes the app answer ``problem``."""
    if problem is ProblemType.FAILED:
        return ObjectFailedError(_failed_record())
    if problem is ProblemType.INTERNAL:
        return RuntimeError("a fault no entry answers")
    if problem.error is None:
        return HTTPException(problem.status, "refused by the HTTP layer")
    return _core_error(problem.error)


@pytest.mark.parametrize("problem", list(ProblemType), ids=lambda p: p.slug)
async def test_every_problem_reaches_the_client_as_its_class(
    problem: ProblemType, client: sc.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def resolve(*_args: object, **_kwargs: object) -> ObjectRecord:
        raise _raised(problem)

    monkeypatch.setattr(sangraha_getter.content, "resolve_by_key", resolve)
    with pytest.raises(sc.APIStatusError) as info:
        await client.get_object("docs", "a.json")
    error = info.value
    assert type(error) is getattr(sc, problem.client_error)
    assert error.status_code == problem.status
    assert error.type == PROBLEM_BASE + problem.slug == problem.type
    assert error.title == problem.title
    assert (error.retry_after is not None) is problem.retry_after


def test_slugs_are_unique_and_each_entry_has_a_core_error_or_a_reason_for_none() -> None:
    assert len({p.slug for p in ProblemType}) == len(ProblemType)
    without = {p for p in ProblemType if p.error is None}
    assert without == {
        ProblemType.FAILED,
        ProblemType.METHOD_NOT_ALLOWED,
        ProblemType.LENGTH_REQUIRED,
        ProblemType.INTERNAL,
    }


def test_client_classes_agree_with_the_catalogue() -> None:
    named = {p.slug: getattr(client_exceptions, p.client_error) for p in ProblemType}
    for slug, cls in named.items():
        assert cls.slug_name in (None, slug), (slug, cls)
    for name in client_exceptions.__all__:
        cls = getattr(client_exceptions, name)
        if isinstance(cls, type) and issubclass(cls, sc.APIStatusError) and cls.slug_name:
            assert named.get(cls.slug_name) is cls, cls


def test_the_most_specific_entry_answers() -> None:
    for problem in ProblemType:
        if problem.error is not None:
            assert ProblemType.of_error(_core_error(problem.error)) is problem
