"""Either client behind the sync client's interface, so one test body checks both.

A test asks for the ``clients`` fixture (see ``conftest.py``), which runs it once with
:class:`~sangraha_client.Client` and once with :class:`~sangraha_client.AsyncClient`. The
async client lives in one event loop per test (an :class:`asyncio.Runner`): each call is
awaited there, and what comes back (a client from ``with_options``, a page, a stream) is
seen through the same interface. The forms only the async client has (``async for``,
``async with``, async iterables of chunks) are tested directly, in ``test_client.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Literal, cast

import httpx

from sangraha_client import AsyncClient, AsyncObjectStream, AsyncPage, AsyncPaginator, Client

__all__ = ["KINDS", "Clients", "Kind"]

Kind = Literal["sync", "async"]
KINDS: list[Kind] = ["sync", "async"]

_WRAPPED = (AsyncClient, AsyncPage, AsyncObjectStream)


async def _first_page(paginator: AsyncPaginator[Any]) -> AsyncPage[Any]:
    return await paginator


class _Blocking:
    """An async client, page or stream whose calls block until the loop has run them."""

    _target: Any
    _runner: asyncio.Runner

    def __init__(self, target: object, runner: asyncio.Runner) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_runner", runner)

    def _wrap(self, result: Any) -> Any:
        if isinstance(result, AsyncPaginator):
            # A listing is awaited for its first page, as the sync client returns it.
            result = self._runner.run(_first_page(result))
        if inspect.iscoroutine(result):
            result = self._runner.run(result)
        if isinstance(result, _WRAPPED):
            return _Blocking(result, self._runner)
        if isinstance(result, contextlib.AbstractAsyncContextManager):
            return _BlockingContext(result, self._runner)
        if isinstance(result, AsyncIterator):
            return iter([self._wrap(item) for item in self._collect(result)])
        return result

    def _collect(self, iterable: Any) -> list[Any]:
        async def collect() -> list[Any]:
            return [item async for item in iterable]

        return self._runner.run(collect())

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        return lambda *args, **kwargs: self._wrap(value(*args, **kwargs))

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._collect(self._target))

    def __enter__(self) -> _Blocking:
        self._runner.run(self._target.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._runner.run(self._target.__aexit__(exc_type, exc, tb))


class _BlockingContext:
    def __init__(
        self, context: contextlib.AbstractAsyncContextManager[Any], runner: asyncio.Runner
    ) -> None:
        self._context = context
        self._runner = runner

    def __enter__(self) -> Any:
        return _Blocking(self._runner.run(self._context.__aenter__()), self._runner)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self._runner.run(self._context.__aexit__(exc_type, exc, tb))


class Clients:
    """Makes clients of one kind; none of them sleeps, each wait is recorded in ``slept``."""

    def __init__(self, kind: Kind, runner: asyncio.Runner) -> None:
        self.kind = kind
        self.runner = runner
        self.slept: list[float] = []

    def __call__(
        self,
        *,
        transport: httpx.MockTransport,
        base_url: str = "http://sangraha.test",
        write_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 2,
    ) -> Client:
        options: dict[str, Any] = {
            "base_url": base_url,
            "write_url": write_url,
            "api_key": api_key,
            "max_retries": max_retries,
            "transport": transport,
        }
        if self.kind == "sync":
            client = Client(**options)
            client._sleep = self.slept.append  # type: ignore[method-assign, assignment]
            return client
        aclient = AsyncClient(**options)

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        aclient._sleep = sleep  # type: ignore[method-assign]
        return cast(Client, _Blocking(aclient, self.runner))
