"""A request body, read on the event loop and handed to a worker thread batch by batch.

The core's write path is synchronous (blob stores and drivers block), so it runs in a
thread; the body arrives on the event loop. ``BodyReader.blocks`` is a plain iterator the
thread consumes: it hops back to the loop for the next batch of the body's pieces. Only
one batch is in flight at a time, so memory stays flat whatever the upload's size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio.from_thread

from .._constants import CHUNK_SIZE

__all__ = ["BodyReader"]


class BodyReader:
    """Gather an ASGI body stream into batches of about ``block_size`` bytes.

    A batch is a list of the pieces as the server received them, never joined: joining
    copied every byte once more into a fresh buffer, a sixth of the server's CPU in a
    2 GiB chunked upload. Batching still means the thread hops to the loop once per
    ``block_size``, not once per packet. A client that goes away raises
    ``ClientDisconnect`` out of ``blocks``, inside the blob store's write, which then keeps
    nothing.
    """

    def __init__(self, stream: AsyncIterator[bytes], *, block_size: int = CHUNK_SIZE) -> None:
        self._stream = stream
        self._block_size = block_size
        self._done = False

    async def read_batch(self) -> list[bytes]:
        """The next pieces, about ``block_size`` bytes in all; ``[]`` once the body is over."""
        pieces: list[bytes] = []
        size = 0
        while size < self._block_size and not self._done:
            try:
                chunk = await anext(self._stream)
            except StopAsyncIteration:
                self._done = True
                break
            if chunk:
                pieces.append(chunk)
                size += len(chunk)
        return pieces

    async def read_all(self) -> list[bytes]:
        """The rest of the body as a list of pieces, for a body known to be small."""
        pieces: list[bytes] = []
        while batch := await self.read_batch():
            pieces.extend(batch)
        return pieces

    def blocks(self) -> Iterator[bytes]:
        """The body's pieces, in order; to be consumed in a thread started by
        ``anyio.to_thread``."""
        while batch := anyio.from_thread.run(self.read_batch):
            yield from batch
