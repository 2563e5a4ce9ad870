"""A request body, read on the event loop and handed to a worker thread block by block.

The core's write path is synchronous (blob stores and drivers block), so it runs in a
thread; the body arrives on the event loop. ``BodyReader.blocks`` is a plain iterator the
thread consumes: each step hops back to the loop for the next block. Only one block is in
flight at a time, so memory stays flat whatever the upload's size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio.from_thread

from sangraha_core import CHUNK_SIZE

__all__ = ["BodyReader"]


class BodyReader:
    """Gather an ASGI body stream into blocks of about ``block_size`` bytes.

    Small network chunks are gathered so the thread hops to the loop once per block, not
    once per packet. A client that goes away raises ``ClientDisconnect`` out of ``blocks``,
    inside the blob store's write, which then keeps nothing.
    """

    def __init__(self, stream: AsyncIterator[bytes], *, block_size: int = CHUNK_SIZE) -> None:
        self._stream = stream
        self._block_size = block_size
        self._done = False

    async def read_block(self) -> bytes:
        """The next block; ``b""`` once the body is over."""
        parts: list[bytes] = []
        size = 0
        while size < self._block_size and not self._done:
            try:
                chunk = await anext(self._stream)
            except StopAsyncIteration:
                self._done = True
                break
            if chunk:
                parts.append(chunk)
                size += len(chunk)
        return b"".join(parts)

    async def read_all(self) -> list[bytes]:
        """The rest of the body as a list of blocks, for a body known to be small."""
        blocks: list[bytes] = []
        while block := await self.read_block():
            blocks.append(block)
        return blocks

    def blocks(self) -> Iterator[bytes]:
        """The body as blocks; to be consumed in a thread started by ``anyio.to_thread``."""
        while True:
            block = anyio.from_thread.run(self.read_block)
            if not block:
                return
            yield block
