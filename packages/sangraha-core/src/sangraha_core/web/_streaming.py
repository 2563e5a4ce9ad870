"""Streaming a blob store's chunks as a response body, for every service that serves bytes."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["BlobStreamResponse"]


class BlobStreamResponse(StreamingResponse):
    """Stream a blob store iterator, reading each chunk in a worker thread.

    The iterator is closed however the response ends (sent, client gone, cancelled), so
    the file or connection behind it is never left open.
    """

    def __init__(self, chunks: Iterator[bytes], *, status_code: int, headers: dict[str, str]):
        self._chunks = chunks
        super().__init__(iterate_in_threadpool(chunks), status_code=status_code, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                # Shielded: a cancelled request must still release what it holds.
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(close)
