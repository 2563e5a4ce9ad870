"""Pages of a listing that fetch the pages after them while you iterate.

The sync client's ``list_objects`` returns its first :class:`SyncPage`; the async one
returns an :class:`AsyncPaginator`, which is both awaitable (for that first page) and
async-iterable (for every item), since ``async for`` cannot await the call it walks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["AsyncPage", "AsyncPaginator", "SyncPage"]

T = TypeVar("T")


class SyncPage(Generic[T]):
    """One page of results. Iterating it yields every item of this and all later pages."""

    def __init__(
        self,
        items: list[T],
        next_cursor: str | None,
        fetch: Callable[[str], SyncPage[T]],
    ) -> None:
        self.items = items
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    def get_next_page(self) -> SyncPage[T]:
        if self.next_cursor is None:
            raise RuntimeError("this is the last page; check has_next_page() first")
        return self._fetch(self.next_cursor)

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        page: SyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = page.get_next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.items

    def __repr__(self) -> str:
        return f"SyncPage(items={len(self.items)}, next_cursor={self.next_cursor!r})"


class AsyncPage(Generic[T]):
    """One page of results. ``async for`` yields every item of this and all later pages."""

    def __init__(
        self,
        items: list[T],
        next_cursor: str | None,
        fetch: Callable[[str], Awaitable[AsyncPage[T]]],
    ) -> None:
        self.items = items
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    async def get_next_page(self) -> AsyncPage[T]:
        if self.next_cursor is None:
            raise RuntimeError("this is the last page; check has_next_page() first")
        return await self._fetch(self.next_cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = await page.get_next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item

    def __repr__(self) -> str:
        return f"AsyncPage(items={len(self.items)}, next_cursor={self.next_cursor!r})"


class AsyncPaginator(Generic[T]):
    """A listing not fetched yet: ``await`` it for its first :class:`AsyncPage`, or
    ``async for`` over it for every item of every page.

    Nothing is sent until it is awaited or iterated, and each time it is, the listing
    starts again from its first page.
    """

    def __init__(self, fetch: Callable[[str | None], Coroutine[Any, Any, AsyncPage[T]]]) -> None:
        self._fetch = fetch

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._fetch(None).__await__()

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        first = await self._fetch(None)
        async for page in first.iter_pages():
            yield page

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item

    def __repr__(self) -> str:
        return "AsyncPaginator()"
