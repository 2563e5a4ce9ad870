"""Where the sync and async clients really differ: waiting, blocking work, overlapping calls.

:class:`~sangraha_client.AsyncClient` mixes in :class:`AsyncRuntime`, and the
:class:`~sangraha_client.Client` generated from it mixes in :class:`SyncRuntime`; every
other line of the two clients is the same text once ``scripts/unasync.py`` has taken the
``async`` out. So the pair here is the only code kept twice by hand, side by side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, ClassVar, ParamSpec, TypeVar

from ._content import Body, IterBody
from ._pagination import AsyncPage, AsyncPaginator, SyncPage

__all__ = ["AsyncRuntime", "SyncRuntime"]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


class AsyncRuntime:
    """Sleeps on the event loop, runs blocking work in a thread, overlaps calls as tasks."""

    #: Request bodies are streamed as async iterators (read by ``BaseClient``).
    _is_async: ClassVar[bool] = True

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _run_blocking(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        # Disk reads and hashing would stall every other task on the loop.
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _peek(self, body: Body) -> bytes:
        """The first bytes of ``body``, for guessing its content type."""
        if isinstance(body, IterBody):
            return await body.ahead()
        return await asyncio.to_thread(body.head)

    def _paginate(
        self, fetch: Callable[[str | None], Coroutine[Any, Any, AsyncPage[T]]]
    ) -> AsyncPaginator[T]:
        """A listing that ``await`` and ``async for`` both start; nothing is sent yet."""
        return AsyncPaginator(fetch)

    async def _map_concurrently(
        self, fn: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int
    ) -> list[R]:
        """``fn`` over ``items``, at most ``limit`` at a time; the results in order."""
        gate = asyncio.Semaphore(max(1, limit))

        async def run(item: T) -> R:
            async with gate:
                return await fn(item)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(run(item)) for item in items]
        except BaseExceptionGroup as failed:
            # Callers see the same single error the thread pool of the sync client raises.
            raise _first(failed) from None
        return [task.result() for task in tasks]


class SyncRuntime:
    """Sleeps the thread, runs blocking work in place, overlaps calls in a thread pool."""

    #: Request bodies are streamed as plain iterators (read by ``BaseClient``).
    _is_async: ClassVar[bool] = False

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _run_blocking(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return fn(*args, **kwargs)

    def _peek(self, body: Body) -> bytes:
        """The first bytes of ``body``, for guessing its content type."""
        return body.head()

    def _paginate(self, fetch: Callable[[str | None], SyncPage[T]]) -> SyncPage[T]:
        """The first page, fetched now: a plain ``for`` needs nothing more."""
        return fetch(None)

    def _map_concurrently(self, fn: Callable[[T], R], items: Sequence[T], limit: int) -> list[R]:
        """``fn`` over ``items``, at most ``limit`` at a time; the results in order."""
        with ThreadPoolExecutor(max_workers=max(1, min(limit, len(items)))) as pool:
            futures = [pool.submit(fn, item) for item in items]
            wait(futures, return_when=FIRST_EXCEPTION)
            # After the first failure nothing new starts; what already runs finishes.
            for future in futures:
                future.cancel()
            return [future.result() for future in futures]


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error in a task group's failure, however deeply it is nested."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
